/*
 * The checking loop: passes, pacing, stop, requests from other threads.
 *
 * Every pass runs on the checker's thread (procsum_run: the caller's), so
 * the baseline needs no lock. Other threads talk to it through one monitor:
 * they set a request and wait for the pass that serves it. The callback runs
 * with the monitor unlocked.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"
#include "fork.h"
#include "os/os.h"
#include "pass/pass.h"
#include "procsum.h"
#include "report.h"
#include "runner.h"
#include "text.h"
#include "fork_path.h"

/* What another thread may ask of the checker. */
typedef enum request {
    REQUEST_NONE = 0,
    REQUEST_CHECK = 1,     /* one pass now */
    REQUEST_REBASELINE = 2 /* one pass that adopts everything, without reports */
} request;

/* A live handle's first word; a freed one is overwritten first, so a second stop is caught. */
#define CHECKER_ALIVE 0x70737563u
#define CHECKER_DEAD 0xdeadc0deu

struct procsum_checker {
    uint32_t magic;
    procsum_options opts; /* its skip_files is skip_files below */
    char **skip_files;    /* the checker's own copy of the caller's list (one block) */
    procsum_callback cb;
    void *userdata;
    uint64_t owner_pid; /* the process whose thread checks; a forked child has none */
    long pid;           /* options.pid: the process checked, 0 for this one */
    psum_os_target *target; /* NULL until checker_complete */
    psum_os_thread *thread;
    psum_os_region_list regions;
    bool have_regions;
    bool discovery_failed; /* the last pass failed listing the regions (procsum_run ends then) */
    bool forked;           /* started in a forked child by follow_fork (see start_thread) */
    uint64_t first_wait_ns; /* what the thread waits before its first pass (a late start: nothing) */
    bool late_armed;        /* its start is armed for later (run_thread), not yet made or taken back */
    /*
     * One of snaps, or NULL. A pass builds its snapshot in the other one
     * (in the tables of the snapshot before last: no allocation) and then
     * swaps the pointer: never edited in place, so that a fork at any
     * instant leaves the child a complete baseline (follow_fork).
     */
    _Atomic(psum_snapshot *) baseline;
    psum_snapshot snaps[2];
    psum_pass pass;

    /* Guarded by monitor. */
    psum_os_monitor *monitor;
    bool stopping;
    bool running;          /* the thread is past its start-up */
    request pending;       /* the request waiting for a pass */
    uint64_t requests;     /* requests made */
    uint64_t served;       /* requests whose pass is over */
    int served_result;     /* result of the last served request */

    atomic_bool stop_flag; /* stopping, readable between slices without the lock */
    uint64_t pass_started_ns, pass_started_cpu_ns;
    uint64_t pass_mismatches;
    uint64_t cpu_offset_ns; /* on a runner: its thread's CPU time before this checker's pass, less cpu_ns */
    bool on_callers_thread; /* the first look, made by procsum_start: not paced */

    atomic_uint_least64_t mismatches;
    atomic_uint_least64_t passes;
    atomic_uint_least64_t slow_passes;
    atomic_uint_least64_t pages_tracked;
    atomic_uint_least64_t pages_skipped;
    atomic_uint_least64_t regions_hashed;
    atomic_uint_least64_t bytes_hashed;
    atomic_uint_least64_t table_bytes;
    atomic_uint_least64_t last_pass_ns;
    atomic_uint_least64_t cpu_ns;
    atomic_int last_error; /* of the latest failed pass in the background; 0 if none */
    atomic_uint_least64_t new_programs; /* another process ran a new program: a fresh baseline each time */
    atomic_uint_least64_t pages_shared;  /* digests the last pass took from options.digest_cache */
    atomic_uint_least64_t quiet_passes;  /* passes that compared bytes only (psum_snapshot_quiet) */

    procsum_checker *forked_child; /* follow_fork: the checker started in this (child) process */
    /*
     * follow_fork: the checker the next forked child runs, made before a
     * fork (prepare_child) and kept for the next one until a child takes it.
     */
    procsum_checker *next_child;
    procsum_checker *next_left; /* on the list of checkers left in a forked child (leave_in_child) */
};

static void prepare_child(void *followed);
static void restart_in_child(void *followed);
static int adopt_late(void *parent);

static void on_change(const psum_change *ch, void *userdata)
{
    procsum_checker *c = userdata;
    atomic_fetch_add(&c->mismatches, 1);
    c->pass_mismatches++;
    /* The callback may fork: out of the gate while it runs. */
    psum_os_fork_gate_leave();
    psum_report_change(ch, c->opts.algorithm, c->cb, c->userdata);
    psum_os_fork_gate_enter();
}

