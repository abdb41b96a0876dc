/* follow_fork: the registry of checkers to restart in a forked child. */
#ifndef PSUM_FORK_H
#define PSUM_FORK_H

/*
 * Called in the parent, in fork()'s prepare handler, for each followed
 * object: where whatever the child will need is allocated, since the child
 * may inherit an allocator's lock held by another thread of the parent.
 */
typedef void (*psum_fork_prepare_fn)(void *followed);
/*
 * Called in the child, right after fork, for each followed object; must
 * not allocate. The child's registry holds the parent's entries: restart
 * replaces its own (psum_fork_replace) or removes it, at once or later.
 */
typedef void (*psum_fork_restart_fn)(void *followed);

/*
 * Adds `followed` to what is restarted in every forked child: prepare(followed)
 * before each fork, restart(followed) in the child after it. Allocates
 * only the first time (the platform's fork handlers), never in a child.
 */
int psum_fork_follow(void *followed, psum_fork_prepare_fn prepare, psum_fork_restart_fn restart);
/* In the entry of `old`, follows `now` instead, with the same functions (a child's checker takes over from its parent's). */
void psum_fork_replace(void *old, void *now);
/* Removes it (procsum_stop); once this returns, neither function runs for it again. */
void psum_fork_unfollow(void *followed);

#endif
