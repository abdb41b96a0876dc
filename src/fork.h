/* follow_fork: the registry of checkers to restart in a forked child. */
#ifndef PSUM_FORK_H
#define PSUM_FORK_H

/* Called in the child, right after fork, for each followed object. */
typedef void (*psum_fork_restart_fn)(void *followed);

/* Adds `followed` to what is restarted in every forked child, by calling restart(followed). */
int psum_fork_follow(void *followed, psum_fork_restart_fn restart);
/* Removes it (procsum_stop). */
void psum_fork_unfollow(void *followed);

#endif
