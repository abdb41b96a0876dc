/* Memory procsum maps itself (os.h: psum_os_map), and no allocator's. */
#include "win.h"

int psum_os_map(size_t bytes, void **out)
{
    void *p = VirtualAlloc(NULL, bytes, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (!p)
        return PROCSUM_ENOMEM;
    *out = p;
    return 0;
}

void psum_os_unmap(void *p, size_t bytes)
{
    (void)bytes; /* a whole reservation is released at once */
    if (p)
        (void)VirtualFree(p, 0, MEM_RELEASE);
}
