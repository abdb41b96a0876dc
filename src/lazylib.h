/*
 * Shared libraries loaded on first need instead of linked. Every library a
 * process maps is some five mappings that each of its forks copies and each
 * exec tears down, and the loader's relocations cost every process at start;
 * most processes that carry procsum never report a change (libelf, Capstone)
 * or never pick the algorithm (ISA-L). A library is asked for once per
 * process: dlopen by soname, then every function into the caller's table.
 * Not on Windows (no such library there).
 */
#ifndef PSUM_LAZYLIB_H
#define PSUM_LAZYLIB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* One function to resolve: its name and where its pointer goes. */
typedef struct psum_lazylib_fn {
    const char *name;
    void *slot;  /* a function pointer's address */
    size_t size; /* sizeof that pointer */
} psum_lazylib_fn;

#define PSUM_LAZYLIB_FN(table, member, symbol) {symbol, &(table).member, sizeof((table).member)}

typedef struct psum_lazylib {
    const char *soname;
    const psum_lazylib_fn *fns;
    size_t count;
    atomic_int state; /* 0 not tried, 1 loaded, -1 not available */
    pthread_mutex_t loading;
} psum_lazylib;

#define PSUM_LAZYLIB_INIT(so, table) {.soname = (so), .fns = (table), .count = sizeof(table) / sizeof((table)[0]), .loading = PTHREAD_MUTEX_INITIALIZER}

/*
 * Whether every function is resolved. The first call with may_load loads
 * the library (kept for the life of the process); a call without it only
 * says what an earlier one found. Callers pass false where the loader's
 * lock may be held by a thread the process no longer has (a forked child).
 */
bool psum_lazylib_ready(psum_lazylib *l, bool may_load);

/* Whether the library was asked for already (loaded or found missing): a call with may_load loads nothing more. */
bool psum_lazylib_tried(psum_lazylib *l);

#endif
