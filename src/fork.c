/*
 * follow_fork. The platform calls our handlers around fork(); the registry
 * is guarded by a spin lock made of one atomic flag, so that the child can
 * release it whatever state the other threads left it in.
 *
 * Between fork() and the end of its child handler nothing here allocates or
 * takes a lock that another thread of the parent could have held: the C
 * library's allocator is safe around fork, but not every allocator is
 * (AddressSanitizer's is not). Whatever a child's checker needs is made in
 * the prepare handler, in the parent, where allocating is as safe as
 * anywhere.
 */
#include "fork.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "os/os.h"
#include "procsum.h"

#define MAX_FOLLOWED 64

static atomic_flag registry_lock = ATOMIC_FLAG_INIT;
typedef struct followed_entry {
    void *followed;
    psum_fork_prepare_fn prepare;
    psum_fork_restart_fn restart;
} followed_entry;

static followed_entry followed[MAX_FOLLOWED];
static size_t followed_count;
static atomic_bool handlers_installed;

static void lock(void)
{
    while (atomic_flag_test_and_set_explicit(&registry_lock, memory_order_acquire))
        ;
}

static void unlock(void)
{
    atomic_flag_clear_explicit(&registry_lock, memory_order_release);
}

/* Before fork: no registry change may be half done in the child, and each child's checker is ready to run. */
static void before_fork(void)
{
    lock();
    for (size_t i = 0; i < followed_count; i++)
        followed[i].prepare(followed[i].followed);
}

static void parent_after_fork(void)
{
    unlock();
}

static void child_after_fork(void)
{
    followed_entry parents[MAX_FOLLOWED];
    size_t n = followed_count;
    for (size_t i = 0; i < n; i++)
        parents[i] = followed[i];
    /* The parents' checkers do not run here: the registry starts over with their children. */
    followed_count = 0;
    unlock();
    for (size_t i = 0; i < n; i++)
        parents[i].restart(parents[i].followed);
}

int psum_fork_follow(void *c, psum_fork_prepare_fn prepare, psum_fork_restart_fn restart)
{
    if (!atomic_exchange(&handlers_installed, true)) {
        int err = psum_os_at_fork(before_fork, parent_after_fork, child_after_fork);
        if (err) {
            atomic_store(&handlers_installed, false);
            return err;
        }
    }
    lock();
    int err = followed_count < MAX_FOLLOWED ? 0 : PROCSUM_ENOMEM;
    if (!err)
        followed[followed_count++] = (followed_entry){c, prepare, restart};
    unlock();
    return err;
}

void psum_fork_unfollow(void *c)
{
    lock();
    for (size_t i = 0; i < followed_count; i++) {
        if (followed[i].followed == c) {
            followed[i] = followed[--followed_count];
            break;
        }
    }
    unlock();
}
