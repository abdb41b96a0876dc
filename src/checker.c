/* The checking loop: passes, pacing, stop; and the benchmark pass. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "os/os.h"
#include "procsum.h"
#include "report.h"
#include "snapshot.h"

struct procsum_checker {
    procsum_options opts;
    uint64_t owner_pid; /* the process whose thread checks; a forked child has none */
    procsum_callback cb;
    void *userdata;
    psum_os_target *target;
    psum_os_event *stop;
    psum_os_thread *thread;
    psum_os_region_list regions;
    bool have_regions;
    psum_snapshot baseline;
    psum_pass pass;
    atomic_uint_least64_t mismatches;
    atomic_uint_least64_t passes;
    atomic_uint_least64_t pages_tracked;
    atomic_uint_least64_t regions_hashed;
    atomic_uint_least64_t bytes_hashed;
    atomic_uint_least64_t last_pass_ns;
    atomic_uint_least64_t cpu_ns;
    atomic_int last_error; /* of the latest failed pass in the background; 0 if none */
};

static int validate(const procsum_options *o)
{
    if (!o || !psum_algorithm_valid(o->algorithm))
        return PROCSUM_EINVAL;
    return 0;
}

static void on_change(const psum_change *ch, void *userdata)
{
    procsum_checker *c = userdata;
    atomic_fetch_add(&c->mismatches, 1);
    psum_report_change(ch, c->opts.algorithm, c->cb, c->userdata);
}

static int discover(procsum_checker *c)
{
    int err = psum_os_list_regions(c->target, &c->regions);
    if (err)
        return err;
    c->have_regions = true;
    return 0;
}

/* One full pass: rediscover unless search_once, hash, compare, adopt. */
static int check_once(procsum_checker *c)
{
    if (!c->have_regions || !c->opts.search_once) {
        int err = discover(c);
        if (err)
            return err;
    }
    uint64_t started = psum_os_monotonic_ns();
    psum_snapshot next;
    /* The first pass takes the program as it was started: its pages are settled at once. */
    const psum_snapshot *old = atomic_load(&c->passes) > 0 ? &c->baseline : NULL;
    int err = psum_snapshot_take(&c->pass, &c->regions, old, &next, on_change, c);
    if (err)
        return err;
    psum_snapshot_free(&c->baseline);
    c->baseline = next;
    atomic_store(&c->last_pass_ns, psum_os_monotonic_ns() - started);
    atomic_store(&c->pages_tracked, next.page_count);
    atomic_store(&c->regions_hashed, next.region_count);
    atomic_store(&c->bytes_hashed, c->pass.bytes_read);
    atomic_store(&c->cpu_ns, psum_os_thread_cpu_ns());
    atomic_fetch_add(&c->passes, 1);
    return 0;
}

static void checker_free(procsum_checker *c)
{
    if (!c)
        return;
    psum_pass_free(&c->pass);
    psum_snapshot_free(&c->baseline);
    psum_os_region_list_free(&c->regions);
    psum_os_event_destroy(c->stop);
    psum_os_target_close(c->target);
    free(c);
}

static int checker_new(const procsum_options *o, procsum_callback cb, void *userdata, procsum_checker **out)
{
    int err = validate(o);
    if (err)
        return err;
    procsum_checker *c = calloc(1, sizeof(*c));
    if (!c)
        return PROCSUM_ENOMEM;
    c->opts = *o;
    c->owner_pid = psum_os_process_id();
    c->cb = cb;
    c->userdata = userdata;
    atomic_init(&c->mismatches, 0);
    atomic_init(&c->passes, 0);
    atomic_init(&c->pages_tracked, 0);
    atomic_init(&c->regions_hashed, 0);
    atomic_init(&c->bytes_hashed, 0);
    atomic_init(&c->last_pass_ns, 0);
    atomic_init(&c->cpu_ns, 0);
    atomic_init(&c->last_error, 0);
    err = psum_os_target_open(0, &c->target);
    if (!err)
        err = psum_os_event_create(&c->stop);
    if (!err)
        err = psum_pass_init(&c->pass, o, c->target, c->stop);
    if (err) {
        checker_free(c);
        return err;
    }
    *out = c;
    return 0;
}

/*
 * Waits out the rest of the period that began at `started`. A pass longer
 * than the period leaves nothing to wait: the next one starts at once.
 * Returns true when a stop was requested.
 */
static bool wait_for_next_period(procsum_checker *c, uint64_t started)
{
    uint64_t period = (uint64_t)c->opts.check_period_ms * 1000000u;
    uint64_t now = psum_os_monotonic_ns();
    uint64_t elapsed = now > started ? now - started : 0;
    uint64_t left = elapsed < period ? period - elapsed : 0;
    if (left == 0)
        return psum_os_event_is_set(c->stop);
    return psum_os_event_wait(c->stop, left);
}

static void checker_thread(void *arg)
{
    procsum_checker *c = arg;
    psum_os_thread_lower_priority();
    uint64_t started = psum_os_monotonic_ns();
    while (!wait_for_next_period(c, started)) {
        started = psum_os_monotonic_ns();
        int err = check_once(c);
        if (err == PROCSUM_ECANCELED)
            break;
        /* A failed pass (say /proc briefly out of file descriptors) is retried next period. */
        atomic_store(&c->last_error, err);
    }
}