/*
 * Between slices: honours a stop, and keeps the thread within its CPU
 * budget by sleeping until its CPU time is that share of the pass's wall
 * time.
 */
static int pace(procsum_checker *c)
{
    if (atomic_load(&c->stop_flag))
        return PROCSUM_ECANCELED;
    unsigned budget = c->opts.max_cpu_percent;
    if (budget == 0 || budget >= 100 || c->on_callers_thread)
        return 0;
    uint64_t cpu = psum_os_thread_cpu_ns() - c->pass_started_cpu_ns;
    uint64_t wall = psum_os_monotonic_ns() - c->pass_started_ns;
    uint64_t needed = cpu / budget * 100u;
    if (needed <= wall)
        return 0;
    uint64_t deadline = psum_os_monotonic_ns() + (needed - wall);
    psum_os_monitor_lock(c->monitor);
    while (!c->stopping && psum_os_monotonic_ns() < deadline)
        psum_os_monitor_wait_until(c->monitor, deadline);
    bool stopping = c->stopping;
    psum_os_monitor_unlock(c->monitor);
    return stopping ? PROCSUM_ECANCELED : 0;
}

/* Between two slices nothing is half done: the place to let a waiting fork through. */
static int between_slices(void *ctx)
{
    psum_os_fork_gate_leave();
    int err = pace(ctx);
    psum_os_fork_gate_enter();
    return err;
}

static int discover(procsum_checker *c)
{
    int err = psum_os_list_regions(c->target, &c->regions);
    c->discovery_failed = err != 0;
    if (err)
        return err;
    c->have_regions = true;
    return 0;
}

/*
 * One full pass: rediscover unless search_once, hash, compare, adopt.
 * `fresh` takes the pages as they are now, as the first pass does: settled
 * at once, no comparison, no report.
 */
static int check_once_in_gate(procsum_checker *c, bool fresh)
{
    /* Another process may have exited, or exec'd: a new program's code has nothing to do with the old baseline. */
    bool new_program;
    int refreshed = psum_os_target_refresh(c->target, &new_program);
    if (refreshed == PROCSUM_EAGAIN) {
        c->pass_mismatches = 0; /* an exec under way: this period has no pass, the next one looks */
        return 0;
    }
    if (refreshed)
        return refreshed;
    if (new_program) {
        atomic_fetch_add(&c->new_programs, 1);
        c->have_regions = false;
        fresh = true;
    }
    if (!c->have_regions || !c->opts.search_once) {
        int err = discover(c);
        if (err)
            return err;
    }
    c->pass_started_ns = psum_os_monotonic_ns();
    c->pass_started_cpu_ns = psum_os_thread_cpu_ns();
    c->pass_mismatches = 0;
    psum_snapshot *prev = atomic_load(&c->baseline);
    psum_snapshot *next = prev == &c->snaps[0] ? &c->snaps[1] : &c->snaps[0];
    const psum_snapshot *old = fresh ? NULL : prev;
    bool quiet = false;
    int err = old ? psum_snapshot_quiet(&c->pass, &c->regions, prev, c->pass_started_ns, &quiet) : 0;
    if (!err && !quiet)
        err = psum_snapshot_take(&c->pass, &c->regions, old, next, on_change, c);
    if (err)
        return err;
    if (quiet)
        next = prev; /* it stands as the baseline */
    atomic_store(&c->baseline, next);
    uint64_t took = psum_os_monotonic_ns() - c->pass_started_ns;
    atomic_store(&c->last_pass_ns, took);
    if (took > (uint64_t)c->opts.check_period_ms * 1000000u)
        atomic_fetch_add(&c->slow_passes, 1);
    atomic_store(&c->pages_tracked, next->page_count);
    atomic_store(&c->pages_skipped, c->pass.pages_skipped);
    atomic_store(&c->pages_shared, c->pass.pages_shared);
    atomic_store(&c->regions_hashed, next->region_count);
    atomic_store(&c->bytes_hashed, c->pass.bytes_read);
    if (!quiet)
        atomic_store(&c->table_bytes, psum_table_bytes(next, prev));
    atomic_store(&c->cpu_ns, psum_os_thread_cpu_ns() - c->cpu_offset_ns);
    atomic_fetch_add(&c->passes, 1);
    if (quiet)
        atomic_fetch_add(&c->quiet_passes, 1);
    return 0;
}

static int check_once(procsum_checker *c, bool fresh)
{
    psum_os_fork_gate_enter();
    int err = check_once_in_gate(c, fresh);
    psum_os_fork_gate_leave();
    return err;
}

/* Unmaps both snapshots' tables (mapped memory: safe in a forked child too). */
static void free_baseline(procsum_checker *c)
{
    atomic_store(&c->baseline, NULL);
    psum_snapshot_free(&c->snaps[0]);
    psum_snapshot_free(&c->snaps[1]);
}

