/* The fork gate's state (fork_gate.c); entering and leaving it are in os.h. */
#ifndef PSUM_LINUX_FORK_GATE_H
#define PSUM_LINUX_FORK_GATE_H

#include <stdbool.h>

/* Whether fork() waits for the fork gate (its handlers are installed). */
bool psum_linux_fork_gate_ready(void);

#endif
