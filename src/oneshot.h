/* One listing and hashing pass without a checker (procsum_benchmark, procsum_list_regions). */
#ifndef PSUM_ONESHOT_H
#define PSUM_ONESHOT_H

#include <stddef.h>
#include <stdint.h>

#include "procsum.h"

typedef struct psum_oneshot_result {
    uint64_t scan_ns;      /* listing the regions */
    uint64_t hash_ns;      /* reading and hashing them once */
    uint64_t hashed_bytes; /* bytes really read */
    procsum_region *regions; /* selected regions with their digests; sources owned */
    size_t region_count;
} psum_oneshot_result;

/* Options must be valid (the API checks them). */
int psum_oneshot(const procsum_options *o, psum_oneshot_result *out);
/* Frees an array of regions whose sources the library allocated; regions may be NULL. */
void psum_region_array_free(procsum_region *regions, size_t count);

#endif
