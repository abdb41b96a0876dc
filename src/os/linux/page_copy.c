/*
 * Which copy of a file page a process sees. A private file mapping shows
 * the file's page-cache page until the page is written; the first write
 * (by the process, by ptrace or /proc/PID/mem, by a uprobe) gives the
 * process an anonymous copy of its own. pagemap tells them apart: bit 61 is
 * set for a file page (or shared anonymous memory), clear for a private
 * copy; bit 63 says the page is present at all. Asked only for changed
 * pages, one entry at a time.
 */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "../os.h"
#include "page_copy.h"
#include "target.h"

#define PAGEMAP_PRESENT (1ull << 63)
#define PAGEMAP_FILE_OR_SHARED (1ull << 61)

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
