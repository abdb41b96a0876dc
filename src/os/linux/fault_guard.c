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
 * needs no signal mask restored: no system call per guarded call. Before
 * every pass the handler is checked to still be the one installed (a
 * program may install its own later without calling ours): where it is
 * not, library code is copied first instead, as everything else is.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "../os.h"
#include "fault_guard.h"

typedef struct guard {
    sigjmp_buf env;
    uintptr_t start, end;
    volatile sig_atomic_t armed;
} guard;

static __thread guard *current __attribute__((tls_model("initial-exec")));
static struct sigaction previous_segv, previous_bus;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static bool installed;
/* Our handler is the one the kernel calls: checked at install and before every pass. */
static volatile sig_atomic_t guard_live;

/* Back to the default action for sig, from inside the handler. */
static void restore_default(int sig)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
}

/*
 * A signal that is not ours goes where it would have gone without us: to
 * the handler installed before ours, run as its flags ask, or to the
 * default action or to being ignored.
 */
static void pass_on(int sig, siginfo_t *info, void *context)
{
    struct sigaction *prev = sig == SIGBUS ? &previous_bus : &previous_segv;
    bool sent = info->si_code <= 0; /* by kill, raise or sigqueue: it will not come again by itself */
    if (prev->sa_handler == SIG_IGN && sent)
        return;
    if (prev->sa_handler == SIG_DFL || prev->sa_handler == SIG_IGN) {
        /* A fault cannot be ignored: it comes again on return, and then the default action takes it. */
        guard_live = false;
        restore_default(sig);
        if (sent)
            raise(sig);
        return;
    }
    struct sigaction call = *prev;
    if (prev->sa_flags & SA_RESETHAND) {
        /* A handler for one time only: the next one goes to the default action. */
        prev->sa_handler = SIG_DFL;
        prev->sa_flags &= ~SA_SIGINFO;
    }
    sigset_t block = call.sa_mask, old;
    if (!(call.sa_flags & SA_NODEFER))
        sigaddset(&block, sig);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    if (call.sa_flags & SA_SIGINFO)
        call.sa_sigaction(sig, info, context);
    else
        call.sa_handler(sig);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void on_fault(int sig, siginfo_t *info, void *context)
{
    guard *g = current;
    uintptr_t at = (uintptr_t)info->si_addr;
    if (g && g->armed && info->si_code > 0 && at >= g->start && at < g->end) {
        g->armed = 0;
        siglongjmp(g->env, 1);
    }
    pass_on(sig, info, context);
}

static bool ours(int sig)
{
    struct sigaction now;
    return sigaction(sig, NULL, &now) == 0 && (now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_fault;
}

static void install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    /* The handlers we replace, saved before ours can run and need them. */
    if (sigaction(SIGSEGV, NULL, &previous_segv) != 0 || sigaction(SIGBUS, NULL, &previous_bus) != 0)
        return;
    if (sigaction(SIGSEGV, &sa, NULL) != 0)
        return;
    if (sigaction(SIGBUS, &sa, NULL) != 0) {
        sigaction(SIGSEGV, &previous_segv, NULL);
        return;
    }
    installed = true;
    guard_live = ours(SIGSEGV) && ours(SIGBUS); /* a sanitizer may accept a handler and keep its own */
}

void psum_linux_fault_guard_recheck(void)
{
    if (installed)
        guard_live = ours(SIGSEGV) && ours(SIGBUS);
}

bool psum_linux_fault_guard_ready(void)
{
    pthread_once(&install_once, install);
    return installed && guard_live;
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
