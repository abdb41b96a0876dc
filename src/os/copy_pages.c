/* The copying way of handing pages over (psum_os_use_pages), for what cannot be read in place. Platform-neutral. */
#include "os.h"

int psum_os_copy_then_use(psum_os_target *t, uintptr_t addr, size_t npages, const bool *want, void *buf,
                          psum_os_bytes_fn use, void *ctx)
{
    uint8_t *pages = buf;
    for (size_t i = 0; i < npages;) {
        if (want && !want[i]) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < npages && (!want || want[j]))
            j++;
        int err = psum_os_read(t, addr + i * PROCSUM_PAGE_SIZE, pages + i * PROCSUM_PAGE_SIZE, (j - i) * PROCSUM_PAGE_SIZE);
        if (err)
            return err;
        i = j;
    }
    return use(ctx, pages);
}
