/*
 * Tables in memory procsum maps itself (psum_os_map), grown by copying.
 * Platform-neutral. Procsum's tables (baselines, region lists, scratch)
 * live here rather than in the program's allocator: a forked child's
 * checker grows and frees them even if another thread of the parent held
 * the allocator's lock at the fork (docs/internals.md).
 */
#include <string.h>

#include "os.h"

/* Bytes a table of cap items takes; 0 on overflow. */
static size_t table_bytes(size_t cap, size_t item_size)
{
    if (cap > (SIZE_MAX - PROCSUM_PAGE_SIZE) / item_size)
        return 0;
    size_t bytes = cap * item_size;
    return (bytes + PROCSUM_PAGE_SIZE - 1) / PROCSUM_PAGE_SIZE * PROCSUM_PAGE_SIZE;
}

int psum_os_table_grow(void **items, size_t *cap, size_t want, size_t item_size)
{
    if (want <= *cap)
        return 0;
    size_t n = *cap ? *cap : 1;
    while (n < want) {
        if (n > SIZE_MAX / 2)
            return PROCSUM_ENOMEM;
        n *= 2;
    }
    size_t bytes = table_bytes(n, item_size);
    if (bytes == 0)
        return PROCSUM_ENOMEM;
    void *grown;
    int err = psum_os_map(bytes, &grown);
    if (err)
        return err;
    if (*cap)
        memcpy(grown, *items, *cap * item_size);
    psum_os_table_free(items, cap, item_size);
    *items = grown;
    *cap = bytes / item_size;
    return 0;
}

void psum_os_table_free(void **items, size_t *cap, size_t item_size)
{
    if (*items && *cap)
        psum_os_unmap(*items, table_bytes(*cap, item_size));
    *items = NULL;
    *cap = 0;
}
