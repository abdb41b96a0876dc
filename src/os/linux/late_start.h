/*
 * Starting something a while from now with no thread waiting meanwhile
 * (lazy_start): a timer, then a signal handler that makes the start at a
 * safe point. late_start.c says how, and why it is safe. Used by
 * thread.c (psum_os_thread_run_later) and by libprocsum-preload.so, which
 * compiles its own copy.
 */
#ifndef PSUM_LINUX_LATE_START_H
#define PSUM_LINUX_LATE_START_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* The signal the timers send. Its default action is to ignore it. */
#define PSUM_LATE_SIGNAL SIGURG

/*
 * Called from the signal handler, at a safe point, on whichever thread of
 * the process took the signal: it may create a thread (pthread_create)
 * and make system calls, nothing more. 0 when it did; otherwise the start
 * is tried again a few milliseconds later.
 */
typedef int (*psum_late_fn)(void *arg);

/*
 * Finds the code a start must not interrupt (late_start.c). Walks the
 * loaded objects, so never from a forked child: call it before forking,
 * in any thread; later calls do nothing. 0, or PROCSUM_ENOSYS where
 * starts cannot be made late (then psum_late_arm refuses too).
 */
int psum_late_prepare(void);

/*
 * Arms a start: start(arg) runs in delay_ns. Allocates nothing, so it may
 * be called in a forked child (once prepared in the parent). 0 with *id
 * set; PROCSUM_ENOSYS when not prepared or not supported here,
 * PROCSUM_EBUSY when the program handles or ignores the signal itself or
 * blocks it in the calling thread, PROCSUM_EAGAIN when no slot or timer is
 * left. On any error the caller starts its own way (a thread that waits).
 */
int psum_late_arm(psum_late_fn start, void *arg, uint64_t delay_ns, uint32_t *id);

/*
 * Takes back an armed start. true: it had not run and now never will (or
 * the handler gave up: no safe point within its tries); false: it has run
 * (start returned 0), or a handler making it on another thread has not
 * finished within 5 s. Once per id.
 */
bool psum_late_cancel(uint32_t id);

/*
 * Takes back the start(arg) this process armed (the first one found):
 * psum_late_cancel without its id.
 */
bool psum_late_take_back(psum_late_fn start, void *arg);
/*
 * A thread created by a start gets the ordinary policy, whatever the
 * interrupted thread's: a real-time one would pass its priority on.
 */
void psum_late_ordinary_scheduling(pthread_attr_t *attr);

/* The C library's sigaction, or what stands for it. */
typedef int (*psum_late_sigaction_fn)(int sig, const struct sigaction *act, struct sigaction *old);

/*
 * For the preload library, which interposes sigaction and signal: from
 * now on this copy calls `next` for the C library's sigaction, and keeps a
 * program's own handler of the signal aside while this copy's is
 * installed (late_start.c says how).
 */
void psum_late_keep_program_handlers(psum_late_sigaction_fn next);

/*
 * A program's sigaction of PSUM_LATE_SIGNAL, intercepted: true when this
 * copy's handler is installed and a start of this process armed (it is
 * given back otherwise), the handler then staying, act (if any) being kept
 * aside as the program's and old (if any) given the program's last one;
 * false when the call is the C library's to make. Async-signal-safe.
 */
bool psum_late_keep_handler(const struct sigaction *act, struct sigaction *old);

/*
 * Gives the signal back to its default action when nothing of this copy
 * is armed and the handler there is still this copy's (the preload
 * library, before it loads libprocsum, whose own copy then takes it), or
 * to the program's own handler if one was kept aside.
 */
void psum_late_release_signal(void);

#endif
