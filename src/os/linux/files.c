/*
 * Files behind mappings, read with pread, never mapped: a file truncated
 * under us gives a short read, not SIGBUS.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../os.h"
struct psum_os_file {
    int fd;
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
    free(f);
}
