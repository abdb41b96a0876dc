/*
 * follow_fork. The platform calls our handlers around fork(), the prepare
 * handler inside the fork gate (os.h: psum_os_at_fork). The registry is
 * changed only inside the gate too, so a fork never sees a half-made
 * change, and the fork's handlers read it without a lock: nothing here is
 * written in a fork, so its pages stay shared with the child. A spin lock
 * of one atomic flag orders threads that change it.
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
#include "fork_path.h"

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

/* Enters the gate, then takes the registry: every change is made whole between two forks. */
static void lock(void)
{
    psum_os_fork_gate_enter();
    while (atomic_flag_test_and_set_explicit(&registry_lock, memory_order_acquire))
        ;
}

static void unlock(void)
{
    atomic_flag_clear_explicit(&registry_lock, memory_order_release);
    psum_os_fork_gate_leave();
}

/* Before fork, inside the gate: each child's checker is made ready. */
PSUM_FORK_PATH static void before_fork(void)
{
    for (size_t i = 0; i < followed_count; i++)
        followed[i].prepare(followed[i].followed);
}

/*
 * In the child: the registry is the parent's until each restart changes
 * its entry (psum_fork_replace, psum_fork_unfollow), now or later; until
 * then a fork in the child prepares and restarts the parent's entries, as
 * its parent's fork did. A restart changes no entry but its own.
 */
PSUM_FORK_PATH static void child_after_fork(void)
{
    /* From the end: a restart that removes its entry moves the last one, already restarted, into its place. */
    for (size_t i = followed_count; i-- > 0;)
        followed[i].restart(followed[i].followed);
}

int psum_fork_follow(void *c, psum_fork_prepare_fn prepare, psum_fork_restart_fn restart)
{
    if (!atomic_exchange(&handlers_installed, true)) {
        int err = psum_os_at_fork(before_fork, NULL, child_after_fork);
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

void psum_fork_replace(void *old, void *now)
{
    lock();
    for (size_t i = 0; i < followed_count; i++) {
        if (followed[i].followed == old) {
            followed[i].followed = now;
            break;
        }
    }
    unlock();
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
