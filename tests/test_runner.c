/*
 * A runner (options.runner): checkers that take turns on one thread. Each
 * still finds its changes, by itself every period and when asked; the
 * process has one thread more, not one per checker; stops, asks and passes
 * race safely; a callback on the runner's thread cannot wait for it.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procsum.h"
#include "test_util.h"

#define CHECKERS 8

/* What one checker's callback saw. */
typedef struct seen {
    atomic_int reports;
    atomic_int others; /* a first look that found a page other than main's differing from its file */
    procsum_checker *neighbour; /* another checker on the same runner, asked from the callback */
    procsum_runner *runner;
    int ask_result, stop_result, free_result;
} seen;

static void count(const procsum_mismatch *m, void *userdata)
{
    seen *s = userdata;
    if (m->kind != PROCSUM_REPORT_CHANGED) {
        if (!test_is_sandbox_patch(m))
            atomic_fetch_add(&s->others, 1);
        return;
    }
    atomic_fetch_add(&s->reports, 1);
    if (s->neighbour) {
        s->ask_result = procsum_check_now(s->neighbour);
        s->stop_result = procsum_stop(s->neighbour);
        s->free_result = procsum_runner_free(s->runner);
    }
}

int runner_victim(int x);
__attribute__((noinline, used)) int runner_victim(int x)
{
    return x * 13 - 7;
}

static void flip(int bit)
{
    test_flip_code((uintptr_t)&runner_victim + 2, bit);
}

static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static procsum_runner *new_runner(void)
{
    procsum_options o;
    procsum_options_init(&o);
    procsum_runner *r = NULL;
    int err = procsum_runner_new(&o, &r);
    cr_assert_eq(err, 0, "%s", procsum_strerror(err));
    cr_assert_not_null(r);
    return r;
}

static procsum_checker *start_on(procsum_runner *r, unsigned period_ms, seen *s)
{
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = period_ms;
    o.runner = r;
    procsum_checker *c = NULL;
    int err = procsum_start(&o, count, s, &c);
    cr_assert_eq(err, 0, "%s", procsum_strerror(err));
    return c;
}

Test(runner, checkers_share_one_thread_and_each_finds_the_change)
{
    int before = thread_count();
    procsum_runner *r = new_runner();
    cr_assert_eq(thread_count(), before + 1, "the runner's thread");
    static seen s[CHECKERS];
    procsum_checker *c[CHECKERS];
    for (int i = 0; i < CHECKERS; i++)
        c[i] = start_on(r, 3600 * 1000, &s[i]);
    cr_assert_eq(thread_count(), before + 1, "no thread of their own");
    for (int i = 0; i < CHECKERS; i++)
        cr_assert_eq(procsum_check_now(c[i]), 0, "nothing changed yet");
    flip(3);
    for (int i = 0; i < CHECKERS; i++) {
        cr_assert_eq(procsum_check_now(c[i]), 1, "checker %d finds the change", i);
        cr_assert_eq(atomic_load(&s[i].reports), 1);
        cr_assert_eq(procsum_check_now(c[i]), 0, "once");
    }
    flip(3);
    for (int i = 0; i < CHECKERS; i++) {
        cr_assert_eq(procsum_stop(c[i]), 0);
        cr_assert_eq(atomic_load(&s[i].others), 0);
    }
    cr_assert_eq(procsum_runner_free(r), 0);
    cr_assert_eq(thread_count(), before, "the runner's thread has ended");
}

Test(runner, passes_come_every_period_without_asking)
{
    procsum_runner *r = new_runner();
    static seen s[3];
    procsum_checker *c[3];
    for (int i = 0; i < 3; i++)
        c[i] = start_on(r, 20 + 10 * (unsigned)i, &s[i]);
    for (int i = 0; i < 3; i++)
        test_wait_passes(c[i], 3);
    flip(6);
    for (int i = 0; i < 3; i++) {
        for (int wait = 0; wait < 60000 && atomic_load(&s[i].reports) == 0; wait++)
            usleep(1000);
        cr_assert_eq(atomic_load(&s[i].reports), 1, "checker %d found the change by itself, once", i);
    }
    flip(6); /* the byte put back: a change each finds too */
    for (int i = 0; i < 3; i++) {
        for (int wait = 0; wait < 60000 && atomic_load(&s[i].reports) < 2; wait++)
            usleep(1000);
        test_wait_passes(c[i], 2);
        cr_assert_eq(atomic_load(&s[i].reports), 2, "checker %d found the byte put back by itself, once", i);
        procsum_stats st;
        cr_assert_eq(procsum_get_stats(c[i], &st), 0);
        cr_assert_gt(st.cpu_ns, 0, "its passes' CPU time");
        cr_assert_eq(procsum_stop(c[i]), 0);
        cr_assert_eq(atomic_load(&s[i].others), 0);
    }
    cr_assert_eq(procsum_runner_free(r), 0);
}

/* Thread CPU time spent here, in ms: a measure of work, not of the clock. */
static double thread_cpu_ms(void)
{
    struct timespec ts;
    cr_assert_eq(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts), 0);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A checker's cpu_ns counts its own passes: not the time its starting thread spent before. */
