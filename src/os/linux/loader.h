/*
 * The loader's side of reading pages in place (loader.c): its counters of
 * objects added and removed, and a read inside its own listing, where no
 * object can be unloaded.
 */
#ifndef PSUM_LINUX_LOADER_H
#define PSUM_LINUX_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../os.h"

/* dl_phdr_info's dlpi_adds and dlpi_subs; known is false where the loader does not give them. */
typedef struct psum_linux_loader_counters {
    unsigned long long adds, subs;
    bool known;
} psum_linux_loader_counters;

/* The loader's counters now. */
psum_linux_loader_counters psum_linux_loader_counters_now(void);

/*
 * Runs use(ctx, addr) on [addr, addr + len) of region r in place, inside
 * dl_iterate_phdr and under the fault guard, if an object the loader lists
 * holds that range; listed are the counters taken when r was listed. Sets
 * *handled to false (and returns 0) when the range is not a loader object's
 * (a file the program mapped itself): the caller copies instead. Returns
 * PROCSUM_EFAULT when the range no longer holds r's bytes. Only for the
 * calling process, once the fork gate and the fault guard are ready.
 */
int psum_linux_loader_use(const psum_os_region *r, const psum_linux_loader_counters *listed, uintptr_t addr,
                          size_t len, psum_os_bytes_fn use, void *ctx, bool *handled);

#endif
