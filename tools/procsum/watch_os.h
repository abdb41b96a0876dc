/*
 * What procsum watch needs from the system: one lock shared by the
 * checkers' callbacks, and a wait of one period that ends early when the
 * user asks to stop (Linux: SIGINT or SIGTERM taken with sigtimedwait;
 * Windows: Ctrl+C, Ctrl+Break or the console closing).
 */
#ifndef PSUM_WATCH_OS_H
#define PSUM_WATCH_OS_H

#include <stdbool.h>

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

/* Called once, before any checker's thread exists: from now on a stop request waits for psum_watch_wait. */
void psum_watch_catch_stops(void);
/* Waits one period; true when the user asked to stop. */
bool psum_watch_wait(unsigned period_ms);

#endif
