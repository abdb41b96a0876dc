/* follow_fork: the registry of checkers to restart in a forked child. */
#ifndef PSUM_FORK_H
#define PSUM_FORK_H

#include "procsum.h"

/* Adds c to the checkers restarted in every forked child. */
int psum_fork_follow(procsum_checker *c);
/* Removes it (procsum_stop). */
void psum_fork_unfollow(procsum_checker *c);

/* Defined by the checker: starts, in the child, a checker continuing parent's. */
void psum_checker_restart_in_child(procsum_checker *parent);

#endif
