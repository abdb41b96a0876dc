/*
 * Late starts (lazy_start, follow_fork_delay_ms): until the delay is over a
 * process has no checker thread at all; a timer's SIGURG starts it then,
 * at a safe point, whatever the program is doing at that instant (deep in
 * the allocator on several threads, asleep, waiting for a thread, reading
 * a pipe). A program that uses SIGURG itself, or blocks it, gets a thread
 * that waits instead, and keeps its handler. A signal still pending when
 * the process runs a new program kills nothing.
 *
 * Every scenario runs in a child process of its own, so that the threads
 * counted are the scenario's.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procsum.h"
#include "test_util.h"

#define PAGE ((uintptr_t)PROCSUM_PAGE_SIZE)

/* Exit codes of the scenarios' children: 0 passed, each other one names what went wrong. */
enum {
    OK = 0,
    START_FAILED = 10,
    THREAD_TOO_EARLY = 11,
    NEVER_STARTED = 12,
    NO_THREAD_WHEN_NEEDED = 13,
    HANDLER_CHANGED = 14,
    HANDLER_CALLED = 15,
    FLIP_MISSED = 16,
    STOP_FAILED = 17,
    WRONG_FINDING = 18,
    TOO_MANY_TRIES = 19,
    STARTED_AFTER_STOP = 20,
    GRANDCHILD_FAILED = 21,
};

static const char *what(int code)
{
    switch (code) {
    case START_FAILED: return "procsum_start failed";
    case THREAD_TOO_EARLY: return "a thread existed before the delay was over";
    case NEVER_STARTED: return "no pass within 20 s of the delay";
    case NO_THREAD_WHEN_NEEDED: return "no thread waiting where the signal cannot be used";
    case HANDLER_CHANGED: return "the program's SIGURG handler was replaced";
    case HANDLER_CALLED: return "the program's SIGURG handler was called";
    case FLIP_MISSED: return "a flip in the child was not found";
    case STOP_FAILED: return "procsum_stop failed";
    case WRONG_FINDING: return "a report where there was no change";
    case TOO_MANY_TRIES: return "more than 60 wake-ups in 3 s blocked where no start can be made";
    case STARTED_AFTER_STOP: return "a checker started in the child after the parent's handle was stopped there";
    case GRANDCHILD_FAILED: return "the grandchild, forked before its parent's delay was over, missed its flip";
    default: return "?";
    }
}

static int threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static atomic_int reports;

static void on_report(const procsum_mismatch *m, void *userdata)
{
    (void)userdata;
    if (!test_is_sandbox_patch(m))
        atomic_fetch_add(&reports, 1);
}

static procsum_options late_options(unsigned delay_ms)
{
    procsum_options o;
    procsum_options_init(&o);
    o.lazy_start = true;
    o.lazy_start_delay_ms = delay_ms;
    o.check_period_ms = 20;
    o.verify_file = false;
    return o;
}

static uint64_t passes_of(procsum_checker *c)
{
    procsum_stats s;
    return procsum_get_stats(c, &s) == 0 ? s.passes : 0;
}

/* Runs scenario in a child process; asserts it exited with OK. */
static void in_child(int (*scenario)(void), const char *name)
{
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        alarm(60); /* a start that deadlocked would hang the child: the alarm makes it a failure */
        _exit(scenario());
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "%s: the child died of signal %d (%s)", name, WTERMSIG(status),
              WTERMSIG(status) == SIGALRM ? "hung" : "crashed");
    cr_assert_eq(WEXITSTATUS(status), OK, "%s: %s", name, what(WEXITSTATUS(status)));
}

/* Waits, while the calling thread does what wait_step does, until c has made a pass; false after 20 s. */
static bool started_while(procsum_checker *c, void (*wait_step)(void))
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (passes_of(c) > 0)
            return true;
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 20)
            return false;
        wait_step();
    }
}