static void checker_free(procsum_checker *c)
{
    if (!c)
        return;
    if (c->next_child) {
        psum_os_thread_discard(c->next_child->thread); /* its thread never ran */
        checker_free(c->next_child);
    }
    psum_pass_free(&c->pass);
    free_baseline(c);
    psum_os_region_list_free(&c->regions);
    psum_os_monitor_destroy(c->monitor);
    psum_os_target_close(c->target);
    free(c->skip_files);
    c->magic = CHECKER_DEAD;
    free(c);
}

/*
 * The parts of a checker its passes need: the target and the pass's
 * buffers and key. Made by checker_new, or, for a lazy start in the
 * calling process, by the thread before its first pass: most processes of
 * a script end before then, and each page these touch is a page fault.
 * Inside the fork gate, as any allocation of procsum's thread. A failure
 * is retried at the next pass.
 */
static int checker_complete(procsum_checker *c)
{
    if (c->target)
        return 0;
    psum_os_fork_gate_enter();
    int err = psum_os_target_open(c->pid, &c->target);
    if (!err) {
        err = psum_pass_init(&c->pass, &c->opts, c->target, between_slices, c);
        if (err) {
            psum_os_target_close(c->target);
            c->target = NULL;
        }
        /* Another process's page table tells when nothing but bytes could have changed since the last pass. */
        c->pass.quiet_passes = c->pid != 0;
    }
    psum_os_fork_gate_leave();
    return err;
}

/*
 * pid: the process to check, 0 for the calling one through its loader (see
 * os.h). Complete (checker_complete) unless `later`.
 */
static int checker_new(const procsum_options *o, procsum_callback cb, void *userdata, long pid, bool later,
                       procsum_checker **out)
{
    if (!psum_algorithm_valid(o->algorithm))
        return PROCSUM_EINVAL;
    procsum_checker *c = calloc(1, sizeof(*c));
    if (!c)
        return PROCSUM_ENOMEM;
    c->magic = CHECKER_ALIVE;
    c->opts = *o;
    c->pid = pid;
    c->owner_pid = psum_os_process_id();
    c->cb = cb;
    c->userdata = userdata;
    /* calloc's zeroes are the counters' start (atomic_init of each would write pages a short process never reads). */
    atomic_init(&c->stop_flag, false);
    atomic_init(&c->baseline, NULL);
    int err = psum_text_dup_list(o->skip_files, &c->skip_files);
    c->opts.skip_files = (const char *const *)c->skip_files;
    if (!err)
        err = psum_os_monitor_create(&c->monitor);
    if (!err && !later)
        err = checker_complete(c);
    if (err) {
        checker_free(c);
        return err;
    }
    *out = c;
    return 0;
}

/*
 * Waits out the rest of the period that began at `started`, or until a stop
 * or a request. A pass longer than the period leaves nothing to wait: the
 * next one starts at once. Returns false when stopping, else the request to
 * serve (REQUEST_NONE for an ordinary pass) in *req.
 */
static bool wait_for_next_pass(procsum_checker *c, uint64_t started, uint64_t period, request *req)
{
    uint64_t deadline = started + period;
    psum_os_monitor_lock(c->monitor);
    while (!c->stopping && c->pending == REQUEST_NONE && psum_os_monotonic_ns() < deadline)
        psum_os_monitor_wait_until(c->monitor, deadline);
    bool go_on = !c->stopping;
    *req = c->pending;
    c->pending = REQUEST_NONE;
    psum_os_monitor_unlock(c->monitor);
    return go_on;
}

static void serve(procsum_checker *c, request req, int result)
{
    if (req == REQUEST_NONE)
        return;
    psum_os_monitor_lock(c->monitor);
    c->served = c->requests;
    c->served_result = result;
    psum_os_monitor_wake_all(c->monitor);
    psum_os_monitor_unlock(c->monitor);
}

/* options.pass_callback, after a pass. */
static void tell_pass(procsum_checker *c)
{
    if (!c->opts.pass_callback)
        return;
    procsum_stats s;
    psum_checker_stats(c, &s);
    c->opts.pass_callback(&s, c->userdata);
}

/*
 * One pass of the checker's turn, asked for by req (REQUEST_NONE: the
 * period's), and its answer to whoever asked. false once it is stopping.
 */
