/*
 * sigaction and signal, interposed: a program that installs its own
 * SIGURG handler while the preload library's start is armed (postgres's
 * postmaster, for its latches) keeps it, but aside, until the start is
 * made (os/linux/late_start.c), instead of taking the timer's signal and
 * leaving the process unchecked. Every other call goes straight to the
 * C library's functions.
 */
#include "signals.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>

#include "os/linux/late_start.h"

#define PSUM_EXPORT __attribute__((visibility("default")))

typedef __sighandler_t (*signal_fn)(int sig, __sighandler_t handler);

/* The C library's own, looked up in the constructor (dlsym is no call for a signal handler), or at first use. */
static psum_late_sigaction_fn next_sigaction;
enum { SIGNAL, BSD_SIGNAL, SYSV_SIGNAL, SYSV_SIGNAL_INNER, SIGNAL_FNS };
static const char *const signal_names[SIGNAL_FNS] = {"signal", "bsd_signal", "sysv_signal", "__sysv_signal"};
static signal_fn next_signal[SIGNAL_FNS];

/* The next object's `name` into *fn: dlsym's object pointer made a function pointer, the way POSIX allows. */
static void next_symbol(const char *name, void *fn, size_t size)
{
    void *p = dlsym(RTLD_NEXT, name);
    memcpy(fn, &p, size);
}

static psum_late_sigaction_fn libc_sigaction(void)
{
    if (!next_sigaction)
        next_symbol("sigaction", &next_sigaction, sizeof(next_sigaction));
    return next_sigaction;
}

static signal_fn libc_signal(int which)
{
    if (!next_signal[which])
        next_symbol(signal_names[which], &next_signal[which], sizeof(next_signal[which]));
    return next_signal[which];
}

void psum_preload_keep_signals(void)
{
    for (int i = 0; i < SIGNAL_FNS; i++)
        (void)libc_signal(i);
    psum_late_sigaction_fn next = libc_sigaction();
    if (next)
        psum_late_keep_program_handlers(next);
}

PSUM_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig == PSUM_LATE_SIGNAL && psum_late_keep_handler(act, old))
        return 0;
    psum_late_sigaction_fn next = libc_sigaction();
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    return next(sig, act, old);
}

/* signal() and its kin, with the flags the C library gives each. */
static __sighandler_t set_handler(int which, int sig, __sighandler_t handler, int flags)
{
    if (sig == PSUM_LATE_SIGNAL) {
        struct sigaction act = {.sa_handler = handler, .sa_flags = flags}, old;
        sigemptyset(&act.sa_mask);
        if (!(flags & SA_NODEFER))
            sigaddset(&act.sa_mask, sig);
        /* The union's other member for a handler taken with SA_SIGINFO: what the C library returns too. */
        if (psum_late_keep_handler(&act, &old))
            return old.sa_handler;
    }
    signal_fn next = libc_signal(which);
    if (!next) {
        errno = ENOSYS;
        return SIG_ERR;
    }
    return next(sig, handler);
}

PSUM_EXPORT __sighandler_t signal(int sig, __sighandler_t handler)
{
    return set_handler(SIGNAL, sig, handler, SA_RESTART);
}

/* Declared only under some feature macros; the C library exports them all. */
__sighandler_t bsd_signal(int sig, __sighandler_t handler);
__sighandler_t sysv_signal(int sig, __sighandler_t handler);
__sighandler_t __sysv_signal(int sig, __sighandler_t handler);

PSUM_EXPORT __sighandler_t bsd_signal(int sig, __sighandler_t handler)
{
    return set_handler(BSD_SIGNAL, sig, handler, SA_RESTART);
}

PSUM_EXPORT __sighandler_t sysv_signal(int sig, __sighandler_t handler)
{
    return set_handler(SYSV_SIGNAL, sig, handler, SA_RESETHAND | SA_NODEFER);
}

/* What signal() is under strict standards (no _DEFAULT_SOURCE). */
PSUM_EXPORT __sighandler_t __sysv_signal(int sig, __sighandler_t handler)
{
    return set_handler(SYSV_SIGNAL_INNER, sig, handler, SA_RESETHAND | SA_NODEFER);
}