/* A start well before the delay is over leaves the process with the threads it had; then the checker runs. */
static int no_thread_before_the_delay(void)
{
    int before = threads();
    procsum_options o = late_options(300);
    procsum_checker *c;
    if (procsum_start(&o, on_report, NULL, &c) != 0)
        return START_FAILED;
    if (threads() != before)
        return THREAD_TOO_EARLY;
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 100; i++)
        nanosleep(&ms, NULL); /* 100 ms, each sleep its own call: a signal cuts at most one short */
    if (threads() != before)
        return THREAD_TOO_EARLY;
    for (int i = 0; i < 20000 && passes_of(c) == 0; i++)
        nanosleep(&ms, NULL);
    if (passes_of(c) == 0)
        return NEVER_STARTED;
    if (threads() != before + 1)
        return NO_THREAD_WHEN_NEEDED;
    if (atomic_load(&reports) != 0)
        return WRONG_FINDING;
    return procsum_stop(c) == 0 && threads() == before ? OK : STOP_FAILED;
}

Test(late_start, no_thread_before_the_delay, .timeout = 120)
{
    in_child(no_thread_before_the_delay, "sleeping");
}

/* Stopped before its delay, a checker never had a thread, and its signal never comes. */
static int stop_before_the_delay(void)
{
    int before = threads();
    procsum_options o = late_options(50);
    procsum_checker *c;
    if (procsum_start(&o, on_report, NULL, &c) != 0)
        return START_FAILED;
    if (procsum_stop(c) != 0)
        return STOP_FAILED;
    struct timespec later = {0, 200000000};
    nanosleep(&later, NULL);
    return threads() == before ? OK : THREAD_TOO_EARLY;
}

Test(late_start, stop_before_the_delay, .timeout = 120)
{
    in_child(stop_before_the_delay, "stopped early");
}

/* procsum_check_now before the delay makes the start now. */
static int check_now_starts_at_once(void)
{
    procsum_options o = late_options(60000);
    procsum_checker *c;
    if (procsum_start(&o, on_report, NULL, &c) != 0)
        return START_FAILED;
    if (procsum_check_now(c) != 0)
        return WRONG_FINDING;
    if (passes_of(c) != 1)
        return NEVER_STARTED;
    return procsum_stop(c) == 0 ? OK : STOP_FAILED;
}

Test(late_start, check_now_before_the_delay_starts_at_once, .timeout = 120)
{
    in_child(check_now_starts_at_once, "check_now");
}

/* lazy_start_thread: a thread waits the delay, as it always did. */
static int waits_on_a_thread(procsum_options o)
{
    int before = threads();
    procsum_checker *c;
    if (procsum_start(&o, on_report, NULL, &c) != 0)
        return START_FAILED;
    if (threads() != before + 1)
        return NO_THREAD_WHEN_NEEDED;
    return procsum_stop(c) == 0 ? OK : STOP_FAILED;
}

static int thread_when_asked(void)
{
    procsum_options o = late_options(60000);
    o.lazy_start_thread = true;
    return waits_on_a_thread(o);
}

Test(late_start, lazy_start_thread_waits_on_a_thread, .timeout = 120)
{
    in_child(thread_when_asked, "lazy_start_thread");
}

static atomic_int program_handler_calls;

static void program_handler(int sig)
{
    (void)sig;
    atomic_fetch_add(&program_handler_calls, 1);
}

/* A program with its own SIGURG handler keeps it, is never sent SIGURG by procsum, and is checked all the same. */
static int own_handler_kept(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = program_handler;
    if (sigaction(SIGURG, &sa, NULL) != 0)
        return START_FAILED;
    int before = threads();
    procsum_options o = late_options(50);
    procsum_checker *c;
    if (procsum_start(&o, on_report, NULL, &c) != 0)
        return START_FAILED;
    if (threads() != before + 1)
        return NO_THREAD_WHEN_NEEDED;
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 20000 && passes_of(c) == 0; i++)
        nanosleep(&ms, NULL);
    if (passes_of(c) == 0)
        return NEVER_STARTED;
    struct sigaction now;
    if (sigaction(SIGURG, NULL, &now) != 0 || now.sa_handler != program_handler)
        return HANDLER_CHANGED;
    if (atomic_load(&program_handler_calls) != 0)
        return HANDLER_CALLED;
    return procsum_stop(c) == 0 ? OK : STOP_FAILED;
}

