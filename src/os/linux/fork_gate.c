/*
 * The fork gate. fork() copies one thread; any lock another thread held at
 * that instant stays held in the child for ever. The C library makes its
 * own malloc safe around fork, but not every allocator is (the
 * AddressSanitizer one is not), and the loader's lock is taken by
 * dl_iterate_phdr. So procsum's threads hold the gate while they work (a
 * slice, a listing of mappings), and fork takes it first: a fork waits until
 * the checker is between two steps, so the child never inherits a lock the
 * checker held. The checker runs at the lowest priority, so on a busy
 * machine the wait may last as long as it takes the checker to be scheduled
 * again.
 *
 * The wait is bounded (10 s) for one case: a thread that forks while itself
 * holding the loader's lock (from a library constructor), which the checker
 * may be waiting for inside the gate; that thread's own lock is then the
 * only one held, and it lives on in the child.
 */
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "../os.h"
#include "fork_gate.h"

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t gate_once = PTHREAD_ONCE_INIT;
static bool gate_ready;
static _Thread_local unsigned depth;            /* this thread's nested entries */
static _Thread_local bool gate_taken_for_fork;

static void before_fork(void)
{
    if (depth > 0)
        return; /* forking from inside the gate: this thread already keeps everyone else out */
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    gate_taken_for_fork = pthread_mutex_timedlock(&gate, &deadline) == 0;
}

static void parent_after_fork(void)
{
    if (gate_taken_for_fork)
        pthread_mutex_unlock(&gate);
    gate_taken_for_fork = false;
}

static void child_after_fork(void)
{
    if (gate_taken_for_fork)
        pthread_mutex_unlock(&gate);
    else if (depth == 0)
        pthread_mutex_init(&gate, NULL); /* whoever held it does not exist here */
    gate_taken_for_fork = false;
}

static void install(void)
{
    gate_ready = pthread_atfork(before_fork, parent_after_fork, child_after_fork) == 0;
}

bool psum_linux_fork_gate_ready(void)
{
    pthread_once(&gate_once, install);
    return gate_ready;
}

void psum_os_fork_gate_enter(void)
{
    if (depth++ == 0 && psum_linux_fork_gate_ready())
        pthread_mutex_lock(&gate);
}

void psum_os_fork_gate_leave(void)
{
    if (depth > 0 && --depth == 0 && gate_ready)
        pthread_mutex_unlock(&gate);
}