static bool pass_and_serve(procsum_checker *c, request req)
{
    int err = checker_complete(c);
    /* Code patched on purpose is adopted as it is, not compared with its file. */
    c->pass.verify_new_pages = c->opts.verify_file && req != REQUEST_REBASELINE;
    /* Without a baseline yet (lazy_start, or its first pass failed) the pass takes one. */
    bool fresh = req == REQUEST_REBASELINE || atomic_load(&c->baseline) == NULL;
    if (!err)
        err = check_once(c, fresh);
    c->pass.verify_new_pages = c->opts.verify_file;
    uint64_t found = c->pass_mismatches;
    /* Asked for an answer now: give changes held for a second look that look at once. */
    if (!err && !fresh && req == REQUEST_CHECK && c->pass.pages_held > 0) {
        err = check_once(c, false);
        found += c->pass_mismatches;
    }
    if (err == PROCSUM_ECANCELED) {
        serve(c, req, err);
        return false;
    }
    /* A failed pass (say /proc briefly out of file descriptors) is retried next period. */
    atomic_store(&c->last_error, err);
    tell_pass(c);
    serve(c, req, err ? err : (int)(found > (uint64_t)INT32_MAX ? INT32_MAX : found));
    return true;
}

static void checker_thread(void *arg)
{
    procsum_checker *c = arg;
    psum_os_monitor_lock(c->monitor);
    c->running = true;
    psum_os_monitor_wake_all(c->monitor);
    psum_os_monitor_unlock(c->monitor);
    uint64_t started = psum_os_monotonic_ns();
    uint64_t period = (uint64_t)c->opts.check_period_ms * 1000000u;
    uint64_t wait = c->first_wait_ns;
    request req;
    /*
     * The priority drops only when there is work: a process that ends
     * within the first wait (most processes of a script) then exits with a
     * thread of ordinary priority, which the kernel schedules at once to
     * finish it; a thread at the lowest priority on a busy machine can hold
     * the process's exit (and its parent's wait) for milliseconds. The
     * thread also waits on the CPU that started it (psum_os_thread_unpin).
     */
    bool waited = false;
    for (; wait_for_next_pass(c, started, wait, &req); wait = period) {
        if (!waited) {
            psum_os_thread_unpin();
            if (c->opts.low_priority)
                psum_os_thread_lower_priority();
            waited = true;
        }
        started = psum_os_monotonic_ns();
        if (!pass_and_serve(c, req))
            break;
    }
}

bool psum_checker_run_due(procsum_checker *c)
{
    psum_os_monitor_lock(c->monitor);
    request req = c->pending;
    c->pending = REQUEST_NONE;
    bool stopping = c->stopping;
    psum_os_monitor_unlock(c->monitor);
    if (stopping)
        return false;
    /* The runner's thread serves many checkers: this one's cpu_ns counts its own passes only. */
    c->cpu_offset_ns = psum_os_thread_cpu_ns() - atomic_load(&c->cpu_ns);
    return pass_and_serve(c, req);
}

/* How long a caller waits for a checker thread that has not come up before it gives up. */
#define THREAD_START_TIMEOUT_NS 5000000000u

/* Whether the thread came up within the deadline; with the monitor held. */
static bool wait_running(procsum_checker *c, uint64_t deadline)
{
    while (!c->running && psum_os_monotonic_ns() < deadline)
        psum_os_monitor_wait_until(c->monitor, deadline);
    return c->running;
}

/*
 * Under AddressSanitizer, returns once the thread is running: its start-up
 * allocates outside the fork gate, and that allocator is not fork-safe, so
 * a fork at that instant could leave the child a lock nobody will release.
 * The C library's allocator is fork-safe: there procsum_start need not wait
 * for a thread that, at the lowest priority on a busy machine, may not run
 * for a while. (A forked child's checker starts in restart_in_child, which
 * never waits inside fork().)
 */
#if defined(__SANITIZE_ADDRESS__)
#define WAIT_FOR_THREAD true
#else
#define WAIT_FOR_THREAD false
#endif

static uint64_t ms_to_ns(unsigned ms)
{
    return (uint64_t)ms * 1000000u;
}

/*
 * Starts the thread of c (whose handle is made) delay_ns from now: late,
 * with no thread before then, where the platform and the program allow
 * (psum_os_thread_run_later; c->late_armed); else at once, and the thread
 * waits first_wait_ns before its first pass.
 */
static int run_thread(procsum_checker *c, uint64_t delay_ns, uint64_t first_wait_ns)
{
    c->late_armed = false;
    if (delay_ns && !c->opts.lazy_start_thread) {
        c->first_wait_ns = 0;
        if (psum_os_thread_run_later(c->thread, checker_thread, c, delay_ns) == 0) {
            c->late_armed = true;
            return 0;
        }
    }
    c->first_wait_ns = first_wait_ns;
    return psum_os_thread_run(c->thread, checker_thread, c);
}

/*
 * A start armed for later, taken back (stop) or made now (a pass is asked
 * for). false when the thread runs, or is being started, anyway. With the
 * monitor held, so that one caller does it.
 */
