/*
 * Files behind mappings (read with pread, never mapped: a file truncated
 * under us gives a short read, not SIGBUS) and page residency.
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
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../os.h"
#include "files.h"

struct psum_os_file {
    int fd;
    int direct_fd;       /* the same file opened with O_DIRECT; -1 not yet, -2 refused */
    uint8_t *direct_buf; /* aligned for O_DIRECT: one page */
};

int psum_os_file_open(const char *path, uint64_t dev, uint64_t ino, psum_os_file **out)
{
    if (!out)
        return PROCSUM_EINVAL;
    *out = NULL;
    if (!path || path[0] == '\0')
        return PROCSUM_EINVAL;
    psum_os_file *f = malloc(sizeof(*f));
    if (!f)
        return PROCSUM_ENOMEM;
    /* O_NONBLOCK: a FIFO put at the path must not block the checker; regular files ignore it. */
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int err = errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? PROCSUM_ENOENT : psum_os_last_error();
        free(f);
        return err;
    }
    struct stat st;
    int err = 0;
    if (fstat(fd, &st) != 0)
        err = psum_os_last_error();
    else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino)
        err = PROCSUM_ENOENT;
    if (err) {
        close(fd);
        free(f);
        return err;
    }
    f->fd = fd;
    f->direct_fd = -1;
    f->direct_buf = NULL;
    *out = f;
    return 0;
}

int psum_os_file_read(psum_os_file *f, uint64_t offset, void *buf, size_t len, size_t *got)
{
    size_t done = 0;
    if (got)
        *got = 0;
    if (!f || (len && !buf))
        return PROCSUM_EINVAL;
    /* pread takes a signed off_t: refuse what it cannot express rather than wrap. */
    const uint64_t max_off = (uint64_t)INT64_MAX;
    if (offset > max_off || (uint64_t)len > max_off - offset)
        return PROCSUM_EINVAL;
    while (done < len) {
        ssize_t n = pread(f->fd, (char *)buf + done, len - done, (off_t)(offset + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int err = psum_os_last_error();
            if (got)
                *got = done;
            return err;
        }
        if (n == 0) {
            memset((char *)buf + done, 0, len - done);
            break;
        }
        done += (size_t)n;
    }
    if (got)
        *got = done;
    return 0;
}

void psum_os_file_close(psum_os_file *f)
{
    if (!f)
        return;
    close(f->fd);
    if (f->direct_fd >= 0)
        close(f->direct_fd);
    free(f->direct_buf);
    free(f);
}

int psum_os_file_state_of(psum_os_file *f, psum_os_file_state *out)
{
    struct stat st;
    if (!f || !out)
        return PROCSUM_EINVAL;
    if (fstat(f->fd, &st) != 0)
        return psum_os_last_error();
    out->size = (uint64_t)st.st_size;
    out->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    out->ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
    return 0;
}

/*
 * The same open file again, with O_DIRECT: reads then bypass the page cache
 * (after the kernel writes back any dirty cached page of the range), so
 * they give what the disk holds even where a cached page went bad in RAM.
 * File systems without direct I/O (tmpfs) refuse the open with EINVAL.
 */
static int open_direct(psum_os_file *f)
{
    if (f->direct_fd == -1) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", f->fd);
        int fd;
        do
            fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_DIRECT);
        while (fd < 0 && errno == EINTR);
        void *buf = NULL;
        if (fd >= 0 && posix_memalign(&buf, PROCSUM_PAGE_SIZE, PROCSUM_PAGE_SIZE) != 0) {
            close(fd);
            return PROCSUM_ENOMEM;
        }
        if (fd < 0)
            return errno == EINVAL ? (f->direct_fd = -2, PROCSUM_ENOSYS) : psum_os_last_error();
        f->direct_fd = fd;
        f->direct_buf = buf;
    }
    return f->direct_fd >= 0 ? 0 : PROCSUM_ENOSYS;
}

int psum_os_file_read_below_cache(psum_os_file *f, uint64_t offset, void *buf, size_t len)
{
    if (!f || (len && !buf) || offset % PROCSUM_PAGE_SIZE != 0 || offset > (uint64_t)INT64_MAX - len)
        return PROCSUM_EINVAL;
    int err = open_direct(f);
    if (err)
        return err;
    /* Page by page through the aligned buffer: the caller's buffer need not be aligned. */
    for (size_t done = 0; done < len; done += PROCSUM_PAGE_SIZE) {
        size_t want = len - done < PROCSUM_PAGE_SIZE ? len - done : PROCSUM_PAGE_SIZE;
        ssize_t n;
        do
            n = pread(f->direct_fd, f->direct_buf, PROCSUM_PAGE_SIZE, (off_t)(offset + done));
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return errno == EINVAL ? PROCSUM_ENOSYS : psum_os_last_error();
        /* Past the end of the file, zeros: as the tail of a mapping's last page. */
        if ((size_t)n < PROCSUM_PAGE_SIZE)
            memset(f->direct_buf + n, 0, PROCSUM_PAGE_SIZE - (size_t)n);
        memcpy((uint8_t *)buf + done, f->direct_buf, want);
    }
    return 0;
}

/* ---- residency ---- */

/* System pages asked about per call: 4 KiB of pagemap entries on the stack. */
#define CHUNK 1024u

static size_t system_page_size(void)
{
    long n = sysconf(_SC_PAGESIZE);
    /* A system page that is not a power of two at least ours does not exist on Linux; stay safe anyway. */
    bool usable = n >= (long)PROCSUM_PAGE_SIZE && (n & (n - 1)) == 0;
    return usable ? (size_t)n : PROCSUM_PAGE_SIZE;
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
    unsigned shift = (unsigned)__builtin_ctzl(system_page_size());
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
        snprintf(path, sizeof(path), "/proc/self/pagemap");
    else
        snprintf(path, sizeof(path), "/proc/%ld/pagemap", pid);
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return errno == ENOENT ? PROCSUM_ESRCH : psum_os_last_error();
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
    size_t sys = system_page_size();
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
    long pid = psum_linux_target_pid(t);
    int fd = psum_linux_target_pagemap(t);
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
