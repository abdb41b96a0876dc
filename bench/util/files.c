/*
 * Whole reads and writes: a result through a pipe, a CSV, and the generated
 * part of a docs page, which goes between two markers so that the notes
 * written around it survive a new run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"

int bench_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

ssize_t bench_read_all(int fd, void *buf, size_t n)
{
    char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* The whole file, or NULL if it cannot be read. */
static char *read_whole(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    bench_text t = {0};
    char buf[8192];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        bench_printf(&t, "%.*s", (int)got, buf);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad) {
        bench_text_free(&t);
        return NULL;
    }
    return t.p;
}

/* Writes the first alen bytes of a, then b and c (each may be NULL). */
static int write_parts(const char *path, const char *a, size_t alen, const char *b, const char *c)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    fwrite(a, 1, alen, f);
    if (b)
        fputs(b, f);
    if (c)
        fputs(c, f);
    if (ferror(f) | (fclose(f) != 0)) {
        perror(path);
        return -1;
    }
    return 0;
}

int bench_write_file(const char *path, const char *text)
{
    return write_parts(path, text, strlen(text), NULL, NULL);
}

int bench_write_section(const char *path, const char *begin_mark, const char *end_mark, const char *head,
                        const char *generated)
{
    char *old = read_whole(path);
    char *begin = old ? strstr(old, begin_mark) : NULL;
    char *end = begin ? strstr(begin, end_mark) : NULL;
    int err;
    if (begin && end) {
        end += strlen(end_mark);
        if (*end == '\n')
            end++;
        err = write_parts(path, old, (size_t)(begin - old), generated, end);
    } else {
        err = write_parts(path, head, strlen(head), generated, NULL);
    }
    free(old);
    return err;
}