static bool take_back_late_start(procsum_checker *c)
{
    if (!c->late_armed)
        return false;
    c->late_armed = false;
    return psum_os_thread_cancel_later(c->thread);
}

static int start_thread(procsum_checker *c)
{
    int err = psum_os_thread_new(&c->thread);
    if (err)
        return err;
    /* The unsafe code is found here, not in a forked child (late_start.c). */
    if (!c->opts.lazy_start_thread && (c->opts.lazy_start || c->opts.follow_fork))
        (void)psum_os_thread_prepare_later();
    uint64_t lazy = ms_to_ns(c->opts.lazy_start_delay_ms);
    if (c->opts.lazy_start)
        err = run_thread(c, lazy, lazy);
    else
        err = run_thread(c, 0, ms_to_ns(c->opts.check_period_ms));
    if (err) {
        psum_os_thread_discard(c->thread);
        c->thread = NULL;
        return err;
    }
    if (!WAIT_FOR_THREAD || c->late_armed)
        return 0;
    psum_os_monitor_lock(c->monitor);
    while (!wait_running(c, psum_os_monotonic_ns() + THREAD_START_TIMEOUT_NS))
        ;
    psum_os_monitor_unlock(c->monitor);
    return 0;
}

/* On a runner: no thread of its own; its first pass when the lazy delay or a period is over. */
static int join_runner(procsum_checker *c)
{
    uint64_t period = ms_to_ns(c->opts.check_period_ms);
    c->running = true;
    return psum_runner_add(c->opts.runner, c, c->opts.lazy_start ? ms_to_ns(c->opts.lazy_start_delay_ms) : period,
                           period);
}

/* Stopping: a pass under way ends at its next slice, a wait for the next pass at once. */
static void ask_to_stop(procsum_checker *c)
{
    atomic_store(&c->stop_flag, true);
    psum_os_monitor_lock(c->monitor);
    c->stopping = true;
    psum_os_monitor_wake_all(c->monitor);
    psum_os_monitor_unlock(c->monitor);
}

/* Takes a checker on a runner out of turn, once a pass under way is cut short. */
static void leave_runner(procsum_checker *c)
{
    ask_to_stop(c);
    psum_runner_remove(c->opts.runner, c);
}

/* Whether the calling thread is the one c's passes run on (its own, or its runner's): it must not wait for them. */
static bool on_checkers_thread(const procsum_checker *c)
{
    return c->opts.runner ? psum_runner_is_current(c->opts.runner) : psum_os_thread_is_current(c->thread);
}

int psum_checker_start(const procsum_options *o, procsum_callback cb, void *userdata, procsum_checker **out)
{
    if (o->runner && !psum_runner_is_here(o->runner))
        return PROCSUM_EINVAL; /* a runner made before a fork: its thread is in the parent */
    procsum_checker *c;
    int err = checker_new(o, cb, userdata, o->pid, o->lazy_start && o->pid == 0, &c);
    if (err)
        return err;
    if (!o->lazy_start) {
        /* The budget is the checker's thread's: the caller, who waits for this pass, is not held back. */
        c->on_callers_thread = true;
        c->cpu_offset_ns = psum_os_thread_cpu_ns(); /* cpu_ns: this pass's own, not the caller's whole time */
        err = check_once(c, true);
        c->on_callers_thread = false;
        /* A thread of its own adds its time from its start to this pass's: the counter never goes back. */
        c->cpu_offset_ns = 0 - atomic_load(&c->cpu_ns);
    }
    if (!err)
        err = o->runner ? join_runner(c) : start_thread(c);
    if (!err && o->follow_fork)
        err = psum_fork_follow(c, prepare_child, restart_in_child);
    if (err) {
        if (o->runner)
            leave_runner(c);
        if (c->thread && take_back_late_start(c)) {
            psum_os_thread_discard(c->thread);
            c->thread = NULL;
        }
        if (c->thread) {
            ask_to_stop(c);
            psum_os_thread_join(c->thread);
        }
        checker_free(c);
        return err;
    }
    *out = c;
    return 0;
}

/* Checkers stopped in a forked child (leave_in_child), linked through next_left. */
static _Atomic(procsum_checker *) left_in_child;

/*
 * Stops nothing: in a forked child, gives back what procsum mapped itself
 * and leaves the rest. Another thread of the parent may have held the
 * allocator's lock at the fork, and not every allocator is reset by fork
 * (AddressSanitizer's in GCC 12 is not): a free could then wait for ever.
 * So the tables, scratch buffers and listing buffers (all mapped, see
 * os.h) are unmapped and the target's descriptors closed, and the few
 * blocks the parent allocated for this checker (itself, its target,
 * monitor, thread handle, file cache, copy of skip_files) are left, on a
 * list that keeps them reachable so that a leak checker does not count
 * them. The same for a checker of the parent (no thread here) and for the
 * one made ready for the next fork. docs/limits.md says what it costs.
 */
