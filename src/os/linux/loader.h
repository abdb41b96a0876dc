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

/*
 * Where the objects holding recent ranges were, by their file (loader.c says
 * how a hint is used). Kept by whoever reads, one set per target: thread-local
 * storage would make libprocsum too big to be loaded with dlopen, which
 * gives an object little static TLS.
 */
#define PSUM_LINUX_LOADER_HINTS 64
typedef struct psum_linux_object_hint {
    uint64_t dev, ino;
    uintptr_t base;
    const void *phdr; /* the object's program headers, as the loader lists them */
} psum_linux_object_hint;
typedef struct psum_linux_loader_hints {
    psum_linux_object_hint items[PSUM_LINUX_LOADER_HINTS];
    size_t next;
} psum_linux_loader_hints;

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
int psum_linux_loader_use(const psum_os_region *r, const psum_linux_loader_counters *listed,
                          psum_linux_loader_hints *hints, uintptr_t addr, size_t len, psum_os_bytes_fn use, void *ctx,
                          bool *handled);

#endif
