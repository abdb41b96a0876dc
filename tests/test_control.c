/* Control of a running checker: check_now, rebaseline, the CPU budget, follow_fork. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procsum.h"
#include "test_util.h"

#define PAGE ((uintptr_t)PROCSUM_PAGE_SIZE)

static atomic_int reports;
static atomic_int other_findings;
static int check_now_from_callback = 1;
static procsum_checker *current;

static void count(const procsum_mismatch *m, void *userdata)
{
    (void)userdata;
    /* A page that differed from its file at the start: only Criterion's jump over main may (test_util.h). */
    if (m->kind != PROCSUM_REPORT_CHANGED) {
        if (!test_is_sandbox_patch(m))
            atomic_fetch_add(&other_findings, 1);
        return;
    }
    atomic_fetch_add(&reports, 1);
    if (current)
        check_now_from_callback = procsum_check_now(current);
}

/* Stops c; no page but main's differed from its file meanwhile. */
static void stop_checker(procsum_checker *c)
{
    cr_assert_eq(procsum_stop(c), 0);
    cr_assert_eq(atomic_load(&other_findings), 0, "a page other than main's differed from its file");
}

int control_victim(int x);
__attribute__((noinline, used)) int control_victim(int x)
{
    return x * 11 - 4;
}

static void flip(int bit)
{
    test_flip_code((uintptr_t)&control_victim + 2, bit);
}

static procsum_checker *start(procsum_options *o)
{
    procsum_checker *c = NULL;
    int err = procsum_start(o, count, NULL, &c);
    cr_assert_eq(err, 0, "%s", procsum_strerror(err));
    return c;
}

static procsum_options slow_options(void)
{
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = 3600 * 1000; /* nothing happens unless asked */
    return o;
}

Test(control, check_now_finds_a_change_at_once)
{
    procsum_options o = slow_options();
    procsum_checker *c = start(&o);
    cr_assert_eq(procsum_check_now(c), 0, "nothing changed yet");
    flip(1);
    cr_assert_eq(procsum_check_now(c), 1, "the change, confirmed within the same call");
    cr_assert_eq(atomic_load(&reports), 1);
    cr_assert_eq(procsum_check_now(c), 0, "reported once");
    flip(1);
    cr_assert_eq(procsum_check_now(c), 1, "restoring is a change too");
    stop_checker(c);
}

Test(control, rebaseline_adopts_intentional_patches)
{
    procsum_options o = slow_options();
    procsum_checker *c = start(&o);
    flip(5);
    cr_assert_eq(procsum_rebaseline(c), 0);
    cr_assert_eq(procsum_check_now(c), 0, "the patched code is the new baseline");
    cr_assert_eq(atomic_load(&reports), 0);
    flip(5);
    cr_assert_eq(procsum_check_now(c), 1, "and changes from it are still caught");
    stop_checker(c);
}

Test(control, check_now_from_the_callback_is_refused)
{
    procsum_options o = slow_options();
    procsum_checker *c = start(&o);
    current = c;
    flip(2);
    cr_assert_eq(procsum_check_now(c), 1);
    current = NULL;
    cr_assert_eq(check_now_from_callback, PROCSUM_EBUSY);
    stop_checker(c);
}

Test(control, invalid_budget_is_refused)
{
    procsum_options o;
    procsum_options_init(&o);
    o.max_cpu_percent = 101;
    procsum_checker *c = NULL;
    cr_assert_eq(procsum_start(&o, count, NULL, &c), PROCSUM_EINVAL);
    cr_assert_null(c);
    cr_assert_eq(procsum_check_now(NULL), PROCSUM_EINVAL);
    cr_assert_eq(procsum_rebaseline(NULL), PROCSUM_EINVAL);
}

static procsum_stats stats_after(procsum_checker *c, uint64_t passes)
{
    procsum_stats s;
    for (int i = 0; i < 120000; i++) {
        cr_assert_eq(procsum_get_stats(c, &s), 0);
        if (s.passes >= passes)
            break;
        usleep(1000);
    }
    cr_assert_geq(s.passes, passes);
    return s;
}

/*
 * A 1% budget makes every pass last at least 100 times its CPU time, so
 * with a 1 ms period every pass overruns it; without a budget a pass of a
 * few milliseconds never overruns a 10 s period.
 */
