/* One event, one line, one write(2): see oneline.h. */
#include "oneline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Sends the finished line; 0 or an errno. */
static int send_line(const psum_oneline_dest *d, const char *line, size_t len)
{
    int fd = 2;
    if (d->path) {
        /*
         * Opened without waiting: a named pipe nobody reads would block
         * open() for good, and a refused setting is reported from the
         * program's constructor (ENXIO: the line is lost, the program runs
         * on). Writes then wait as usual for a pipe that is read.
         */
        fd = open(d->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
        if (fd < 0)
            return errno;
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
            int err = errno;
            close(fd);
            return err;
        }
    }
    int err = 0;
    ssize_t n;
    do
        n = write(fd, line, len);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        err = errno;
    } else if ((size_t)n != len) {
        err = EIO; /* a full disk: the line is cut, and said so */
        /*
         * And taken back: the bytes just appended are the file's last (a
         * process appending at this instant could lose a line of its own,
         * on a disk that is refusing lines already), so it still ends with
         * a whole line, which the next line is not glued to.
         */
        struct stat st;
        if (d->path && n > 0 && fstat(fd, &st) == 0 && st.st_size >= n && ftruncate(fd, st.st_size - n) != 0) {
            /* Nothing more to do: the line is lost either way. */
        }
    }
    if (d->path && close(fd) != 0 && !err)
        err = errno;
    return err;
}

typedef int (*record_fn)(psum_writer *w, const void *record);

static int one_line(const psum_oneline_dest *d, record_fn fn, const void *record)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return errno ? errno : ENOMEM;
    psum_sink s;
    psum_sink_init(&s, mem);
    /* The format's own callback: no format table is needed (nor linked into the preload library). */
    psum_writer w = {.ops = &psum_jsonl_writer, .out = &s, .kind = PSUM_LIST_EVENTS};
    fn(&w, record);
    int err = psum_sink_close(&s);
    if (!err)
        err = send_line(d, buf, len);
    free(buf);
    return err;
}

static int alert_record(psum_writer *w, const void *record)
{
    return w->ops->alert(w, record);
}

static int state_record(psum_writer *w, const void *record)
{
    return w->ops->state(w, record);
}

int psum_oneline_alert(const psum_oneline_dest *d, const psum_alert *a)
{
    return one_line(d, alert_record, a);
}

int psum_oneline_state(const psum_oneline_dest *d, const psum_state *s)
{
    return one_line(d, state_record, s);
}
