/*
 * Page residency of a Linux process.
 *
 * Residency asks the page tables, not the page cache: a file page that is
 * cached but not mapped in the target is "not resident", because reading it
 * (process_vm_readv pins it with get_user_pages) maps it into the target and
 * grows its RSS, and fault-around maps up to 64 KiB of cached neighbours
 * with it. /proc/PID/pagemap's present bit answers exactly that question,
 * for any user. mincore() does not: for a file the caller neither owns nor
 * may write (every shared library of an unprivileged process) the kernel
 * reports every page resident, and for other files it reports the page
 * cache. So pagemap comes first for every target, the calling process
 * included; mincore is the fallback for the calling process when pagemap
 * cannot be read (no /proc, a non-dumpable process), and "all resident" the
 * last resort.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../os.h"
#include "errors.h"
#include "residency.h"
#include "target.h"

/* System pages asked about per call: 4 KiB of pagemap entries on the stack. */
#define CHUNK 1024u

/* Asked once: residency is asked for every region of every pass. 0 until known. */
static atomic_size_t page_size_cache;

size_t psum_linux_system_page_size(void)
{
    size_t known = atomic_load_explicit(&page_size_cache, memory_order_relaxed);
    if (known)
        return known;
    long n = sysconf(_SC_PAGESIZE);
    /* A system page that is not a power of two at least ours does not exist on Linux; stay safe anyway. */
    bool usable = n >= (long)PROCSUM_PAGE_SIZE && (n & (n - 1)) == 0;
    known = usable ? (size_t)n : PROCSUM_PAGE_SIZE;
    atomic_store_explicit(&page_size_cache, known, memory_order_relaxed);
    return known;
}

static bool range_ok(uintptr_t addr, size_t npages, const bool *resident)
{
    if (addr % PROCSUM_PAGE_SIZE != 0 || (npages && !resident))
        return false;
    if (npages > (UINTPTR_MAX - addr) / PROCSUM_PAGE_SIZE)
        return false;
    return true;
}

/*
 * Walks [addr, addr + npages pages) one chunk of system pages at a time:
 * query(first system page, count, flags) fills flags[0..count) with 0/1,
 * then each of our pages takes the flag of the system page it lies in.
 */
typedef int (*query_fn)(void *ctx, uintptr_t first_sys_page, size_t count, unsigned char *flags);

static int walk_chunks(uintptr_t addr, size_t npages, bool *resident, query_fn query, void *ctx)
{
    /* A power of two: shifts, not a division for every page. */
    unsigned shift = (unsigned)__builtin_ctzl(psum_linux_system_page_size());
    unsigned char flags[CHUNK];
    uintptr_t last_sys = (addr + (npages - 1) * PROCSUM_PAGE_SIZE) >> shift;
    for (size_t i = 0; i < npages;) {
        uintptr_t first = (addr + i * PROCSUM_PAGE_SIZE) >> shift;
        size_t count = last_sys - first + 1 < CHUNK ? (size_t)(last_sys - first + 1) : CHUNK;
        int err = query(ctx, first, count, flags);
        if (err)
            return err;
        for (; i < npages; i++) {
            uintptr_t sp = (addr + i * PROCSUM_PAGE_SIZE) >> shift;
            if (sp >= first + count)
                break;
            resident[i] = flags[sp - first] != 0;
        }
    }
    return 0;
}