Test(late_start, a_program_handler_of_sigurg_is_kept, .timeout = 120)
{
    in_child(own_handler_kept, "own handler");
}

/* A thread that blocks SIGURG would never take the signal: a thread waits instead. */
static int blocked_signal(void)
{
    sigset_t urg;
    sigemptyset(&urg);
    sigaddset(&urg, SIGURG);
    if (pthread_sigmask(SIG_BLOCK, &urg, NULL) != 0)
        return START_FAILED;
    return waits_on_a_thread(late_options(50));
}

Test(late_start, a_blocked_sigurg_gets_a_waiting_thread, .timeout = 120)
{
    in_child(blocked_signal, "blocked");
}

/*
 * The hazard: the signal lands while the interrupted thread holds the
 * allocator's lock, and the start (which allocates) would wait for it for
 * ever. Here three threads do nothing but allocate and free, so most
 * instants are inside malloc; each of 20 processes arms its start 1 ms
 * out and must get its checker (the alarm catches a hang).
 */
static atomic_bool churn_stop;

static void churn_once(void)
{
    void *p[16];
    for (size_t i = 0; i < 16; i++)
        p[i] = malloc(16 + (i * 997) % 4000);
    for (size_t i = 0; i < 16; i++)
        free(p[i]);
}

static void *churn(void *arg)
{
    (void)arg;
    while (!atomic_load(&churn_stop))
        churn_once();
    return NULL;
}

static int start_inside_the_allocator(void)
{
    pthread_t t[2];
    for (size_t i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, churn, NULL) != 0)
            return START_FAILED;
    procsum_options o = late_options(1);
    procsum_checker *c;
    int before = threads();
    if (procsum_start(&o, on_report, NULL, &c) != 0)
        return START_FAILED;
    if (threads() != before)
        return THREAD_TOO_EARLY; /* a start at once (a thread that waits) would not be tested here */
    bool started = started_while(c, churn_once);
    atomic_store(&churn_stop, true);
    for (size_t i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    if (!started)
        return NEVER_STARTED;
    return procsum_stop(c) == 0 ? OK : STOP_FAILED;
}

Test(late_start, starts_while_every_thread_allocates, .timeout = 300)
{
    for (int i = 0; i < 20; i++)
        in_child(start_inside_the_allocator, "allocating");
}

/* Inside the C library at every instant (memcpy, strlen): the start waits for a moment outside it, and comes. */
static void in_libc(void)
{
    static char a[1 << 16], b[1 << 16];
    memset(a, 'x', sizeof(a) - 1);
    for (int i = 0; i < 8; i++) {
        memcpy(b, a, sizeof(a));
        (void)strlen(b);
    }
}

/* procsum_start with a delay of delay_ms; the process must still have its threads when it returns. */
static int start_late(unsigned delay_ms, procsum_checker **c)
{
    int before = threads();
    procsum_options o = late_options(delay_ms);
    if (procsum_start(&o, on_report, NULL, c) != 0)
        return START_FAILED;
    return threads() == before ? OK : THREAD_TOO_EARLY;
}

/* A start delay_ms late, made while the program does `step` over and over. */
static int comes_while(unsigned delay_ms, void (*step)(void))
{
    procsum_checker *c;
    int err = start_late(delay_ms, &c);
    if (err)
        return err;
    return !started_while(c, step) ? NEVER_STARTED : procsum_stop(c) == 0 ? OK : STOP_FAILED;
}

static int start_while_in_libc(void)
{
    return comes_while(5, in_libc);
}

Test(late_start, starts_while_the_program_runs_in_the_c_library, .timeout = 120)
{
    in_child(start_while_in_libc, "in libc");
}

/* Blocked in system calls of the C library the whole time: poll, a pipe's read, a join, a condition variable. */
static void poll_a_while(void)
{
    (void)poll(NULL, 0, 50);
}

static int pipe_fds[2];

static void *write_later(void *arg)
{
    (void)arg;
    struct timespec t = {0, 500000000};
    nanosleep(&t, NULL);
    (void)!write(pipe_fds[1], "x", 1);
    return NULL;
}

