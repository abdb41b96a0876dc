/* Memory procsum maps itself (os.h: psum_os_map), and no allocator's. */
#include <sys/mman.h>

#include "../os.h"

int psum_os_map(size_t bytes, void **out)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return PROCSUM_ENOMEM;
    *out = p;
    return 0;
}

void psum_os_unmap(void *p, size_t bytes)
{
    if (p)
        (void)munmap(p, bytes);
}
