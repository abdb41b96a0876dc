/* Threads, events, clocks and error codes through Win32. */
#include "win.h"

#include <bcrypt.h>
#include <process.h>
#include <stdlib.h>

struct psum_os_thread {
    HANDLE handle;
    DWORD id;
    void (*fn)(void *);
    void *arg;
};


/* _beginthreadex rather than CreateThread: the thread uses the C runtime. */
static unsigned __stdcall thread_trampoline(void *p)
{
    psum_os_thread *t = p;
    t->fn(t->arg);
    return 0;
}

int psum_os_thread_new(psum_os_thread **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : PROCSUM_ENOMEM;
}

void psum_os_thread_discard(psum_os_thread *t)
{
    free(t);
}

int psum_os_thread_run(psum_os_thread *t, void (*fn)(void *), void *arg)
{
    t->fn = fn;
    t->arg = arg;
    unsigned id = 0;
    uintptr_t h = _beginthreadex(NULL, 0, thread_trampoline, t, 0, &id);
    if (h == 0)
        return PROCSUM_EAGAIN;
    t->handle = (HANDLE)h;
    t->id = id;
    return 0;
}

/* No late start on Windows: a thread that waits the delay instead (the caller's way). */
int psum_os_thread_run_later(psum_os_thread *t, void (*fn)(void *), void *arg, uint64_t delay_ns)
{
    (void)t;
    (void)fn;
    (void)arg;
    (void)delay_ns;
    return PROCSUM_ENOSYS;
}

bool psum_os_thread_cancel_later(psum_os_thread *t)
{
    (void)t;
    return false;
}

int psum_os_thread_prepare_later(void)
{
    return PROCSUM_ENOSYS;
}

int psum_os_call_later(int (*start)(void *), void *arg, uint64_t delay_ns)
{
    (void)start;
    (void)arg;
    (void)delay_ns;
    return PROCSUM_ENOSYS;
}

bool psum_os_take_back_later(int (*start)(void *), void *arg)
{
    (void)start;
    (void)arg;
    return false;
}

int psum_os_thread_run_late(psum_os_thread *t, void (*fn)(void *), void *arg)
{
    return psum_os_thread_run(t, fn, arg);
}

int psum_os_thread_wait(psum_os_thread *t)
{
    if (!t)
        return PROCSUM_EINVAL;
    DWORD rc = WaitForSingleObject(t->handle, INFINITE);
    CloseHandle(t->handle);
    t->handle = NULL;
    return rc == WAIT_OBJECT_0 ? 0 : PROCSUM_EINVAL;
}

int psum_os_thread_join(psum_os_thread *t)
{
    int err = psum_os_thread_wait(t);
    free(t);
    return err;
}

bool psum_os_thread_is_current(const psum_os_thread *t)
{
    return t && t->id == GetCurrentThreadId();
}

void psum_os_thread_lower_priority(void)
{
    (void)SetThreadPriority(GetCurrentThread(), THREAD_PRIORITY_LOWEST);
}

/* Threads are not pinned here: nothing to undo. */
void psum_os_thread_unpin(void)
{
}

void psum_os_sleep_ns(uint64_t ns)
{
    uint64_t ms = (ns + 999999u) / 1000000u;
    Sleep(ms > 0xfffffffeu ? 0xfffffffeu : (DWORD)ms);
}

uint64_t psum_os_monotonic_ns(void)
{
    LARGE_INTEGER count, freq;
    if (!QueryPerformanceFrequency(&freq) || freq.QuadPart <= 0 || !QueryPerformanceCounter(&count))
        return (uint64_t)GetTickCount64() * 1000000u;
    uint64_t c = (uint64_t)count.QuadPart, f = (uint64_t)freq.QuadPart;
    /* Split so that the product cannot overflow. */
    return c / f * 1000000000u + c % f * 1000000000u / f;
}

/* 100-nanosecond intervals between 1601-01-01 (FILETIME) and 1970-01-01. */
#define FILETIME_UNIX_EPOCH 116444736000000000ull

static uint64_t filetime_u64(FILETIME ft)
{
    return (uint64_t)ft.dwHighDateTime << 32 | ft.dwLowDateTime;
}

void psum_os_wall_time(int64_t *sec, long *nsec)
{
    FILETIME ft;
    GetSystemTimePreciseAsFileTime(&ft);
    uint64_t t = filetime_u64(ft);
    t = t > FILETIME_UNIX_EPOCH ? t - FILETIME_UNIX_EPOCH : 0;
    *sec = (int64_t)(t / 10000000u);
    *nsec = (long)(t % 10000000u * 100u);
}

uint64_t psum_os_thread_cpu_ns(void)
{
    FILETIME created, exited, kernel, user;
    if (!GetThreadTimes(GetCurrentThread(), &created, &exited, &kernel, &user))
        return 0;
    return (filetime_u64(kernel) + filetime_u64(user)) * 100u;
}


int psum_os_random(void *buf, size_t len)
{
    /* The system's preferred generator: no algorithm handle to open or close. */
    unsigned char *p = buf;
    while (len > 0) {
        ULONG n = len > 0x40000000u ? 0x40000000u : (ULONG)len;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, p, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
            return PROCSUM_EIO;
        p += n;
        len -= n;
    }
    return 0;
}

uint64_t psum_os_process_id(void)
{
    return (uint64_t)GetCurrentProcessId();
}

struct psum_os_monitor {
    SRWLOCK lock;
    CONDITION_VARIABLE cond;
};

int psum_os_monitor_create(psum_os_monitor **out)
{
    psum_os_monitor *m = calloc(1, sizeof(*m));
    if (!m)
        return PROCSUM_ENOMEM;
    InitializeSRWLock(&m->lock);
    InitializeConditionVariable(&m->cond);
    *out = m;
    return 0;
}

void psum_os_monitor_destroy(psum_os_monitor *m)
{
    free(m); /* SRW locks and condition variables own no kernel objects */
}

void psum_os_monitor_lock(psum_os_monitor *m)
{
    AcquireSRWLockExclusive(&m->lock);
}

void psum_os_monitor_unlock(psum_os_monitor *m)
{
    ReleaseSRWLockExclusive(&m->lock);
}

void psum_os_monitor_wait_until(psum_os_monitor *m, uint64_t deadline_ns)
{
    uint64_t now = psum_os_monotonic_ns();
    if (deadline_ns <= now)
        return;
    uint64_t ms = (deadline_ns - now + 999999u) / 1000000u;
    (void)SleepConditionVariableSRW(&m->cond, &m->lock, ms >= INFINITE ? INFINITE - 1 : (DWORD)ms, 0);
}

void psum_os_monitor_wake_all(psum_os_monitor *m)
{
    WakeAllConditionVariable(&m->cond);
}

int psum_os_at_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    (void)prepare;
    (void)parent;
    (void)child;
    return 0; /* no fork on Windows */
}

/* Windows has no fork: nothing to keep out. */
void psum_os_fork_gate_enter(void)
{
}

void psum_os_fork_gate_leave(void)
{
}

bool psum_os_fork_gate_try_enter(void)
{
    return true;
}
