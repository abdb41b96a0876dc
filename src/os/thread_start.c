/* A thread's handle and its start in one step (psum_os_thread_start), from the two the backends give. Platform-neutral. */
#include "os.h"

int psum_os_thread_start(psum_os_thread **out, void (*fn)(void *), void *arg)
{
    psum_os_thread *t;
    int err = psum_os_thread_new(&t);
    if (err)
        return err;
    err = psum_os_thread_run(t, fn, arg);
    if (err) {
        psum_os_thread_discard(t);
        return err;
    }
    *out = t;
    return 0;
}