Test(control, cpu_budget_paces_passes)
{
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = 1;
    o.max_cpu_percent = 1;
    procsum_checker *c = start(&o);
    procsum_stats s = stats_after(c, 4);
    cr_assert_geq(s.slow_passes, 2, "paced passes overrun a 1 ms period (%lu of %lu)", (unsigned long)s.slow_passes,
                  (unsigned long)s.passes);
    cr_assert_eq(procsum_stop(c), 0, "a stop interrupts the pacing");

    o.check_period_ms = 10000;
    o.max_cpu_percent = 0;
    c = start(&o);
    cr_assert_eq(procsum_check_now(c), 0);
    s = stats_after(c, 2);
    cr_assert_eq(s.slow_passes, 0);
    stop_checker(c);
}

/*
 * The budget holds the share: over several paced passes the checker's CPU
 * time stays near max_cpu_percent of the time that went by (a ratio of two
 * measured times, not a deadline). Normal priority, so that without pacing
 * the checker would take far more on any machine.
 */
Test(control, cpu_budget_holds_the_share)
{
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = 1;
    o.max_cpu_percent = 10;
    o.low_priority = false;
    procsum_checker *c = start(&o);
    procsum_stats first = stats_after(c, 2);
    uint64_t t0 = test_monotonic_ns();
    procsum_stats last = stats_after(c, first.passes + 10);
    uint64_t wall = test_monotonic_ns() - t0;
    uint64_t cpu = last.cpu_ns - first.cpu_ns;
    cr_log_info("%llu ns of CPU over %llu ns, %llu passes", (unsigned long long)cpu, (unsigned long long)wall,
                (unsigned long long)(last.passes - first.passes));
    cr_assert_gt(cpu, 0u);
    cr_assert_lt(cpu * 100, wall * 2 * o.max_cpu_percent, "%.1f%% of a core against a budget of %u%%",
                 100.0 * (double)cpu / (double)wall, o.max_cpu_percent);
    stop_checker(c);
}

/*
 * cpu_ns counts the first pass, made on the caller's thread, and then the
 * checker's thread's: a counter for metrics, which never goes back (it fell
 * to the thread's time alone at its first pass).
 */
Test(control, cpu_time_never_goes_back)
{
    procsum_options o = slow_options();
    procsum_checker *c = start(&o);
    procsum_stats first, now;
    cr_assert_eq(procsum_get_stats(c, &first), 0);
    cr_assert_gt(first.cpu_ns, 0u, "the first pass's CPU time");
    uint64_t was = first.cpu_ns;
    for (int i = 0; i < 3; i++) {
        cr_assert_geq(procsum_check_now(c), 0);
        cr_assert_eq(procsum_get_stats(c, &now), 0);
        cr_assert_geq(now.cpu_ns, was, "cpu_ns went from %llu to %llu ns after pass %llu", (unsigned long long)was,
                      (unsigned long long)now.cpu_ns, (unsigned long long)now.passes);
        was = now.cpu_ns;
    }
    stop_checker(c);
}

/* The nice value of the thread that appeared since `before` (a list of thread ids ending in 0). */
static int new_thread_nice(const long *before)
{
    DIR *d = opendir("/proc/self/task");
    cr_assert_not_null(d);
    long found = 0;
    for (struct dirent *e; (e = readdir(d));) {
        long tid = strtol(e->d_name, NULL, 10);
        bool old = tid <= 0;
        for (const long *b = before; !old && *b; b++)
            old = *b == tid;
        if (!old) {
            cr_assert_eq(found, 0, "one new thread: the checker's");
            found = tid;
        }
    }
    closedir(d);
    cr_assert_neq(found, 0, "the checker's thread is in /proc/self/task");
    return test_thread_nice(found);
}

static void threads_now(long *tids, size_t cap)
{
    DIR *d = opendir("/proc/self/task");
    cr_assert_not_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strtol(e->d_name, NULL, 10) > 0 && n + 1 < cap)
            tids[n++] = strtol(e->d_name, NULL, 10);
    closedir(d);
    tids[n] = 0;
}

