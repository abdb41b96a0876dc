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

int psum_os_thread_start(psum_os_thread **out, void (*fn)(void *), void *arg)
{
    psum_os_thread *t = calloc(1, sizeof(*t));
    if (!t)
        return PROCSUM_ENOMEM;
    t->fn = fn;
    t->arg = arg;
    unsigned id = 0;
    uintptr_t h = _beginthreadex(NULL, 0, thread_trampoline, t, 0, &id);
    if (h == 0) {
        free(t);
        return PROCSUM_EAGAIN;
    }
    t->handle = (HANDLE)h;
    t->id = id;
    *out = t;
    return 0;
}

int psum_os_thread_join(psum_os_thread *t)
{
    if (!t)
        return PROCSUM_EINVAL;
    DWORD rc = WaitForSingleObject(t->handle, INFINITE);
    CloseHandle(t->handle);
    free(t);
    return rc == WAIT_OBJECT_0 ? 0 : PROCSUM_EINVAL;
}

bool psum_os_thread_is_current(const psum_os_thread *t)
{
    return t && t->id == GetCurrentThreadId();
}

void psum_os_thread_lower_priority(void)
{
    (void)SetThreadPriority(GetCurrentThread(), THREAD_PRIORITY_LOWEST);
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

/* ERROR_SUCCESS too gives PROCSUM_EIO: this is only asked after a call failed. */
int psum_win_error(DWORD code)
{
    switch (code) {
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION: return PROCSUM_EACCES;
    case ERROR_PRIVILEGE_NOT_HELD: return PROCSUM_EPERM;
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_MOD_NOT_FOUND:
    case ERROR_INVALID_DRIVE: return PROCSUM_ENOENT;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_COMMITMENT_LIMIT: return PROCSUM_ENOMEM;
    case ERROR_TOO_MANY_OPEN_FILES:
    case ERROR_NO_SYSTEM_RESOURCES:
    case ERROR_NONPAGED_SYSTEM_RESOURCES:
    case ERROR_PAGED_SYSTEM_RESOURCES:
    case ERROR_WORKING_SET_QUOTA:
    case ERROR_PAGEFILE_QUOTA:
    case ERROR_NOT_ENOUGH_QUOTA:
    case ERROR_MAX_THRDS_REACHED: return PROCSUM_EAGAIN;
    case ERROR_PARTIAL_COPY:
    case ERROR_NOACCESS:
    case ERROR_INVALID_ADDRESS: return PROCSUM_EFAULT;
    case ERROR_BUSY:
    case ERROR_PATH_BUSY: return PROCSUM_EBUSY;
    case ERROR_INVALID_PARAMETER:
    case ERROR_INVALID_HANDLE:
    case ERROR_INVALID_FLAGS: return PROCSUM_EINVAL;
    case ERROR_INSUFFICIENT_BUFFER:
    case ERROR_ARITHMETIC_OVERFLOW:
    case ERROR_BUFFER_OVERFLOW: return PROCSUM_ERANGE;
    case ERROR_NOT_SUPPORTED:
    case ERROR_CALL_NOT_IMPLEMENTED:
    case ERROR_PROC_NOT_FOUND: return PROCSUM_ENOSYS;
    case ERROR_BAD_EXE_FORMAT:
    case ERROR_INVALID_DATA: return PROCSUM_EBADMSG;
    case ERROR_OPERATION_ABORTED:
    case ERROR_CANCELLED: return PROCSUM_ECANCELED;
    default: return PROCSUM_EIO;
    }
}

int psum_os_last_error(void)
{
    return psum_win_error(GetLastError());
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
