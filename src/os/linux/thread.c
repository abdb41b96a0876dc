/* Threads, events, clocks and error codes on POSIX. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../os.h"
#include "cpu_pin.h"
#include "fault_guard.h"
#include "fork_path.h"
#include "late_start.h"

/* A pass needs little stack: 512 KiB instead of the default 8 MiB keeps a short-lived process cheap. */
#define STACK_SIZE ((size_t)512 << 10)

struct psum_os_thread {
    pthread_t handle;
    void (*fn)(void *);
    void *arg;
    pid_t made_in;      /* the process psum_os_thread_new ran in */
    void *stack;        /* sanitizer builds: STACK_SIZE bytes for a thread run in a forked child */
    bool unjoined;      /* started past the sanitizer (below): waited for through done, never joined */
    atomic_bool done;   /* fn returned */
    bool pinned;        /* started pinned to its creator's CPU (cpu_pin.c) */
    cpu_set_t allowed;  /* its creator's mask, taken back by psum_os_thread_unpin */
};

/*
 * The thread's own handle, for psum_os_thread_unpin (the caller's copy of
 * it may not be written yet). Initial-exec, as the fault guard's: a
 * forked child's checker thread then takes no allocation to reach it.
 */
static __thread psum_os_thread *self __attribute__((tls_model("initial-exec")));

static void *thread_trampoline(void *p)
{
    psum_os_thread *t = p;
    self = t;
    psum_linux_fault_guard_own_thread();
    t->fn(t->arg);
    atomic_store(&t->done, true);
    return NULL;
}

/*
 * AddressSanitizer (GCC 12's) starts each thread it knows of by asking
 * pthread_getattr_np for the thread's stack, and that allocates, in the new
 * thread, from the sanitizer's allocator: a forked child may have inherited
 * one of its locks held by another thread of the parent, and the thread
 * would then never come up. So in a forked child the checker's thread is
 * made with the C library's own pthread_create, unknown to the sanitizer,
 * on a stack mapped before the fork whose shadow is cleared here. It is
 * never joined (joining frees its table of TLS blocks), only waited for,
 * and its stack is left (it calls nothing that needs the sanitizer to know
 * it: no allocation). Found once, in the parent (psum_os_thread_new).
 */
#if defined(__SANITIZE_ADDRESS__)
#include <dlfcn.h>
#include <sanitizer/asan_interface.h>
#include <sys/mman.h>

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static create_fn libc_create;
static pthread_once_t libc_create_once = PTHREAD_ONCE_INIT;

static void find_libc_create(void)
{
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    if (!libc)
        return;
    void *fn = dlvsym(libc, "pthread_create", "GLIBC_2.34");
    if (!fn)
        fn = dlvsym(libc, "pthread_create", "GLIBC_2.2.5");
    libc_create = (create_fn)(uintptr_t)fn;
    dlclose(libc);
}

static void prepare_child_start(psum_os_thread *t)
{
    pthread_once(&libc_create_once, find_libc_create);
    void *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    t->stack = stack == MAP_FAILED ? NULL : stack;
}

/* In a forked child: the thread past the sanitizer, if it could be prepared; else pthread_create as usual. */
static int create(psum_os_thread *t, pthread_attr_t *attr)
{
    if (getpid() == t->made_in || !libc_create || !t->stack) {
        (void)pthread_attr_setstacksize(attr, STACK_SIZE);
        return pthread_create(&t->handle, attr, thread_trampoline, t);
    }
    __asan_unpoison_memory_region(t->stack, STACK_SIZE);
    int rc = pthread_attr_setstack(attr, t->stack, STACK_SIZE);
    if (rc == 0)
        rc = libc_create(&t->handle, attr, thread_trampoline, t);
    t->unjoined = rc == 0;
    return rc;
}

static void release_stack(psum_os_thread *t)
{
    if (t->stack && !t->unjoined)
        munmap(t->stack, STACK_SIZE);
}
#else
static void prepare_child_start(psum_os_thread *t)
{
    (void)t;
}

static int create(psum_os_thread *t, pthread_attr_t *attr)
{
    (void)pthread_attr_setstacksize(attr, STACK_SIZE);
    return pthread_create(&t->handle, attr, thread_trampoline, t);
}

static void release_stack(psum_os_thread *t)
{
    (void)t;
}
#endif

int psum_os_thread_new(psum_os_thread **out)
{
    psum_os_thread *t = calloc(1, sizeof(*t));
    if (!t)
        return PROCSUM_ENOMEM;
    t->made_in = getpid();
    atomic_init(&t->done, false);
    prepare_child_start(t);
    *out = t;
    return 0;
}

void psum_os_thread_discard(psum_os_thread *t)
{
    if (!t)
        return;
    release_stack(t);
    free(t);
}

/*
 * In a forked child this is the whole start of the checker's thread:
 * nothing here allocates. pthread_create itself takes its stack from the
 * C library's cache or from mmap; the C library allocates the new thread's
 * table of TLS blocks with calloc, which it makes safe around fork itself.
 */
