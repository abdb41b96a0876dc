/*
 * Faults while library code is hashed in place. The loader cannot unload an
 * object while dl_iterate_phdr lists it, but the program itself can still
 * take its pages away: munmap or mprotect(PROT_NONE) them, or truncate the
 * file under them. A read of such a page raises SIGSEGV or SIGBUS. So the
 * hashing runs under a guard: a handler, installed once and chained to
 * whatever handler was there before, that turns a fault inside the guarded
 * range on the guarded thread into PROCSUM_EFAULT, and passes every other
 * fault on unchanged (to the previous handler, or to the default action).
 *
 * The jump back lands inside the dl_iterate_phdr callback, so the loader's
 * lock is released as usual. The handler runs with SA_NODEFER, so the jump
 * needs no signal mask restored: no system call per guarded call.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "../os.h"
#include "files.h"

typedef struct guard {
    sigjmp_buf env;
    uintptr_t start, end;
    volatile sig_atomic_t armed;
} guard;

static __thread guard *current __attribute__((tls_model("initial-exec")));
static struct sigaction previous_segv, previous_bus;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static bool installed;

static void pass_on(int sig, siginfo_t *info, void *context)
{
    const struct sigaction *prev = sig == SIGBUS ? &previous_bus : &previous_segv;
    if (prev->sa_flags & SA_SIGINFO) {
        prev->sa_sigaction(sig, info, context);
        return;
    }
    if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig);
        return;
    }
    /* The default action: restore it and return; the faulting instruction faults again, to it. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
}

static void on_fault(int sig, siginfo_t *info, void *context)
{
    guard *g = current;
    uintptr_t at = (uintptr_t)info->si_addr;
    if (g && g->armed && at >= g->start && at < g->end) {
        g->armed = 0;
        siglongjmp(g->env, 1);
    }
    pass_on(sig, info, context);
}

static void install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &previous_segv) != 0)
        return;
    if (sigaction(SIGBUS, &sa, &previous_bus) != 0) {
        sigaction(SIGSEGV, &previous_segv, NULL);
        return;
    }
    installed = true;
}

bool psum_linux_fault_guard_ready(void)
{
    pthread_once(&install_once, install);
    return installed;
}

int psum_linux_guarded_use(uintptr_t start, size_t len, psum_os_bytes_fn use, void *ctx)
{
    guard g;
    g.start = start;
    g.end = start + len;
    g.armed = 0;
    guard *outer = current;
    current = &g;
    volatile int result = PROCSUM_EFAULT;
    if (sigsetjmp(g.env, 0) == 0) {
        g.armed = 1;
        result = use(ctx, (const uint8_t *)start);
        g.armed = 0;
    }
    current = outer;
    return result;
}