static void leave_in_child(procsum_checker *c)
{
    if (c->next_child)
        leave_in_child(c->next_child);
    free_baseline(c);
    psum_pass_abandon(&c->pass);
    psum_os_region_list_free(&c->regions); /* its names are the list's own: nothing freed */
    psum_os_target_abandon(c->target);
    c->magic = CHECKER_DEAD;
    c->next_left = atomic_load(&left_in_child);
    while (!atomic_compare_exchange_weak(&left_in_child, &c->next_left, c))
        ;
}

int psum_checker_stop(procsum_checker *c)
{
    /* A checker of the parent: its thread is not here, and the child's checker it would hand over is not wanted. */
    if (c->owner_pid != psum_os_process_id()) {
        psum_os_fork_gate_enter();
        (void)psum_os_take_back_later(adopt_late, c);
        psum_fork_unfollow(c);
        leave_in_child(c);
        psum_os_fork_gate_leave();
        return 0;
    }
    if (on_checkers_thread(c))
        return PROCSUM_EBUSY;
    if (c->opts.follow_fork)
        psum_fork_unfollow(c);
    if (c->opts.runner) {
        leave_runner(c);
        checker_free(c);
        return 0;
    }
    atomic_store(&c->stop_flag, true);
    psum_os_monitor_lock(c->monitor);
    c->stopping = true;
    psum_os_monitor_wake_all(c->monitor);
    bool never_ran = take_back_late_start(c);
    bool running = never_ran || wait_running(c, psum_os_monotonic_ns() + THREAD_START_TIMEOUT_NS);
    psum_os_monitor_unlock(c->monitor);
    if (never_ran && c->forked) {
        leave_in_child(c);
        return 0;
    }
    if (never_ran) {
        psum_os_thread_discard(c->thread);
        c->thread = NULL;
        checker_free(c);
        return 0;
    }
    /* A thread that never came up (see start_thread) cannot be joined: it and its checker are left. */
    if (!running)
        return PROCSUM_EAGAIN;
    int err = psum_os_thread_wait(c->thread);
    if (c->forked) {
        leave_in_child(c);
        return err;
    }
    psum_os_thread_discard(c->thread);
    c->thread = NULL;
    checker_free(c);
    return err;
}

/* Asks the checker's thread for a pass and waits for its result. */
static int request_pass(procsum_checker *c, request req)
{
    if (c->owner_pid != psum_os_process_id())
        return PROCSUM_ESRCH; /* the checker thread lives in the parent */
    if (on_checkers_thread(c))
        return PROCSUM_EBUSY;
    psum_os_monitor_lock(c->monitor);
    /* A rebaseline outranks a check asked for at the same time: its pass serves both. */
    if (c->pending != REQUEST_REBASELINE)
        c->pending = req;
    uint64_t ticket = ++c->requests;
    psum_os_monitor_wake_all(c->monitor);
    if (c->opts.runner)
        psum_runner_ask(c->opts.runner, c);
    /* A start armed for later is made now: the pass is wanted now. */
    if (take_back_late_start(c)) {
        c->first_wait_ns = 0;
        int err = psum_os_thread_run(c->thread, checker_thread, c);
        if (err) {
            psum_os_monitor_unlock(c->monitor);
            return err;
        }
    }
    if (!wait_running(c, psum_os_monotonic_ns() + THREAD_START_TIMEOUT_NS)) {
        psum_os_monitor_unlock(c->monitor);
        return PROCSUM_EAGAIN; /* its thread never came up (see start_thread) */
    }
    /*
     * A forked child's passes allocate nothing from the program's
     * allocator, which another thread of the parent may have left locked,
     * but describing a change (symbols, instructions) does: there, a pass
     * gets a generous bound rather than none.
     */
    uint64_t give_up = c->forked ? psum_os_monotonic_ns() + 6 * THREAD_START_TIMEOUT_NS : UINT64_MAX;
    while (!c->stopping && c->served < ticket && psum_os_monotonic_ns() < give_up)
        psum_os_monitor_wait_until(c->monitor, psum_os_monotonic_ns() + 1000000000u);
    int result = c->served >= ticket ? c->served_result : c->stopping ? PROCSUM_ECANCELED : PROCSUM_EAGAIN;
    psum_os_monitor_unlock(c->monitor);
    return result;
}

int psum_checker_request(procsum_checker *c, bool rebaseline)
{
    return request_pass(c, rebaseline ? REQUEST_REBASELINE : REQUEST_CHECK);
}

