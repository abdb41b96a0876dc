/*
 * Which copy of an image page a process sees. An image section's pages are
 * shared with every process that maps the image until one writes them
 * (copy on write); QueryWorkingSetEx's Shared bit tells the two apart for a
 * page in the working set.
 */
#include "win.h"

#include <psapi.h>

procsum_copy psum_os_page_copy(psum_os_target *t, uintptr_t addr)
{
    (void)t; /* the calling process: the only target this backend checks */
    PSAPI_WORKING_SET_EX_INFORMATION info;
    info.VirtualAddress = (void *)addr;
    if (!K32QueryWorkingSetEx(GetCurrentProcess(), &info, sizeof(info)) || !info.VirtualAttributes.Valid)
        return PROCSUM_COPY_UNKNOWN;
    return info.VirtualAttributes.Shared ? PROCSUM_COPY_SHARED : PROCSUM_COPY_PRIVATE;
}

int psum_os_page_frames(psum_os_target *t, uintptr_t addr, size_t npages, bool *resident, bool *cached,
                        uint64_t *frame)
{
    /* One process only on this backend: nothing to share a page's digest with. */
    (void)t, (void)addr, (void)npages, (void)resident, (void)cached, (void)frame;
    return PROCSUM_ENOSYS;
}