Test(runner, cpu_time_is_the_checkers_own)
{
    volatile uint64_t x = 1;
    double from = thread_cpu_ms();
    while (thread_cpu_ms() - from < 400.0)
        x = x * 6364136223846793005u + 1;
    procsum_runner *r = new_runner();
    static seen s;
    procsum_checker *c = start_on(r, 3600 * 1000, &s);
    cr_assert_eq(procsum_check_now(c), 0);
    procsum_stats st;
    cr_assert_eq(procsum_get_stats(c, &st), 0);
    cr_assert_gt(st.cpu_ns, 0);
    cr_assert_lt((double)st.cpu_ns / 1e6, thread_cpu_ms() - 300.0, "%.1f ms: the starting thread's time counted",
                 (double)st.cpu_ns / 1e6);
    cr_assert_eq(procsum_stop(c), 0);
    cr_assert_eq(procsum_runner_free(r), 0);
}

Test(runner, a_runner_in_use_is_not_freed)
{
    procsum_options o;
    procsum_options_init(&o);
    procsum_runner *r = NULL;
    cr_assert_eq(procsum_runner_new(NULL, &r), PROCSUM_EINVAL);
    cr_assert_eq(procsum_runner_new(&o, NULL), PROCSUM_EINVAL);
    cr_assert_eq(procsum_runner_free(NULL), 0);
    r = new_runner();
    static seen s;
    procsum_checker *c = start_on(r, 3600 * 1000, &s);
    cr_assert_eq(procsum_runner_free(r), PROCSUM_EBUSY);
    cr_assert_eq(procsum_check_now(c), 0, "the runner still serves its checker");
    cr_assert_eq(procsum_stop(c), 0);
    cr_assert_eq(procsum_runner_free(r), 0);
}

Test(runner, procsum_run_refuses_a_runner)
{
    procsum_runner *r = new_runner();
    procsum_options o;
    procsum_options_init(&o);
    o.runner = r;
    cr_assert_eq(procsum_run(&o, NULL, NULL), PROCSUM_EINVAL);
    cr_assert_eq(procsum_runner_free(r), 0);
}

Test(runner, a_callback_on_the_runner_cannot_wait_for_it)
{
    procsum_runner *r = new_runner();
    static seen s, other;
    procsum_checker *neighbour = start_on(r, 3600 * 1000, &other);
    procsum_checker *c = start_on(r, 3600 * 1000, &s);
    s.neighbour = neighbour;
    s.runner = r;
    flip(4);
    cr_assert_eq(procsum_check_now(c), 1);
    flip(4);
    cr_assert_eq(s.ask_result, PROCSUM_EBUSY, "a pass of another checker of the same runner");
    cr_assert_eq(s.stop_result, PROCSUM_EBUSY, "stopping one");
    cr_assert_eq(s.free_result, PROCSUM_EBUSY, "freeing the runner");
    cr_assert_eq(procsum_stop(c), 0);
    cr_assert_eq(procsum_stop(neighbour), 0, "the neighbour was left running");
    cr_assert_eq(procsum_runner_free(r), 0);
}

/* The racing threads: each asks for passes of its checker, then stops it, while the runner's passes go on. */
typedef struct racer {
    procsum_checker *c;
    int asks;
    int failures;
} racer;

static void *race(void *arg)
{
    racer *x = arg;
    for (int i = 0; i < x->asks; i++)
        x->failures += procsum_check_now(x->c) < 0;
    x->failures += procsum_stop(x->c) != 0;
    return NULL;
}

Test(runner, stops_and_asks_race_the_passes, .timeout = 300)
{
    for (int round = 0; round < 20; round++) {
        procsum_runner *r = new_runner();
        static seen s[CHECKERS];
        racer x[CHECKERS];
        pthread_t t[CHECKERS];
        for (int i = 0; i < CHECKERS; i++) {
            x[i] = (racer){.c = start_on(r, 1, &s[i]), .asks = (round + i) % 4};
            cr_assert_eq(pthread_create(&t[i], NULL, race, &x[i]), 0);
        }
        for (int i = 0; i < CHECKERS; i++) {
            cr_assert_eq(pthread_join(t[i], NULL), 0);
            cr_assert_eq(x[i].failures, 0, "round %d, checker %d", round, i);
            cr_assert_eq(atomic_load(&s[i].others), 0);
        }
        cr_assert_eq(procsum_runner_free(r), 0);
    }
}

Test(runner, a_forked_child_checks_on_a_thread_of_its_own)
{
    procsum_runner *r = new_runner();
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = 3600 * 1000;
    o.runner = r;
    o.follow_fork = true;
    static seen s;
    procsum_checker *c = NULL;
    cr_assert_eq(procsum_start(&o, count, &s, &c), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        procsum_checker *child = procsum_forked(c);
        int code = child ? 0 : 10;
        if (!code && procsum_check_now(child) != 0)
            code = 11;
        flip(2);
        if (!code && procsum_check_now(child) != 1)
            code = 12;
        if (!code && procsum_stop(child) != 0)
            code = 13;
        procsum_checker *late = NULL;
        if (!code && procsum_start(&o, count, &s, &late) != PROCSUM_EINVAL)
            code = 15; /* the parent's runner: its thread is not here */
        if (!code && (procsum_stop(c) != 0 || procsum_runner_free(r) != 0))
            code = 14; /* the parent's handles: released, nothing waited for */
        _exit(code);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "the child ended by itself");
    cr_assert_eq(WEXITSTATUS(status), 0, "the child's check (code %d)", WEXITSTATUS(status));
    cr_assert_eq(procsum_check_now(c), 0, "the parent's code is unchanged");
    cr_assert_eq(procsum_stop(c), 0);
    cr_assert_eq(procsum_runner_free(r), 0);
}