void psum_checker_stats(const procsum_checker *c, procsum_stats *out)
{
    procsum_checker *m = (procsum_checker *)c; /* atomics are read through a non-const pointer */
    memset(out, 0, sizeof(*out));
    out->passes = atomic_load(&m->passes);
    out->mismatches = atomic_load(&m->mismatches);
    out->bytes_hashed = atomic_load(&m->bytes_hashed);
    out->pages_tracked = atomic_load(&m->pages_tracked);
    out->regions = atomic_load(&m->regions_hashed);
    out->last_pass_ns = atomic_load(&m->last_pass_ns);
    out->cpu_ns = atomic_load(&m->cpu_ns);
    out->slow_passes = atomic_load(&m->slow_passes);
    out->skipped_pages = atomic_load(&m->pages_skipped);
    out->table_bytes = atomic_load(&m->table_bytes);
    out->last_error = atomic_load(&m->last_error);
    out->new_programs = atomic_load(&m->new_programs);
    out->pages_shared = atomic_load(&m->pages_shared);
    out->quiet_passes = atomic_load(&m->quiet_passes);
}

int psum_checker_run(const procsum_options *o, procsum_callback cb, void *userdata)
{
    procsum_checker *c;
    int err = checker_new(o, cb, userdata, o->pid, false, &c);
    if (err)
        return err;
    if (o->low_priority)
        psum_os_thread_lower_priority();
    request req;
    bool fresh = true;
    for (uint64_t started = psum_os_monotonic_ns();;) {
        err = check_once(c, fresh);
        /* pass_callback hears of every pass, the one that ends run too. */
        atomic_store(&c->last_error, err);
        tell_pass(c);
        /*
         * As process_consistency's run(): only a failed discovery ends it; any other failure is retried.
         * Another process that exited (or whose id now names a later one) has no regions left to discover.
         */
        if (err && (c->discovery_failed || err == PROCSUM_ESRCH))
            break;
        fresh = fresh && err != 0;
        wait_for_next_pass(c, started, (uint64_t)c->opts.check_period_ms * 1000000u, &req);
        started = psum_os_monotonic_ns();
    }
    checker_free(c);
    return err;
}

/*
 * follow_fork, in the parent before each fork: the checker the child will
 * run, with everything it holds (target, monitor, the pass's buffers, the
 * thread's handle), so that the child allocates nothing before its thread
 * runs. Its passes then allocate nothing from the program's allocator
 * either: their tables and buffers are mapped (os.h: psum_os_map), made
 * here or grown there, and the baseline it goes on from is the parent's,
 * handed over with the tables of the parent's other snapshot to build in
 * (move_snapshots). The parent never runs it: it is kept for the forks to
 * come, and a fork costs no allocation after the first. The target is the
 * parent's process for now (one that exists), pointed at the child there.
 */
PSUM_FORK_PATH static void prepare_child(void *followed)
{
    procsum_checker *parent = followed;
    if (parent->next_child)
        return;
    procsum_checker *c;
    /* The digest cache's lock may be held by another thread at the instant of the fork: the child does without. */
    procsum_options o = parent->opts;
    o.digest_cache = NULL;
    o.runner = NULL; /* its thread is the parent's */
    if (checker_new(&o, parent->cb, parent->userdata, (long)psum_os_process_id(), false, &c) != 0)
        return; /* the child gets no checker (procsum_forked: NULL) */
    if (psum_os_thread_new(&c->thread) != 0) {
        checker_free(c);
        return;
    }
    parent->next_child = c;
}

/*
 * Hands from's baseline, and the tables of its other snapshot to build in,
 * to `to` (whose snapshots are empty): copies of two structures, nothing
 * allocated. Nothing moves while from has no baseline.
 */
static void move_snapshots(procsum_checker *from, procsum_checker *to)
{
    psum_snapshot *b = atomic_exchange(&from->baseline, NULL);
    if (!b)
        return;
    psum_snapshot *spare = b == &from->snaps[0] ? &from->snaps[1] : &from->snaps[0];
    to->snaps[0] = *b;
    to->snaps[1] = *spare;
    memset(from->snaps, 0, sizeof(from->snaps));
    atomic_store(&to->baseline, &to->snaps[0]);
}

/*
 * follow_fork: the checker made for a child (parent->next_child) takes over
 * from the parent's in the child. The child's code is the parent's at the
 * instant of the fork, so it goes on from the parent's last complete
 * baseline instead of taking a fresh one (which would hide anything
 * changed in between). Called inside the fork gate, so that another
 * thread's fork sees it all or nothing. 0, or an error with everything as
 * it was.
 *
 * Another thread of the parent may have held any lock at the instant of
 * the fork, and the child inherits it held: the allocator's (the C
 * library's is reset by fork, AddressSanitizer's is not), the loader's.
 * So nothing here allocates or frees (the checker was made before the
 * fork), and the child's checker reads its process as it would read
 * another one (its maps, process_vm_readv), never through the loader.
 *
 * start(c) starts its thread, or arms the start (start_now).
 */