/* Starts t; pinned to the caller's CPU for its wait (cpu_pin.c) unless pin is false (a late start: no wait). */
static int run(psum_os_thread *t, void (*fn)(void *), void *arg, bool pin)
{
    t->fn = fn;
    t->arg = arg;
    sigset_t all, old;
    /*
     * The checker must never take the process's signals. Only the faults
     * its own reads may cause stay open, for the fault guard, which sends
     * on any of them that was sent to the process (fault_guard.c).
     */
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc == 0) {
        psum_late_ordinary_scheduling(&attr); /* a late start runs on whichever thread took the signal */
        bool pinned = pin && psum_linux_cpu_pin(&t->allowed);
        t->pinned = pinned; /* the new thread may clear it at once */
        rc = create(t, &attr);
        if (pinned)
            psum_linux_cpu_unpin(&t->allowed);
        pthread_attr_destroy(&attr);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        errno = rc; /* pthread functions return their errno */
        return psum_os_last_error();
    }
    return 0;
}

int psum_os_thread_run(psum_os_thread *t, void (*fn)(void *), void *arg)
{
    return run(t, fn, arg, true);
}

/*
 * The late start itself, in the signal handler (late_start.c): nothing
 * here but pthread_create. Not pinned: the thread works at once, and the
 * interrupted thread's own mask is left alone.
 */
static int run_now(void *p)
{
    psum_os_thread *t = p;
    return run(t, t->fn, t->arg, false);
}

int psum_os_thread_run_late(psum_os_thread *t, void (*fn)(void *), void *arg)
{
    return run(t, fn, arg, false);
}

PSUM_FORK_PATH int psum_os_call_later(int (*start)(void *), void *arg, uint64_t delay_ns)
{
    uint32_t id;
    return psum_late_arm(start, arg, delay_ns, &id);
}

bool psum_os_take_back_later(int (*start)(void *), void *arg)
{
    return psum_late_take_back(start, arg);
}

/* A late start of t's thread is a call of run_now(t) made later: taken back as any other. */
int psum_os_thread_run_later(psum_os_thread *t, void (*fn)(void *), void *arg, uint64_t delay_ns)
{
    t->fn = fn;
    t->arg = arg;
    return psum_os_call_later(run_now, t, delay_ns);
}

bool psum_os_thread_cancel_later(psum_os_thread *t)
{
    return t && psum_os_take_back_later(run_now, t);
}

int psum_os_thread_prepare_later(void)
{
    return psum_late_prepare();
}

int psum_os_thread_wait(psum_os_thread *t)
{
    if (!t->unjoined)
        return pthread_join(t->handle, NULL) == 0 ? 0 : PROCSUM_EINVAL;
    while (!atomic_load(&t->done)) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    return 0;
}

int psum_os_thread_join(psum_os_thread *t)
{
    int err = psum_os_thread_wait(t);
    psum_os_thread_discard(t);
    return err;
}

bool psum_os_thread_is_current(const psum_os_thread *t)
{
    return t && pthread_equal(t->handle, pthread_self());
}

void psum_os_thread_lower_priority(void)
{
    /* On Linux a nice value applies to one thread when given its thread id. */
    pid_t tid = (pid_t)syscall(SYS_gettid);
    (void)setpriority(PRIO_PROCESS, (id_t)tid, 19);
}

void psum_os_thread_unpin(void)
{
    if (self && self->pinned) {
        psum_linux_cpu_unpin(&self->allowed);
        self->pinned = false;
    }
}

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t psum_os_monotonic_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

void psum_os_sleep_ns(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)};
    (void)nanosleep(&ts, NULL); /* cut short by a signal: the caller asks again anyway */
}

uint64_t psum_os_thread_cpu_ns(void)
{
    return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

void psum_os_wall_time(int64_t *sec, long *nsec)
{
    struct timespec ts = {0, 0};
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    *sec = (int64_t)ts.tv_sec;
    *nsec = ts.tv_nsec;
}

int psum_os_random(void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom((char *)buf + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return psum_os_last_error();
        }
        done += (size_t)n;
    }
    return 0;
}

struct psum_os_monitor {
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

int psum_os_monitor_create(psum_os_monitor **out)
{
    psum_os_monitor *m = calloc(1, sizeof(*m));
    if (!m)
        return PROCSUM_ENOMEM;
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);
    if (rc == 0) {
        rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (rc == 0)
            rc = pthread_cond_init(&m->cond, &attr);
        pthread_condattr_destroy(&attr);
    }
    if (rc == 0 && pthread_mutex_init(&m->lock, NULL) != 0) {
        pthread_cond_destroy(&m->cond);
        rc = -1;
    }
    if (rc != 0) {
        free(m);
        return PROCSUM_ENOMEM;
    }
    *out = m;
    return 0;
}

void psum_os_monitor_destroy(psum_os_monitor *m)
{
    if (!m)
        return;
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void psum_os_monitor_lock(psum_os_monitor *m)
{
    pthread_mutex_lock(&m->lock);
}

void psum_os_monitor_unlock(psum_os_monitor *m)
{
    pthread_mutex_unlock(&m->lock);
}

void psum_os_monitor_wait_until(psum_os_monitor *m, uint64_t deadline_ns)
{
    struct timespec ts = {(time_t)(deadline_ns / 1000000000u), (long)(deadline_ns % 1000000000u)};
    (void)pthread_cond_timedwait(&m->cond, &m->lock, &ts);
}

void psum_os_monitor_wake_all(psum_os_monitor *m)
{
    pthread_cond_broadcast(&m->cond);
}