static void read_a_pipe(void)
{
    pthread_t t;
    char x;
    if (pipe(pipe_fds) != 0 || pthread_create(&t, NULL, write_later, NULL) != 0)
        return;
    while (read(pipe_fds[0], &x, 1) < 0 && errno == EINTR)
        ;
    pthread_join(t, NULL);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

static void *sleep_half_a_second(void *arg)
{
    (void)arg;
    struct timespec t = {0, 500000000};
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
    return NULL;
}

static void join_a_thread(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, sleep_half_a_second, NULL) == 0)
        pthread_join(t, NULL);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

static void wait_a_condition(void)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 300000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&lock);
    (void)pthread_cond_timedwait(&cond, &lock, &until);
    pthread_mutex_unlock(&lock);
}

static void (*blocking_step)(void);

static int start_while_blocked(void)
{
    return comes_while(20, blocking_step);
}

Test(late_start, starts_while_the_program_waits_in_a_system_call, .timeout = 300)
{
    struct {
        void (*step)(void);
        const char *name;
    } waits[] = {{poll_a_while, "poll"}, {read_a_pipe, "read"}, {join_a_thread, "pthread_join"},
                 {wait_a_condition, "pthread_cond_timedwait"}};
    for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
        blocking_step = waits[i].step;
        in_child(start_while_blocked, waits[i].name);
    }
}

/*
 * Inside a handler of the program's that interrupted malloc: the handler's
 * own code is outside the C library, but the code below it holds the
 * allocator's lock. Another thread sends SIGUSR1 to the main thread every
 * 20 us while it allocates, so the timer's signal often lands on the first
 * instruction of that handler: the start must wait until it is over.
 */
static pid_t main_tid;

static void program_usr1(int sig)
{
    (void)sig;
    for (volatile int i = 0; i < 20000; i++)
        ;
}

static void *pester(void *arg)
{
    (void)arg;
    struct timespec t = {0, 20000};
    while (!atomic_load(&churn_stop)) {
        (void)syscall(SYS_tgkill, getpid(), main_tid, SIGUSR1);
        nanosleep(&t, NULL);
    }
    return NULL;
}

static int start_under_a_program_handler(void)
{
    main_tid = (pid_t)syscall(SYS_gettid);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = program_usr1;
    sa.sa_flags = SA_RESTART;
    sigset_t both, old;
    sigemptyset(&both);
    sigaddset(&both, SIGUSR1);
    sigaddset(&both, SIGURG);
    pthread_t t;
    /* The pester thread takes neither signal. */
    if (sigaction(SIGUSR1, &sa, NULL) != 0 || pthread_sigmask(SIG_BLOCK, &both, &old) != 0 ||
        pthread_create(&t, NULL, pester, NULL) != 0 || pthread_sigmask(SIG_SETMASK, &old, NULL) != 0)
        return START_FAILED;
    procsum_checker *c;
    int err = start_late(30, &c);
    bool started = !err && started_while(c, churn_once);
    atomic_store(&churn_stop, true);
    pthread_join(t, NULL);
    if (err)
        return err;
    return !started ? NEVER_STARTED : procsum_stop(c) == 0 ? OK : STOP_FAILED;
}

Test(late_start, waits_out_a_program_handler_that_interrupted_malloc, .timeout = 300)
{
    for (int i = 0; i < 6; i++)
        in_child(start_under_a_program_handler, "in a program handler");
}

/*
 * Where no start can be made (blocked writing to a full pipe for 3 s),
 * the tries thin out: a few dozen signals, not one every few
 * milliseconds. The main thread's context switches count them (each
 * signal wakes it). Then the start comes.
 */
static int drain_fd = -1;
static size_t drain_bytes;

static void *drain_later(void *arg)
{
    (void)arg;
    struct timespec t = {3, 0};
    nanosleep(&t, NULL);
    char buf[4096];
    for (ssize_t n; drain_bytes > 0 && (n = read(drain_fd, buf, sizeof(buf))) > 0;)
        drain_bytes -= (size_t)n < drain_bytes ? (size_t)n : drain_bytes;
    return NULL;
}

