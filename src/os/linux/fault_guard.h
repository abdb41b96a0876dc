/*
 * The fault guard (fault_guard.c): runs use(ctx, start) so that a SIGSEGV
 * or SIGBUS on this thread inside [start, start + len) makes it return
 * PROCSUM_EFAULT instead of killing the process.
 */
#ifndef PSUM_LINUX_FAULT_GUARD_H
#define PSUM_LINUX_FAULT_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../os.h"

/* Installs the handler on first call; true while it is the one the kernel calls. */
bool psum_linux_fault_guard_ready(void);
/* Checks again that the guard's handler is still the one the kernel calls (before each pass). */
void psum_linux_fault_guard_recheck(void);
/* Only once psum_linux_fault_guard_ready() said true. */
int psum_linux_guarded_use(uintptr_t start, size_t len, psum_os_bytes_fn use, void *ctx);

#endif
