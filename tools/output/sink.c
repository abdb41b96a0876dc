/*
 * Checked writes to a FILE. stdio reports a failed write at the call that
 * failed (a full buffer) or only at the flush (everything fit in the
 * buffer), so both are checked, and the close too.
 */
#include "sink.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

#ifndef _WIN32
#include <fcntl.h>
#include <stdio_ext.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

void psum_sink_init(psum_sink *s, FILE *f)
{
    s->f = f;
    s->err = 0;
    s->take_back = false;
}

/* Records a failure; errno may be 0 when stdio failed without saying why. */
static int failed(psum_sink *s)
{
    if (!s->err)
        s->err = errno ? errno : EIO;
    return -1;
}

int psum_sink_write(psum_sink *s, const void *p, size_t n)
{
    if (s->err)
        return -1;
    errno = 0;
    if (n && fwrite(p, 1, n, s->f) != n)
        return failed(s);
    return 0;
}

int psum_sink_puts(psum_sink *s, const char *str)
{
    if (s->err)
        return -1;
    errno = 0;
    if (fputs(str, s->f) == EOF)
        return failed(s);
    return 0;
}

int psum_sink_printf(psum_sink *s, const char *fmt, ...)
{
    if (s->err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    errno = 0;
    int n = vfprintf(s->f, fmt, ap);
    va_end(ap);
    return n < 0 ? failed(s) : 0;
}

int psum_sink_hex(psum_sink *s, const uint8_t *bytes, size_t n)
{
    static const char HEX[] = "0123456789abcdef";
    char pair[2];
    for (size_t i = 0; i < n; i++) {
        pair[0] = HEX[bytes[i] >> 4];
        pair[1] = HEX[bytes[i] & 15];
        if (psum_sink_write(s, pair, 2))
            return -1;
    }
    return 0;
}

int psum_sink_escaped(psum_sink *s, psum_escape_fn escape, const char *str)
{
    char small[512];
    size_t n = escape(small, sizeof(small), str);
    if (n < sizeof(small))
        return psum_sink_write(s, small, n);
    char *big = malloc(n + 1);
    if (!big) {
        if (!s->err)
            s->err = ENOMEM;
        return -1;
    }
    escape(big, n + 1, str);
    int rc = psum_sink_write(s, big, n);
    free(big);
    return rc;
}

#ifndef _WIN32
/*
 * A flush of a file that takes back what it wrote of a line it could not
 * write whole. The size before is the line's start: a run appending to the
 * same file at that instant could lose its line too, but only on a disk
 * that is already refusing lines.
 */
static int flush_or_take_back(psum_sink *s)
{
    int fd = fileno(s->f);
    struct stat before, after;
    if (fstat(fd, &before) != 0)
        before.st_size = -1;
    errno = 0;
    if (fflush(s->f) != EOF)
        return 0;
    int rc = failed(s);
    /* Dropped, or the close would try the rest of the line again, after the cut. */
    __fpurge(s->f);
    if (before.st_size >= 0 && fstat(fd, &after) == 0 && after.st_size > before.st_size &&
        ftruncate(fd, before.st_size) != 0) {
        /* Nothing more to do: the error already reported is the write's. */
    }
    return rc;
}
#endif

int psum_sink_flush(psum_sink *s)
{
    if (s->err)
        return -1;
    if (!s->f)
        return 0; /* an output that is no FILE (journald) */
#ifndef _WIN32
    if (s->take_back)
        return flush_or_take_back(s);
#endif
    errno = 0;
    return fflush(s->f) == EOF ? failed(s) : 0;
}

void psum_sink_whole_lines(psum_sink *s)
{
    /* Fails only when output already started: the default buffer stays, which is still correct. */
    (void)setvbuf(s->f, NULL, _IOFBF, 1u << 16);
#ifndef _WIN32
    struct stat st;
    s->take_back = fstat(fileno(s->f), &st) == 0 && S_ISREG(st.st_mode);
#endif
}

int psum_sink_close(psum_sink *s)
{
    if (!s->f)
        return s->err;
    errno = 0;
    if (fflush(s->f) == EOF)
        failed(s);
    errno = 0;
    if (fclose(s->f) == EOF)
        failed(s);
    s->f = NULL;
    return s->err;
}

int psum_sink_reserve_std_fds(void)
{
#ifndef _WIN32
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        /* Every lower descriptor is open by now, so the lowest free one, which open takes, is fd. */
        if (open("/dev/null", O_RDONLY) < 0)
            return errno;
    }
#endif
    return 0;
}