static long voluntary_switches(void)
{
    FILE *f = fopen("/proc/thread-self/status", "r");
    long n = -1;
    char line[128];
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

static int few_tries_while_stuck(void)
{
    int p[2];
    sigset_t urg, old;
    sigemptyset(&urg);
    sigaddset(&urg, SIGURG);
    pthread_t t;
    if (pipe(p) != 0 || fcntl(p[1], F_SETFL, O_NONBLOCK) != 0)
        return START_FAILED;
    char block[4096] = {0};
    for (ssize_t n; (n = write(p[1], block, sizeof(block))) > 0;)
        drain_bytes += (size_t)n; /* full */
    drain_bytes += sizeof(block); /* and the write below */
    drain_fd = p[0];
    if (fcntl(p[1], F_SETFL, 0) != 0 || pthread_sigmask(SIG_BLOCK, &urg, &old) != 0 ||
        pthread_create(&t, NULL, drain_later, NULL) != 0 || pthread_sigmask(SIG_SETMASK, &old, NULL) != 0)
        return START_FAILED;
    procsum_checker *c;
    int err = start_late(1, &c);
    if (err)
        return err;
    long before = voluntary_switches();
    size_t left = sizeof(block);
    while (left > 0) {
        ssize_t n = write(p[1], block, left); /* blocks until the drain: a write interrupted part way returns less */
        if (n < 0 && errno != EINTR)
            return START_FAILED;
        left -= n > 0 ? (size_t)n : 0;
    }
    long switches = voluntary_switches() - before;
    pthread_join(t, NULL);
    if (switches > 60)
        return TOO_MANY_TRIES;
    return !started_while(c, poll_a_while) ? NEVER_STARTED : procsum_stop(c) == 0 ? OK : STOP_FAILED;
}

Test(late_start, tries_thin_out_where_no_start_can_be_made, .timeout = 120)
{
    in_child(few_tries_while_stuck, "blocked writing");
}

/*
 * exec keeps pending signals and resets handlers: a late start's signal
 * still pending at exec reaches the new program, which must not die of it.
 * Each child arms its start about when it execs.
 */
Test(late_start, a_signal_pending_at_exec_kills_nothing, .timeout = 300)
{
    for (int i = 0; i < 60; i++) {
        fflush(NULL);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            procsum_options o = late_options(1 + (unsigned)(i % 3));
            procsum_checker *c;
            if (procsum_start(&o, NULL, NULL, &c) != 0)
                _exit(START_FAILED);
            uint64_t until = test_monotonic_ns() + 1000000u * (uint64_t)(i % 4) + 50000u * (uint64_t)i;
            while (test_monotonic_ns() < until)
                ;
            execl("/bin/sh", "sh", "-c", "exit 7", (char *)NULL);
            _exit(START_FAILED);
        }
        int status = 0;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status), "run %d: the new program died of signal %d", i, WTERMSIG(status));
        cr_assert_eq(WEXITSTATUS(status), 7, "run %d: exit %d", i, WEXITSTATUS(status));
    }
}

int late_victim(int x);
__attribute__((noinline, used, aligned(4096))) int late_victim(int x)
{
    return x * 29 + 3;
}

int late_victim_of_child(int x);
__attribute__((noinline, used, aligned(4096))) int late_victim_of_child(int x)
{
    return x * 31 + 5;
}

int late_victim_of_grandchild(int x);
__attribute__((noinline, used, aligned(4096))) int late_victim_of_grandchild(int x)
{
    return x * 37 + 7;
}

