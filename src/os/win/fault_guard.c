/*
 * Faults while module code is hashed in place. The loader's lock keeps a
 * module mapped, but the program can still take a page away under the
 * read (VirtualProtect to PAGE_NOACCESS or PAGE_GUARD, a file on a network
 * share that fails to page in). So the hashing runs under a guard: a
 * vectored exception handler, added for the call and removed after it,
 * that turns such a fault inside the guarded range on the guarded thread
 * into PROCSUM_EFAULT. It does not unwind from inside the handler: it
 * lets the dispatch finish (EXCEPTION_CONTINUE_EXECUTION) with the thread
 * resumed in escape(), which jumps back to the guarded call's frame with
 * __builtin_longjmp (registers only: no unwinding, no C runtime state).
 * The code jumped over is the caller's hashing: it holds no lock and
 * allocates nothing. Which thread is guarded is in a TLS slot, since the
 * handler sees every thread's exceptions while it is added.
 */
#include "win.h"

#include "fault_guard.h"

typedef struct guard {
    void *env[5]; /* __builtin_setjmp's buffer */
    uintptr_t start, end;
    volatile LONG armed;
} guard;

static DWORD slot = TLS_OUT_OF_INDEXES;
static INIT_ONCE slot_once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK alloc_slot(INIT_ONCE *once, void *param, void **context)
{
    (void)once;
    (void)param;
    (void)context;
    slot = TlsAlloc();
    return TRUE;
}

#if defined(__x86_64__) && defined(__GNUC__)

static __attribute__((noreturn, noinline)) void escape(guard *g)
{
    __builtin_longjmp(g->env, 1);
}

static LONG CALLBACK on_fault(EXCEPTION_POINTERS *e)
{
    DWORD code = e->ExceptionRecord->ExceptionCode;
    if (code != EXCEPTION_ACCESS_VIOLATION && code != EXCEPTION_IN_PAGE_ERROR && code != STATUS_GUARD_PAGE_VIOLATION)
        return EXCEPTION_CONTINUE_SEARCH;
    guard *g = TlsGetValue(slot);
    if (!g || !g->armed || e->ExceptionRecord->NumberParameters < 2)
        return EXCEPTION_CONTINUE_SEARCH;
    uintptr_t at = (uintptr_t)e->ExceptionRecord->ExceptionInformation[1];
    if (at < g->start || at >= g->end)
        return EXCEPTION_CONTINUE_SEARCH;
    g->armed = 0;
    CONTEXT *c = e->ContextRecord;
    /* As if escape(g) were called from the faulting instruction: an aligned stack below it, shadow space included. */
    c->Rsp = ((c->Rsp - 256) & ~(DWORD64)15) - 8;
    c->Rcx = (DWORD64)(uintptr_t)g;
    c->Rip = (DWORD64)(uintptr_t)escape;
    return EXCEPTION_CONTINUE_EXECUTION;
}

int psum_win_guarded_use(uintptr_t start, uintptr_t end, psum_os_bytes_fn use, void *ctx, const uint8_t *bytes)
{
    if (!InitOnceExecuteOnce(&slot_once, alloc_slot, NULL, NULL) || slot == TLS_OUT_OF_INDEXES)
        return 1;
    void *volatile handler = AddVectoredExceptionHandler(1, on_fault);
    if (!handler)
        return 1;
    guard g = {.start = start, .end = end};
    volatile int err = PROCSUM_EFAULT;
    if (__builtin_setjmp(g.env) == 0) {
        TlsSetValue(slot, &g);
        g.armed = 1;
        err = use(ctx, bytes);
        g.armed = 0;
    }
    TlsSetValue(slot, NULL);
    RemoveVectoredExceptionHandler(handler);
    return err;
}

#else

int psum_win_guarded_use(uintptr_t start, uintptr_t end, psum_os_bytes_fn use, void *ctx, const uint8_t *bytes)
{
    (void)start;
    (void)end;
    (void)use;
    (void)ctx;
    (void)bytes;
    (void)alloc_slot;
    (void)slot_once;
    return 1;
}

#endif
