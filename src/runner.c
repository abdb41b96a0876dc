/*
 * One thread for many checkers. A watch of every process of a host with a
 * thread per process wakes a thousand threads a period, each for a pass of
 * a fraction of a millisecond: the wake-ups cost about as much as the
 * passes' own bookkeeping, and a thousand stacks sit in memory. Here the
 * checkers wait in a list, each with the instant its next pass is due, and
 * the thread runs the one due first, then the next, and sleeps until the
 * next instant only when none is due. A pass asked for (procsum_check_now)
 * is due at once. A pass due within a sixteenth of its period is run with
 * those due now rather than after another sleep: checkers started a few
 * milliseconds apart (one first look after the other) would otherwise wake
 * the thread once each, and early by so little, their next passes fall in
 * with the others', so that a period's passes come in one burst.
 *
 * Locks: a checker's monitor may be held when the runner's is taken
 * (psum_runner_ask from procsum_check_now), never the other way round: the
 * thread lets go of its monitor before it runs a pass.
 */
#include "runner.h"

#include <stdlib.h>

#include "checker.h"
#include "os/os.h"

/* How long the thread sleeps with no checker at all, before it looks again (an add wakes it anyway). */
#define IDLE_WAIT_NS 60000000000u
/* A pass due within its period's share 1/EARLY_SHARE from now is run now. */
#define EARLY_SHARE 16u

typedef struct runner_entry {
    procsum_checker *checker;
    uint64_t due_ns, period_ns;
    bool asked;
} runner_entry;

struct procsum_runner {
    psum_os_monitor *monitor;
    psum_os_thread *thread;
    uint64_t owner_pid; /* the process whose thread runs; a forked child has none */
    bool low_priority;

    /* Guarded by monitor. */
    runner_entry **entries; /* each its own block, so that the one whose pass runs stays put */
    size_t count, cap;
    const procsum_checker *current; /* whose pass runs now, NULL between passes */
    bool stopping;
};

/*
 * The entry to run first: one asked for, else the one due first, counted
 * early by its share of a period (so due "now" when that close); its
 * instant in *due_ns, and in *wake_ns the first instant any entry is due
 * on time (when to look again if none is due now). NULL when there is none.
 */
static runner_entry *first_due(const procsum_runner *r, uint64_t *due_ns, uint64_t *wake_ns)
{
    runner_entry *first = NULL;
    *wake_ns = UINT64_MAX;
    for (size_t i = 0; i < r->count; i++) {
        runner_entry *e = r->entries[i];
        uint64_t early = e->period_ns / EARLY_SHARE;
        uint64_t at = e->asked ? 0 : e->due_ns > early ? e->due_ns - early : 0;
        if (!first || at < *due_ns) {
            first = e;
            *due_ns = at;
        }
        uint64_t on_time = e->asked ? 0 : e->due_ns;
        if (on_time < *wake_ns)
            *wake_ns = on_time;
    }
    return first;
}

static void runner_thread(void *arg)
{
    procsum_runner *r = arg;
    if (r->low_priority)
        psum_os_thread_lower_priority();
    psum_os_monitor_lock(r->monitor);
    while (!r->stopping) {
        uint64_t due = 0, wake = 0;
        runner_entry *e = first_due(r, &due, &wake);
        uint64_t now = psum_os_monotonic_ns();
        if (!e || due > now) {
            /* Until the first is due on time (not early): the others then fall in with it. */
            psum_os_monitor_wait_until(r->monitor, e ? wake : now + IDLE_WAIT_NS);
            continue;
        }
        e->asked = false;
        r->current = e->checker;
        psum_os_monitor_unlock(r->monitor);
        (void)psum_checker_run_due(e->checker);
        psum_os_monitor_lock(r->monitor);
        /* From the pass's start, as a checker's own thread counts: a pass longer than the period is followed at once. */
        e->due_ns = now + e->period_ns;
        r->current = NULL;
        psum_os_monitor_wake_all(r->monitor); /* a remove waiting for this pass */
    }
    psum_os_monitor_unlock(r->monitor);
}

int psum_runner_new(const procsum_options *o, procsum_runner **out)
{
    procsum_runner *r = calloc(1, sizeof(*r));
    if (!r)
        return PROCSUM_ENOMEM;
    r->owner_pid = psum_os_process_id();
    r->low_priority = o->low_priority;
    int err = psum_os_monitor_create(&r->monitor);
    if (!err) {
        err = psum_os_thread_start(&r->thread, runner_thread, r);
        if (err)
            psum_os_monitor_destroy(r->monitor);
    }
    if (err) {
        free(r);
        return err;
    }
    *out = r;
    return 0;
}

int psum_runner_free(procsum_runner *r)
{
    if (!r || !psum_runner_is_here(r))
        return 0; /* in a forked child: its thread is the parent's, and nothing is freed */
    if (psum_runner_is_current(r))
        return PROCSUM_EBUSY;
    psum_os_monitor_lock(r->monitor);
    bool in_use = r->count > 0;
    r->stopping = !in_use;
    psum_os_monitor_wake_all(r->monitor);
    psum_os_monitor_unlock(r->monitor);
    if (in_use)
        return PROCSUM_EBUSY;
    int err = psum_os_thread_join(r->thread);
    psum_os_monitor_destroy(r->monitor);
    free(r->entries);
    free(r);
    return err;
}

int psum_runner_add(procsum_runner *r, procsum_checker *c, uint64_t first_ns, uint64_t period_ns)
{
    runner_entry *e = malloc(sizeof(*e));
    if (!e)
        return PROCSUM_ENOMEM;
    *e = (runner_entry){.checker = c, .due_ns = psum_os_monotonic_ns() + first_ns, .period_ns = period_ns};
    psum_os_monitor_lock(r->monitor);
    if (r->count == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        runner_entry **grown = realloc(r->entries, cap * sizeof(*grown));
        if (!grown) {
            psum_os_monitor_unlock(r->monitor);
            free(e);
            return PROCSUM_ENOMEM;
        }
        r->entries = grown;
        r->cap = cap;
    }
    r->entries[r->count++] = e;
    psum_os_monitor_wake_all(r->monitor);
    psum_os_monitor_unlock(r->monitor);
    return 0;
}

void psum_runner_remove(procsum_runner *r, const procsum_checker *c)
{
    psum_os_monitor_lock(r->monitor);
    while (r->current == c)
        psum_os_monitor_wait_until(r->monitor, psum_os_monotonic_ns() + 1000000000u);
    for (size_t i = 0; i < r->count; i++) {
        if (r->entries[i]->checker == c) {
            free(r->entries[i]);
            r->entries[i] = r->entries[--r->count];
            break;
        }
    }
    psum_os_monitor_unlock(r->monitor);
}

void psum_runner_ask(procsum_runner *r, const procsum_checker *c)
{
    psum_os_monitor_lock(r->monitor);
    for (size_t i = 0; i < r->count; i++)
        if (r->entries[i]->checker == c)
            r->entries[i]->asked = true;
    psum_os_monitor_wake_all(r->monitor);
    psum_os_monitor_unlock(r->monitor);
}

bool psum_runner_is_here(const procsum_runner *r)
{
    return r->owner_pid == psum_os_process_id();
}

bool psum_runner_is_current(const procsum_runner *r)
{
    return psum_os_thread_is_current(r->thread);
}