static int adopt(procsum_checker *parent, int (*start)(procsum_checker *c))
{
    procsum_checker *c = parent->next_child;
    int err = c ? psum_os_target_repoint(c->target, (long)psum_os_process_id()) : PROCSUM_ENOMEM;
    if (!err) {
        c->owner_pid = psum_os_process_id();
        /* The inherited baseline was digested with the parent's key (a parent without one may have no key yet). */
        if (atomic_load(&parent->baseline))
            c->pass.key = parent->pass.key;
        c->forked = true;
        move_snapshots(parent, c);
        err = start(c);
        if (err)
            move_snapshots(c, parent);
    }
    if (!err) {
        parent->next_child = NULL;
        parent->forked_child = c;
        psum_fork_replace(parent, c);
    }
    return err;
}

/*
 * With the parent's baseline, the child's first pass comes a period after
 * the fork, or when follow_fork_delay_ms is over; without one
 * (lazy_start), the child takes its own when its delay is over.
 */
PSUM_FORK_PATH static uint64_t delay_in_child(const procsum_checker *c, bool with_baseline)
{
    return ms_to_ns(with_baseline ? c->opts.follow_fork_delay_ms : c->opts.lazy_start_delay_ms);
}

static int start_now(procsum_checker *c)
{
    bool with_baseline = atomic_load(&c->baseline) != NULL;
    return run_thread(c, delay_in_child(c, with_baseline),
                      with_baseline ? ms_to_ns(c->opts.check_period_ms) : delay_in_child(c, false));
}

/* The delay is over (psum_os_call_later): the first pass at once. */
static int start_late(procsum_checker *c)
{
    c->late_armed = false;
    c->first_wait_ns = 0;
    return psum_os_thread_run_late(c->thread, checker_thread, c);
}

/*
 * The takeover armed by restart_in_child, from the timer's signal handler:
 * it never waits for the gate (the thread holding it may wait for a lock
 * the interrupted code holds) but has the start tried again a little later.
 * Nothing to do (0) when the takeover was made meanwhile or the parent's
 * handle stopped (procsum_forked, procsum_stop).
 */
static int adopt_late(void *p)
{
    procsum_checker *parent = p;
    if (!psum_os_fork_gate_try_enter())
        return PROCSUM_EAGAIN;
    int err = psum_checker_alive(parent) && parent->next_child ? adopt(parent, start_late) : 0;
    psum_os_fork_gate_leave();
    return err;
}

/* Adopts now, inside the gate; on failure the child is not watched, nor are its own children. */
static void adopt_or_drop(procsum_checker *parent)
{
    psum_os_fork_gate_enter();
    if (adopt(parent, start_now) != 0)
        psum_fork_unfollow(parent);
    psum_os_fork_gate_leave();
}

/*
 * A takeover not made yet (restart_in_child armed it, or the timer gave
 * up) made now: the child's handle is asked for. Inside the gate, so that
 * a takeover the handler is making on another thread is over first.
 */
static void adopt_now(procsum_checker *parent)
{
    psum_os_fork_gate_enter();
    bool armed = psum_os_take_back_later(adopt_late, parent);
    if ((armed || !parent->forked_child) && parent->next_child && psum_checker_alive(parent))
        adopt_or_drop(parent);
    psum_os_fork_gate_leave();
}

/*
 * follow_fork: in the child, right after fork. Every page written here is
 * copied for the child, and a page fault is dear (bench/preload/
 * preload_cost.sh: a fork/exec-heavy script pays them in every fork, and
 * most children exec at once). So where the child's checker starts late
 * anyway, it only arms that start (the timer's record is all it writes);
 * the checker takes over when the delay is over (adopt_late). Until then
 * the child's registry names the parent's checker: a fork in between
 * prepares and restarts it as this one did.
 */
PSUM_FORK_PATH static void restart_in_child(void *followed)
{
    procsum_checker *parent = followed;
    const procsum_checker *c = parent->next_child;
    if (c && !c->opts.lazy_start_thread) {
        uint64_t delay = delay_in_child(c, atomic_load(&parent->baseline) != NULL);
        if (delay && psum_os_call_later(adopt_late, parent, delay) == 0)
            return;
    }
    adopt_or_drop(parent);
}

bool psum_checker_alive(const procsum_checker *c)
{
    return c->magic == CHECKER_ALIVE;
}

procsum_checker *psum_checker_forked(const procsum_checker *parent)
{
    if (parent->owner_pid == psum_os_process_id())
        return NULL;
    adopt_now((procsum_checker *)parent);
    return parent->forked_child;
}
