/*
 * Which copy of a file page a process sees. A private file mapping shows
 * the file's page-cache page until the page is written; the first write
 * (by the process, by ptrace or /proc/PID/mem, by a uprobe) gives the
 * process an anonymous copy of its own. pagemap tells them apart: bit 61 is
 * set for a file page (or shared anonymous memory), clear for a private
 * copy; bit 63 says the page is present at all; bits 0-54 are the
 * physical frame (zero unless the reader has CAP_SYS_ADMIN). Asked for
 * changed pages one entry at a time, and for whole regions by a checker
 * that shares page-cache digests with others (psum_os_page_frames).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "../os.h"
#include "page_copy.h"
#include "residency.h"
#include "target.h"

#define PAGEMAP_PRESENT (1ull << 63)
#define PAGEMAP_FILE_OR_SHARED (1ull << 61)
#define PAGEMAP_FRAME ((1ull << 55) - 1)
/* Entries read per call: 4 KiB on the stack. */
#define CHUNK 512u

procsum_copy psum_linux_copy_from_entry(uint64_t entry)
{
    if (!(entry & PAGEMAP_PRESENT))
        return PROCSUM_COPY_UNKNOWN;
    return (entry & PAGEMAP_FILE_OR_SHARED) ? PROCSUM_COPY_SHARED : PROCSUM_COPY_PRIVATE;
}

procsum_copy psum_os_page_copy(psum_os_target *t, uintptr_t addr)
{
    int fd = t ? psum_linux_target_pagemap(t) : -1;
    long page = sysconf(_SC_PAGESIZE);
    if (fd < 0 || page <= 0)
        return PROCSUM_COPY_UNKNOWN;
    uint64_t entry;
    off_t at = (off_t)(addr / (uintptr_t)page * sizeof(entry));
    ssize_t n;
    do
        n = pread(fd, &entry, sizeof(entry), at);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(entry) ? psum_linux_copy_from_entry(entry) : PROCSUM_COPY_UNKNOWN;
}

int psum_os_page_frames(psum_os_target *t, uintptr_t addr, size_t npages, bool *resident, bool *cached,
                        uint64_t *frame)
{
    if (addr % PROCSUM_PAGE_SIZE != 0 || npages > (UINTPTR_MAX - addr) / PROCSUM_PAGE_SIZE)
        return PROCSUM_EINVAL;
    /* One entry per system page: keep to the usual case where that is one of ours. */
    int fd = psum_linux_system_page_size() == PROCSUM_PAGE_SIZE ? psum_linux_target_pagemap(t) : -1;
    if (fd < 0)
        return PROCSUM_ENOSYS;
    uint64_t entries[CHUNK];
    for (size_t done = 0; done < npages;) {
        size_t n = npages - done < CHUNK ? npages - done : CHUNK;
        off_t at = (off_t)((addr / PROCSUM_PAGE_SIZE + done) * sizeof(uint64_t));
        ssize_t got;
        do
            got = pread(fd, entries, n * sizeof(uint64_t), at);
        while (got < 0 && errno == EINTR);
        if (got < 0)
            return psum_os_last_error();
        size_t have = (size_t)got / sizeof(uint64_t); /* short: beyond the address space, nothing mapped */
        memset(entries + have, 0, (n - have) * sizeof(uint64_t));
        for (size_t i = 0; i < n; i++) {
            uint64_t e = entries[i];
            resident[done + i] = (e & PAGEMAP_PRESENT) != 0;
            cached[done + i] = psum_linux_copy_from_entry(e) == PROCSUM_COPY_SHARED;
            frame[done + i] = resident[done + i] ? e & PAGEMAP_FRAME : 0;
        }
        done += n;
    }
    return 0;
}
