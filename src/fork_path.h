/*
 * Code that runs in every fork, in the parent or in the child. A child's
 * page tables start without the pages of code, and each page of code it
 * runs is a page fault: a fork/exec-heavy script pays them in every fork
 * (bench/preload/preload_cost.sh). Marked hot, these functions are placed
 * together by the compiler and the linker (.text.hot), on one or two
 * pages instead of one page each.
 */
#ifndef PSUM_FORK_PATH_H
#define PSUM_FORK_PATH_H

#define PSUM_FORK_PATH __attribute__((hot))

#endif
