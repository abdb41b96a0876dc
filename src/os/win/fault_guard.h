/* What pages.c needs from fault_guard.c. */
#ifndef PSUM_WIN_FAULT_GUARD_H
#define PSUM_WIN_FAULT_GUARD_H

#include "win.h"

/*
 * Runs use(ctx, bytes) so that an access violation (or an in-page error)
 * on [start, end) in this thread ends it with PROCSUM_EFAULT instead of
 * the process; any other exception goes on to whoever handles it.
 * Returns what use returns, PROCSUM_EFAULT after such a fault, or 1 when
 * no guard can be set up here (use was not called: read a copy).
 */
int psum_win_guarded_use(uintptr_t start, uintptr_t end, psum_os_bytes_fn use, void *ctx, const uint8_t *bytes);

#endif