/* Flips one bit of fn's code (a few bytes in: the page is fn's alone). */
static bool flip_code_bit(uintptr_t fn)
{
    uintptr_t addr = fn + 1, page = addr & ~(PAGE - 1);
    if (mprotect((void *)page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
        return false;
    *(volatile uint8_t *)addr ^= 0x10;
    return mprotect((void *)page, PAGE, PROT_READ | PROT_EXEC) == 0;
}

static bool wait_for_report(void)
{
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 20000 && atomic_load(&reports) == 0; i++)
        nanosleep(&ms, NULL);
    return atomic_load(&reports) == 1;
}

static procsum_options follow_options(void)
{
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = 20;
    o.verify_file = false;
    o.follow_fork = true;
    o.follow_fork_delay_ms = 300;
    return o;
}

/* The parent's checker (follow_fork, 300 ms late) in the following scenarios' children. */
static procsum_checker *followed;

/* 100 ms into the 300 ms delay no thread yet, then the change is reported: OK, or what went wrong. */
static int still_no_thread_then_a_report(void)
{
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 100; i++)
        nanosleep(&ms, NULL);
    if (threads() != 1)
        return THREAD_TOO_EARLY;
    return wait_for_report() ? OK : FLIP_MISSED;
}

/*
 * follow_fork_delay_ms: a forked child has no checker thread until the
 * delay is over, even when it asks for its checker at once, then goes on
 * from the parent's baseline, so a change made in the child before its
 * first pass is found.
 */
static int asks_for_its_checker_at_once(void)
{
    if (threads() != 1)
        return THREAD_TOO_EARLY;
    procsum_checker *child = procsum_forked(followed);
    if (!child)
        return START_FAILED;
    if (!flip_code_bit((uintptr_t)&late_victim))
        return START_FAILED;
    int found = still_no_thread_then_a_report();
    if (found != OK)
        return found;
    return procsum_stop(child) == 0 && procsum_stop(followed) == 0 ? OK : STOP_FAILED;
}

/*
 * A child that never asks for its checker: the checker takes over when
 * the delay is over (nothing of it is written at the fork), and a child
 * the child forks before then is followed as well, from the same baseline:
 * each finds the flip made in its own process before its first pass.
 */
static int left_alone(void)
{
    pid_t grandchild = fork();
    if (grandchild < 0)
        return START_FAILED;
    if (grandchild == 0) {
        if (threads() != 1 || !flip_code_bit((uintptr_t)&late_victim_of_grandchild))
            _exit(THREAD_TOO_EARLY);
        _exit(wait_for_report() ? OK : FLIP_MISSED);
    }
    if (threads() != 1 || !flip_code_bit((uintptr_t)&late_victim_of_child))
        return THREAD_TOO_EARLY;
    int found = still_no_thread_then_a_report();
    if (found != OK)
        return found;
    if (threads() != 2)
        return NEVER_STARTED;
    int status = 0;
    if (waitpid(grandchild, &status, 0) != grandchild || !WIFEXITED(status) || WEXITSTATUS(status) != OK)
        return GRANDCHILD_FAILED;
    procsum_checker *child = procsum_forked(followed);
    return child && procsum_stop(child) == 0 && procsum_stop(followed) == 0 ? OK : STOP_FAILED;
}

/* Stopping the parent's handle in the child before the delay is over: no checker ever starts there. */
static int stop_the_parents_handle(void)
{
    if (procsum_stop(followed) != 0)
        return STOP_FAILED;
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 700; i++)
        nanosleep(&ms, NULL);
    return threads() == 1 && procsum_forked(followed) == NULL ? OK : STARTED_AFTER_STOP;
}

static void with_a_followed_parent(int (*scenario)(void), const char *name)
{
    procsum_options o = follow_options();
    cr_assert_eq(procsum_start(&o, on_report, NULL, &followed), 0);
    in_child(scenario, name);
    cr_assert_eq(atomic_load(&reports), 0, "%s: the changes were the children's only", name);
    cr_assert_eq(procsum_stop(followed), 0);
}

Test(late_start, a_forked_child_starts_late_from_the_parents_baseline, .timeout = 120)
{
    with_a_followed_parent(asks_for_its_checker_at_once, "asks at once");
}

Test(late_start, a_child_left_alone_takes_over_late_and_so_does_its_own_child, .timeout = 120)
{
    with_a_followed_parent(left_alone, "left alone");
}

Test(late_start, stopping_the_parents_handle_in_a_child_takes_back_its_late_checker, .timeout = 60)
{
    with_a_followed_parent(stop_the_parents_handle, "stopped in the child");
}
