/*
 * The kernel's process events (the netlink connector, CN_IDX_PROC): a
 * process that forks, runs a new program or exits is told at once, so that
 * watch --all checks a program from its exec on instead of finding it at
 * the next scan of /proc. Needs CAP_NET_ADMIN; the caller scans /proc each
 * period when it cannot be opened, and always on Windows
 * (procevents_win.c).
 */
#ifndef PSUM_PROCEVENTS_H
#define PSUM_PROCEVENTS_H

#include <stdbool.h>

typedef enum psum_procevent {
    PSUM_PROCEVENT_FORK, /* a new process (not a thread), running its parent's program */
    PSUM_PROCEVENT_EXEC, /* a process runs a new program */
    PSUM_PROCEVENT_EXIT, /* a process (its last thread) exited */
    PSUM_PROCEVENT_LOST  /* events were dropped (the socket's buffer overflowed): scan /proc once */
} psum_procevent;

typedef struct psum_procevents psum_procevents;

/*
 * Subscribes to the events. 0, or an errno: EPERM without CAP_NET_ADMIN,
 * EPROTONOSUPPORT on a kernel built without the connector, EXDEV outside
 * the host's first PID or user namespace (a container: the kernel accepts
 * the subscription there but sends nothing), ECANCELED when
 * PROCSUM_NO_PROC_EVENTS is set in the environment (to test the fallback),
 * ENOSYS on Windows.
 */
int psum_procevents_open(psum_procevents **out);
/* The descriptor to poll for input. */
int psum_procevents_fd(const psum_procevents *e);
/* Hands every event waiting to on(ctx, event, pid) without blocking; 0 or an errno. */
int psum_procevents_read(psum_procevents *e, void (*on)(void *ctx, psum_procevent event, long pid), void *ctx);
/* e may be NULL. */
void psum_procevents_close(psum_procevents *e);

#endif
