/*
 * Residency through PAGEMAP_SCAN (Linux 6.7): the kernel returns runs of
 * present pages instead of eight bytes for every page, which makes asking
 * about the pages of a large library much cheaper. The ABI is
 * spelled out here because older kernel headers (Debian 12's) lack it; on
 * a kernel without it the ioctl fails with ENOTTY and the caller falls
 * back to reading pagemap.
 *
 * Valgrind does not know this ioctl, so it takes the runs the kernel writes
 * for never written, and every decision on them for an error. Where its
 * headers were found at build time the runs are marked written (a no-op
 * outside valgrind); elsewhere a process run by valgrind (its preload
 * library in LD_PRELOAD) does without the scan and reads pagemap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../os.h"
#include "residency.h"

#ifdef PSUM_HAVE_VALGRIND_MEMCHECK_H
#include <valgrind/memcheck.h>
#define MARK_WRITTEN(p, len) VALGRIND_MAKE_MEM_DEFINED(p, len)
#define UNDER_VALGRIND_WITHOUT_HEADERS() false
#else
#define MARK_WRITTEN(p, len) ((void)(p), (void)(len))
static bool under_valgrind(void)
{
    const char *preload = getenv("LD_PRELOAD");
    return preload && strstr(preload, "vgpreload") != NULL;
}
#define UNDER_VALGRIND_WITHOUT_HEADERS() under_valgrind()
#endif

typedef struct scan_run {
    uint64_t start, end, categories;
} scan_run;

typedef struct scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
} scan_arg;

#define PAGEMAP_SCAN_IOCTL _IOWR('f', 16, scan_arg)
#define CATEGORY_PRESENT (1u << 3)
#define RUNS 256

int psum_linux_resident_scan_fd(int fd, uintptr_t addr, size_t npages, bool *resident)
{
    if (psum_linux_system_page_size() != PROCSUM_PAGE_SIZE)
        return PROCSUM_ENOSYS; /* runs come in system pages: keep to the simple case */
    if (UNDER_VALGRIND_WITHOUT_HEADERS())
        return PROCSUM_ENOSYS;
    memset(resident, 0, npages * sizeof(*resident));
    uintptr_t end = addr + npages * PROCSUM_PAGE_SIZE;
    scan_run runs[RUNS];
    for (uintptr_t at = addr; at < end;) {
        scan_arg arg = {
            .size = sizeof(arg),
            .start = at,
            .end = end,
            .vec = (uint64_t)(uintptr_t)runs,
            .vec_len = RUNS,
            .category_mask = CATEGORY_PRESENT,
            .return_mask = CATEGORY_PRESENT,
        };
        long n = ioctl(fd, PAGEMAP_SCAN_IOCTL, &arg);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == ENOTTY ? PROCSUM_ENOSYS : psum_os_last_error(); /* ENOTTY: no such ioctl here */
        MARK_WRITTEN(&arg, sizeof(arg));
        MARK_WRITTEN(runs, (size_t)(n < RUNS ? n : RUNS) * sizeof(runs[0]));
        for (long i = 0; i < n && i < RUNS; i++) {
            uint64_t from = runs[i].start < at ? at : runs[i].start;
            uint64_t to = runs[i].end > end ? end : runs[i].end;
            for (uint64_t p = from; p < to; p += PROCSUM_PAGE_SIZE)
                resident[(p - addr) / PROCSUM_PAGE_SIZE] = true;
        }
        /* The walk stops early only when the run buffer filled up: go on from there. */
        if (arg.walk_end <= at || arg.walk_end > end)
            break;
        at = (uintptr_t)arg.walk_end;
    }
    return 0;
}