int procsum_start(const procsum_options *o, procsum_callback cb, void *userdata, procsum_checker **out)
{
    if (!out)
        return PROCSUM_EINVAL;
    *out = NULL;
    procsum_checker *c;
    int err = checker_new(o, cb, userdata, &c);
    if (err)
        return err;
    err = check_once(c);
    if (!err)
        err = psum_os_thread_start(&c->thread, checker_thread, c);
    if (err) {
        checker_free(c);
        return err;
    }
    *out = c;
    return 0;
}

/*
 * In a child forked from the owner there is no checker thread, and the locks
 * it may have held at the fork stay locked forever: free the memory, touch
 * nothing else.
 */
static void checker_free_in_child(procsum_checker *c)
{
    psum_pass_free(&c->pass);
    psum_snapshot_free(&c->baseline);
    psum_os_region_list_free(&c->regions);
    psum_os_target_close(c->target);
    /* The stop event is left alone: its lock may be held by a thread that no longer exists here. */
    free(c);
}

int procsum_stop(procsum_checker *c)
{
    if (!c)
        return 0;
    if (c->owner_pid != psum_os_process_id()) {
        checker_free_in_child(c);
        return 0;
    }
    if (psum_os_thread_is_current(c->thread))
        return PROCSUM_EBUSY;
    psum_os_event_set(c->stop);
    int err = psum_os_thread_join(c->thread);
    checker_free(c);
    return err;
}

uint64_t procsum_mismatch_count(const procsum_checker *c)
{
    return c ? atomic_load(&((procsum_checker *)c)->mismatches) : 0;
}

int procsum_get_stats(const procsum_checker *c, procsum_stats *out)
{
    if (!c || !out)
        return PROCSUM_EINVAL;
    procsum_checker *m = (procsum_checker *)c; /* atomics are read through a non-const pointer */
    out->passes = atomic_load(&m->passes);
    out->mismatches = atomic_load(&m->mismatches);
    out->bytes_hashed = atomic_load(&m->bytes_hashed);
    out->pages_tracked = atomic_load(&m->pages_tracked);
    out->regions = atomic_load(&m->regions_hashed);
    out->last_pass_ns = atomic_load(&m->last_pass_ns);
    out->cpu_ns = atomic_load(&m->cpu_ns);
    out->last_error = atomic_load(&m->last_error);
    return 0;
}

int procsum_run(const procsum_options *o, procsum_callback cb, void *userdata)
{
    procsum_checker *c;
    int err = checker_new(o, cb, userdata, &c);
    if (err)
        return err;
    for (;;) {
        uint64_t started = psum_os_monotonic_ns();
        err = check_once(c);
        if (err)
            break;
        wait_for_next_period(c, started);
    }
    checker_free(c);
    return err;
}

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* The regions the pass hashed, in the public form, with their digests. */
static int copy_regions(const psum_os_region_list *mapped, const procsum_options *o, const psum_snapshot *snap,
                        procsum_benchmark_result *out)
{
    out->regions = calloc(snap->region_count ? snap->region_count : 1, sizeof(*out->regions));
    if (!out->regions)
        return PROCSUM_ENOMEM;
    size_t j = 0;
    for (size_t i = 0; i < mapped->count && j < snap->region_count; i++) {
        const psum_os_region *r = &mapped->items[i];
        if (!psum_region_selected(r, o) || r->start != snap->regions[j].start)
            continue;
        procsum_region *pub = &out->regions[j];
        psum_region_view(r, pub);
        memcpy(pub->digest, snap->regions[j].digest, sizeof(pub->digest));
        pub->source = dup_string(r->path);
        out->region_count = ++j;
        if (!pub->source)
            return PROCSUM_ENOMEM;
    }
    return 0;
}

int procsum_benchmark(const procsum_options *o, procsum_benchmark_result *out)
{
    if (!out)
        return PROCSUM_EINVAL;
    memset(out, 0, sizeof(*out));
    procsum_checker *c;
    int err = checker_new(o, NULL, NULL, &c);
    if (err)
        return err;
    uint64_t t0 = psum_os_monotonic_ns();
    err = discover(c);
    uint64_t t1 = psum_os_monotonic_ns();
    psum_snapshot snap;
    if (!err)
        err = psum_snapshot_take(&c->pass, &c->regions, NULL, &snap, NULL, NULL);
    uint64_t t2 = psum_os_monotonic_ns();
    if (!err) {
        out->scan_ns = t1 - t0;
        out->hash_ns = t2 - t1;
        out->hashed_bytes = c->pass.bytes_read;
        err = copy_regions(&c->regions, &c->opts, &snap, out);
        psum_snapshot_free(&snap);
    }
    checker_free(c);
    if (err)
        procsum_benchmark_result_free(out);
    return err;
}

void procsum_benchmark_result_free(procsum_benchmark_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->region_count; i++)
        free((char *)r->regions[i].source);
    free(r->regions);
    memset(r, 0, sizeof(*r));
}
