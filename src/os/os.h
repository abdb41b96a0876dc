/*
 * The small platform interface. The core (checker, snapshot, report, digest)
 * sees the operating system only through these functions; each backend
 * (os/linux, os/win) implements all of them and nothing else.
 *
 * Every function returning int returns 0 or a negative PROCSUM_E* code.
 */
#ifndef PSUM_OS_H
#define PSUM_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "procsum.h"

#define PSUM_PROT_R 1u
#define PSUM_PROT_W 2u
#define PSUM_PROT_X 4u

/* One mapping, as the platform describes it. */
typedef struct psum_os_region {
    uintptr_t start, end;
    unsigned prot;            /* PSUM_PROT_* */
    procsum_region_kind kind;
    bool main_executable;
    bool file_deleted;
    uint64_t dev, ino;        /* identity of the backing file; 0 when none */
    uint64_t file_offset;     /* offset of `start` in the file */
    char *path;               /* owned; the file's path or a bracketed name */
} psum_os_region;

typedef struct psum_os_region_list {
    psum_os_region *items;
    size_t count, cap;
} psum_os_region_list;

/* The process a target refers to; pid 0 is the calling process. */
typedef struct psum_os_target psum_os_target;

int psum_os_target_open(long pid, psum_os_target **out);
void psum_os_target_close(psum_os_target *t);

/*
 * Lists every mapping of the target, in address order, whatever its
 * protection (callers decide what to read; the rest tells them which
 * baselines are still backed by the same file). Replaces the content of
 * `list`.
 */
int psum_os_list_regions(psum_os_target *t, psum_os_region_list *list);
void psum_os_region_list_free(psum_os_region_list *list);

/*
 * Copies len bytes at addr of the target into buf without ever faulting:
 * memory unmapped meanwhile gives PROCSUM_EFAULT, never a crash.
 */
int psum_os_read(psum_os_target *t, uintptr_t addr, void *buf, size_t len);

/* Threads, locks, time. */
typedef struct psum_os_thread psum_os_thread;
typedef struct psum_os_event psum_os_event;

int psum_os_thread_start(psum_os_thread **out, void (*fn)(void *), void *arg);
int psum_os_thread_join(psum_os_thread *t);
bool psum_os_thread_is_current(const psum_os_thread *t);
/* Lowers the calling thread's scheduling priority; failure is harmless. */
void psum_os_thread_lower_priority(void);

/* A flag with a timed wait that wakes as soon as it is set. */
int psum_os_event_create(psum_os_event **out);
void psum_os_event_destroy(psum_os_event *e);
void psum_os_event_set(psum_os_event *e);
bool psum_os_event_is_set(psum_os_event *e);
/* Waits until set or timeout; returns true if set. */
bool psum_os_event_wait(psum_os_event *e, uint64_t timeout_ns);

uint64_t psum_os_monotonic_ns(void);
/* Wall clock, split as a struct timespec is. */
void psum_os_wall_time(int64_t *sec, long *nsec);
/* Used CPU time of the calling thread. */
uint64_t psum_os_thread_cpu_ns(void);

/* The platform's error for the last failed call, as a PROCSUM_E* code. */
int psum_os_last_error(void);

#endif
