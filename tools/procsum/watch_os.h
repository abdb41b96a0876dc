/*
 * What procsum watch needs from the system: one lock shared by the
 * checkers' callbacks, and a wait of one period that ends early when the
 * user asks to stop (Linux: SIGINT or SIGTERM read from a signalfd;
 * Windows: Ctrl+C, Ctrl+Break or the console closing) and hands on the
 * kernel's process events that come meanwhile (Linux only).
 */
#ifndef PSUM_WATCH_OS_H
#define PSUM_WATCH_OS_H

#include <stdbool.h>

#include "procevents.h"

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
typedef SRWLOCK psum_watch_lock;
#else
#include <pthread.h>
typedef pthread_mutex_t psum_watch_lock;
#endif

void psum_watch_lock_init(psum_watch_lock *l);
void psum_watch_lock_destroy(psum_watch_lock *l);
void psum_watch_lock_take(psum_watch_lock *l);
void psum_watch_lock_release(psum_watch_lock *l);

/*
 * Called once, before any checker's thread exists (they all inherit the
 * blocked signals): from now on a stop request waits for psum_watch_wait.
 * 0 or an errno.
 */
int psum_watch_catch_stops(void);
/* Undoes psum_watch_catch_stops. */
void psum_watch_release_stops(void);
/*
 * Raises the limit of open descriptors to the most allowed: a watched
 * process keeps a few of its /proc files open (Linux: stat, maps, pagemap),
 * and --all watches every process. Returns the limit now, 0 where there is
 * none (or it is not known).
 */
unsigned long psum_watch_allow_descriptors(void);
/* Below this many descriptors, a watch of many processes says that some will be refused. */
#define PSUM_WATCH_FEW_DESCRIPTORS 1024
/*
 * Waits one period, handing each process event of `events` (NULL: none)
 * to on(ctx, ...), and PSUM_PROCEVENT_LOST when they cannot be read; true
 * when the user asked to stop. A period of 0 looks once without waiting.
 */
bool psum_watch_wait(unsigned period_ms, psum_procevents *events,
                     void (*on)(void *ctx, psum_procevent event, long pid), void *ctx);

#endif