static int pagemap_query(void *ctx, uintptr_t first, size_t count, unsigned char *flags)
{
    int fd = *(int *)ctx;
    uint64_t entries[CHUNK];
    size_t want = count * sizeof(uint64_t), done = 0;
    /* Entry i of pagemap describes virtual page i; the offset is at most 2^55 on 64-bit systems. */
    off_t at = (off_t)((uint64_t)first * sizeof(uint64_t));
    while (done < want) {
        ssize_t n = pread(fd, (char *)entries + done, want - done, at + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return psum_os_last_error();
        if (n == 0)
            break; /* beyond the address space: nothing mapped there */
        done += (size_t)n;
    }
    size_t have = done / sizeof(uint64_t);
    for (size_t k = 0; k < count; k++)
        flags[k] = k < have && (entries[k] >> 63) & 1u;
    return 0;
}

/*
 * Opened per call by the strategies on their own: "self" then always is the
 * caller, also in a child after fork (a pagemap descriptor stays bound to
 * the address space it was opened on).
 */
static int open_pagemap(long pid)
{
    char path[64];
    if (pid == 0)
        snprintf(path, sizeof(path), "%s/pagemap", psum_linux_proc_self());
    else
        snprintf(path, sizeof(path), "/proc/%ld/pagemap", pid);
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return psum_linux_proc_error(pid);
    return fd;
}

static int pagemap_read_fd(int fd, uintptr_t addr, size_t npages, bool *resident)
{
    return walk_chunks(addr, npages, resident, pagemap_query, &fd);
}

/* A strategy that asks an open pagemap, run on the pid's own pagemap. */
static int with_pagemap(long pid, uintptr_t addr, size_t npages, bool *resident,
                        int (*strategy)(int fd, uintptr_t addr, size_t npages, bool *resident))
{
    if (pid < 0 || !range_ok(addr, npages, resident))
        return PROCSUM_EINVAL;
    if (npages == 0)
        return 0;
    int fd = open_pagemap(pid);
    if (fd < 0)
        return fd;
    int err = strategy(fd, addr, npages, resident);
    close(fd);
    return err;
}

int psum_linux_resident_pagemap(long pid, uintptr_t addr, size_t npages, bool *resident)
{
    return with_pagemap(pid, addr, npages, resident, pagemap_read_fd);
}

int psum_linux_resident_scan(long pid, uintptr_t addr, size_t npages, bool *resident)
{
    return with_pagemap(pid, addr, npages, resident, psum_linux_resident_scan_fd);
}

static int mincore_query(void *ctx, uintptr_t first, size_t count, unsigned char *flags)
{
    size_t sys = *(size_t *)ctx;
    void *start = (void *)(first * sys);
    if (mincore(start, count * sys, flags) == 0) {
        for (size_t k = 0; k < count; k++)
            flags[k] &= 1u; /* the other bits are reserved */
        return 0;
    }
    if (errno != ENOMEM)
        return psum_os_last_error();
    /* Part of the range is unmapped: ask page by page, unmapped ones are not resident. */
    for (size_t k = 0; k < count; k++) {
        unsigned char v = 0;
        if (mincore((char *)start + k * sys, sys, &v) == 0)
            flags[k] = v & 1u;
        else if (errno == ENOMEM)
            flags[k] = 0;
        else
            return psum_os_last_error();
    }
    return 0;
}

int psum_linux_resident_mincore(uintptr_t addr, size_t npages, bool *resident)
{
    if (!range_ok(addr, npages, resident))
        return PROCSUM_EINVAL;
    if (npages == 0)
        return 0;
    size_t sys = psum_linux_system_page_size();
    return walk_chunks(addr, npages, resident, mincore_query, &sys);
}

/* Set once PAGEMAP_SCAN turned out not to exist here. */
static atomic_bool no_scan;

int psum_os_resident(psum_os_target *t, uintptr_t addr, size_t npages, bool *resident)
{
    if (!t || !range_ok(addr, npages, resident))
        return PROCSUM_EINVAL;
    if (npages == 0)
        return 0;
    long pid = t->pid;
    int fd = psum_linux_target_pagemap(t);
    /*
     * Another process's residency has no other source: without its pagemap
     * (0400, its owner's: another user's needs CAP_DAC_READ_SEARCH) every
     * page would be read, and reading a page that is not in memory brings it
     * in. Refused, as the rest of what that process hides.
     */
    if (fd < 0 && pid != 0)
        return psum_linux_proc_error(pid);
    if (fd >= 0 && !atomic_load_explicit(&no_scan, memory_order_relaxed)) {
        int err = psum_linux_resident_scan_fd(fd, addr, npages, resident);
        if (err == 0)
            return 0;
        if (err == PROCSUM_ENOSYS)
            atomic_store_explicit(&no_scan, true, memory_order_relaxed); /* an older kernel: not asked again */
    }
    if (fd >= 0 && pagemap_read_fd(fd, addr, npages, resident) == 0)
        return 0;
    if (pid == 0 && psum_linux_resident_mincore(addr, npages, resident) == 0)
        return 0;
    /* Unknown: say resident, so the pass reads (and may fault in) rather than skips. */
    for (size_t i = 0; i < npages; i++)
        resident[i] = true;
    return 0;
}
