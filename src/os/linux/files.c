/*
 * Files behind mappings, read with pread, never mapped: a file truncated
 * under us gives a short read, not SIGBUS. A file's state and its direct
 * I/O window are memory procsum maps itself (os.h: psum_os_map), not the
 * program's allocator's: a forked child's checker compares pages with
 * their files whatever state another thread left the allocator in.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "../os.h"
#include "files.h"
#include "target.h"

/* The window direct reads fill (open_direct). */
#define DIRECT_WINDOW ((size_t)256 << 10)

struct psum_os_file {
    int fd;
    int direct_fd;       /* the same file opened with O_DIRECT; -1 not yet, -2 refused */
    uint8_t *direct_buf; /* aligned for O_DIRECT: DIRECT_WINDOW bytes */
    uint64_t window_at;  /* the file's bytes in direct_buf: [window_at, window_at + window_len) */
    size_t window_len;
};

int psum_os_file_open(const char *path, uint64_t dev, uint64_t ino, psum_os_file **out)
{
    if (!out)
        return PROCSUM_EINVAL;
    *out = NULL;
    if (!path || path[0] == '\0')
        return PROCSUM_EINVAL;
    psum_os_file *f;
    int err = psum_os_map(sizeof(*f), (void **)&f);
    if (err)
        return err;
    /* O_NONBLOCK: a FIFO put at the path must not block the checker; regular files ignore it. */
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        err = errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? PROCSUM_ENOENT : psum_os_last_error();
        psum_os_unmap(f, sizeof(*f));
        return err;
    }
    struct stat st;
    if (fstat(fd, &st) != 0)
        err = psum_os_last_error();
    else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino)
        err = PROCSUM_ENOENT;
    if (err) {
        close(fd);
        psum_os_unmap(f, sizeof(*f));
        return err;
    }
    f->fd = fd;
    f->direct_fd = -1;
    f->direct_buf = NULL;
    *out = f;
    return 0;
}

/*
 * Another process's file, as it maps it. /proc/PID/map_files/START-END is
 * the mapped file itself, whatever became of its name, but the kernel lets
 * only CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE) open it. /proc/PID/root
 * followed by the path resolves the name in the process's own mount
 * namespace and root (a container's), with ptrace read rights. The path as
 * the caller sees it comes last; the identity check refuses whichever
 * reaches another file.
 */
int psum_os_file_open_mapped(psum_os_target *t, const psum_os_region *r, psum_os_file **out)
{
    if (!out || !r)
        return PROCSUM_EINVAL;
    *out = NULL;
    if (!t || t->pid == 0)
        return r->file_deleted ? PROCSUM_ENOENT : psum_os_file_open(r->path, r->dev, r->ino, out);
    char link[96];
    snprintf(link, sizeof(link), "/proc/%ld/map_files/%lx-%lx", t->pid, (unsigned long)r->start,
             (unsigned long)r->end);
    int err = psum_os_file_open(link, r->dev, r->ino, out);
    if (err == 0 || r->file_deleted || !r->path || r->path[0] != '/')
        return err;
    char rooted[PATH_MAX + 32];
    if (snprintf(rooted, sizeof(rooted), "/proc/%ld/root%s", t->pid, r->path) < (int)sizeof(rooted) &&
        psum_os_file_open(rooted, r->dev, r->ino, out) == 0)
        return 0;
    return psum_os_file_open(r->path, r->dev, r->ino, out);
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

int psum_linux_file_fd(const psum_os_file *f)
{
    return f->fd;
}

void psum_os_file_close(psum_os_file *f)
{
    if (!f)
        return;
    close(f->fd);
    if (f->direct_fd >= 0)
        close(f->direct_fd);
    psum_os_unmap(f->direct_buf, DIRECT_WINDOW);
    psum_os_unmap(f, sizeof(*f));
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
    out->links = (uint64_t)st.st_nlink;
    return 0;
}

/*
 * The same open file again, with O_DIRECT: reads then bypass the page cache
 * (after the kernel writes back any dirty cached page of the range), so
 * they give what the disk holds even where a cached page went bad in RAM.
 * File systems without direct I/O (tmpfs) refuse the open with EINVAL.
 * Reads are made a window of DIRECT_WINDOW bytes at a time and kept while
 * the file stays open: the pages of a region are asked for in order, and a
 * direct read costs a trip to the disk whatever its size.
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
        if (fd >= 0 && psum_os_map(DIRECT_WINDOW, &buf) != 0) {
            close(fd);
            return PROCSUM_ENOMEM;
        }
        if (fd < 0)
            return errno == EINVAL ? (f->direct_fd = -2, PROCSUM_ENOSYS) : psum_os_last_error();
        /* tmpfs (a memfd too) takes O_DIRECT since Linux 6.6 and reads its cache: there is no disk below. */
        struct statfs fs;
        if (fstatfs(fd, &fs) == 0 && (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC)) {
            close(fd);
            psum_os_unmap(buf, DIRECT_WINDOW);
            f->direct_fd = -2;
            return PROCSUM_ENOSYS;
        }
        f->direct_fd = fd;
        f->direct_buf = buf;
        f->window_len = 0;
    }
    return f->direct_fd >= 0 ? 0 : PROCSUM_ENOSYS;
}

/* Makes the window hold the page at offset (a multiple of PROCSUM_PAGE_SIZE); zeros past the end of the file. */
static int fill_window(psum_os_file *f, uint64_t offset)
{
    if (f->window_len && offset >= f->window_at && offset - f->window_at < f->window_len)
        return 0;
    ssize_t n;
    do
        n = pread(f->direct_fd, f->direct_buf, DIRECT_WINDOW, (off_t)offset);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        f->window_len = 0;
        return errno == EINVAL ? PROCSUM_ENOSYS : psum_os_last_error();
    }
    /* A short read ends at the end of the file: the rest of its last page reads as zeros. */
    size_t got = (size_t)n;
    size_t pages = got ? (got + PROCSUM_PAGE_SIZE - 1) / PROCSUM_PAGE_SIZE : 1;
    memset(f->direct_buf + got, 0, pages * PROCSUM_PAGE_SIZE - got);
    f->window_at = offset;
    f->window_len = pages * PROCSUM_PAGE_SIZE;
    return 0;
}

int psum_os_file_read_below_cache(psum_os_file *f, uint64_t offset, void *buf, size_t len)
{
    if (!f || (len && !buf) || offset % PROCSUM_PAGE_SIZE != 0 || offset > (uint64_t)INT64_MAX - len)
        return PROCSUM_EINVAL;
    int err = open_direct(f);
    if (err)
        return err;
    for (size_t done = 0; done < len; done += PROCSUM_PAGE_SIZE) {
        size_t want = len - done < PROCSUM_PAGE_SIZE ? len - done : PROCSUM_PAGE_SIZE;
        err = fill_window(f, offset + done);
        if (err)
            return err;
        memcpy((uint8_t *)buf + done, f->direct_buf + (offset + done - f->window_at), want);
    }
    return 0;
}

