/* A growing text buffer: reports are built in memory, then printed or written whole. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"

/* Room for `more` bytes and a NUL; false if it cannot be had. */
static bool reserve(bench_text *t, size_t more)
{
    if (t->len + more + 1 <= t->cap)
        return true;
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->len + more + 1)
        cap *= 2;
    char *g = realloc(t->p, cap);
    if (!g)
        return false;
    t->p = g;
    t->cap = cap;
    return true;
}

void bench_printf(bench_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(t, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

const char *bench_text_str(const bench_text *t)
{
    return t->p ? t->p : "";
}

void bench_text_free(bench_text *t)
{
    free(t->p);
    t->p = NULL;
    t->len = t->cap = 0;
}