Test(control, low_priority_lowers_only_the_checker_thread)
{
    long before[64];
    threads_now(before, 64);
    int own = test_thread_nice(0);
    procsum_options o = slow_options();
    cr_assert(o.low_priority, "the default");
    procsum_checker *c = start(&o);
    cr_assert_eq(procsum_check_now(c), 0);
    cr_assert_eq(new_thread_nice(before), 19, "the checker runs at the lowest priority");
    cr_assert_eq(test_thread_nice(0), own, "the caller's thread keeps its priority");
    stop_checker(c);

    o.low_priority = false;
    c = start(&o);
    cr_assert_eq(procsum_check_now(c), 0);
    cr_assert_eq(new_thread_nice(before), own, "without low_priority the checker keeps the process's priority");
    stop_checker(c);
}

Test(control, follow_fork_checks_the_child)
{
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = 5;
    o.follow_fork = true;
    procsum_checker *c = start(&o);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        alarm(30);
        procsum_checker *child = procsum_forked(c);
        if (!child)
            _exit(10);
        flip(3); /* only the child's copy of the code changes */
        for (int i = 0; i < 20000 && atomic_load(&reports) == 0; i++)
            usleep(1000);
        int seen = atomic_load(&reports);
        if (procsum_stop(child) != 0 || procsum_stop(c) != 0)
            _exit(11);
        _exit(seen == 1 && atomic_load(&other_findings) == 0 ? 0 : 12);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "the child died of signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_assert_eq(WEXITSTATUS(status), 0, "child status %d (10: no checker, 11: stop failed, 12: no report)",
                 WEXITSTATUS(status));
    cr_assert_null(procsum_forked(c), "the parent has no forked checker of its own");
    cr_assert_eq(procsum_check_now(c), 0, "the parent's code did not change");
    cr_assert_eq(atomic_load(&reports), 0);
    stop_checker(c);
}

/* pass_callback: once after every pass, with the counters procsum_get_stats gives and the userdata. */
static atomic_int pass_calls;
static _Atomic uint64_t pass_seen, pass_mismatches;
static atomic_intptr_t pass_userdata;

static void on_pass(const procsum_stats *s, void *userdata)
{
    atomic_fetch_add(&pass_calls, 1);
    atomic_store(&pass_seen, s->passes);
    atomic_store(&pass_mismatches, s->mismatches);
    atomic_store(&pass_userdata, (intptr_t)userdata);
}

Test(control, pass_callback_follows_every_pass)
{
    procsum_options o = slow_options();
    o.pass_callback = on_pass;
    int token = 0;
    procsum_checker *c = NULL;
    cr_assert_eq(procsum_start(&o, count, &token, &c), 0);
    cr_assert_eq(atomic_load(&pass_calls), 0, "procsum_start's own baseline is taken before the thread runs");
    for (int i = 1; i <= 3; i++) {
        cr_assert_eq(procsum_check_now(c), 0);
        cr_assert_eq(atomic_load(&pass_calls), i, "one call per pass, made before check_now returns");
        cr_assert_eq(atomic_load(&pass_seen), test_passes(c));
    }
    uint64_t before = atomic_load(&pass_mismatches); /* Criterion's patch of main, if any (test_util.h) */
    flip(5);
    cr_assert_eq(procsum_check_now(c), 1);
    cr_assert_eq(atomic_load(&pass_mismatches), before + 1, "the report is counted in the pass that made it");
    cr_assert_eq(atomic_load(&pass_userdata), (intptr_t)&token);
    flip(5);
    cr_assert_eq(procsum_rebaseline(c), 0);
    stop_checker(c);
}

/* A forked child's checker calls it with counters of its own, from zero. */
Test(control, pass_callback_in_a_forked_child)
{
    procsum_options o = slow_options();
    o.pass_callback = on_pass;
    o.follow_fork = true;
    procsum_checker *c = start(&o);
    cr_assert_eq(procsum_check_now(c), 0);
    cr_assert_eq(procsum_check_now(c), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        alarm(30);
        procsum_checker *child = procsum_forked(c);
        atomic_store(&pass_calls, 0);
        if (!child || procsum_check_now(child) != 0)
            _exit(10);
        bool fresh = atomic_load(&pass_calls) == 1 && atomic_load(&pass_seen) == 1;
        _exit(fresh && procsum_stop(child) == 0 && procsum_stop(c) == 0 ? 0 : 11);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "the child died of signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_assert_eq(WEXITSTATUS(status), 0, "child status %d (10: no checker or pass, 11: not its own counters)",
                 WEXITSTATUS(status));
    stop_checker(c);
}
