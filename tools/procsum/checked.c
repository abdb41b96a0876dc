/*
 * Processes checked from outside, shared by watch and run (checked.h).
 */
#include "checked.h"

#include <stdlib.h>

int psum_checked_open(psum_checked_set *s, const procsum_options *o, psum_writer *w, const psum_allow *allow, bool quiet)
{
    *s = (psum_checked_set){.opts = *o, .w = w, .allow = allow, .quiet = quiet};
    int err = procsum_digest_cache_new(o, &s->shared);
    if (!err && (err = procsum_runner_new(o, &s->runner)) != 0)
        procsum_digest_cache_free(s->shared);
    if (err)
        return err;
    s->opts.runner = s->runner;
    s->opts.digest_cache = s->shared;
    psum_watch_lock_init(&s->lock);
    return 0;
}

static void stop_one(psum_checked *p)
{
    procsum_stop(p->checker);
    free(p->as_state);
    free(p->exe);
    free(p->name);
    free(p);
}

void psum_checked_close(psum_checked_set *s)
{
    for (size_t i = 0; i < s->count; i++)
        stop_one(s->items[i]);
    free(s->items);
    s->items = NULL;
    s->count = s->cap = 0;
    (void)procsum_runner_free(s->runner); /* every checker is stopped: nothing can keep it busy */
    procsum_digest_cache_free(s->shared);
    psum_watch_lock_destroy(&s->lock);
}

void psum_checked_write_alert(psum_checked_set *s, const psum_alert *a)
{
    psum_watch_lock_take(&s->lock);
    if (!s->write_failed)
        s->write_failed = psum_write_alert(s->w, a) != 0;
    psum_watch_lock_release(&s->lock);
}

void psum_checked_write_state(psum_checked_set *s, const psum_state *st)
{
    psum_watch_lock_take(&s->lock);
    if (!s->write_failed)
        s->write_failed = psum_write_state(s->w, st) != 0;
    psum_watch_lock_release(&s->lock);
}

void psum_checked_write_pass(psum_checked_set *s, const psum_pass *p)
{
    psum_watch_lock_take(&s->lock);
    if (!s->write_failed)
        s->write_failed = psum_write_pass(s->w, p) != 0;
    psum_watch_lock_release(&s->lock);
}

/*
 * Notes whether the page at addr last changed as state (under the lock);
 * returns whether it had. Out of memory, a restore to come is an alert.
 */
static bool as_state(psum_checked *p, uintptr_t addr, bool now)
{
    size_t i = 0;
    while (i < p->as_state_count && p->as_state[i] != addr)
        i++;
    bool was = i < p->as_state_count;
    if (was && !now) {
        p->as_state[i] = p->as_state[--p->as_state_count];
    } else if (!was && now) {
        if (p->as_state_count == p->as_state_cap) {
            size_t cap = p->as_state_cap ? 2 * p->as_state_cap : 8;
            uintptr_t *grown = realloc(p->as_state, cap * sizeof(*grown));
            if (!grown)
                return was;
            p->as_state = grown;
            p->as_state_cap = cap;
        }
        p->as_state[p->as_state_count++] = addr;
    }
    return was;
}

/* A checker's report: on the runner's thread, or on the caller's during a first look. */
static void on_change(const procsum_mismatch *m, void *userdata)
{
    psum_checked *p = userdata;
    psum_checked_set *s = p->set;
    psum_alert a = {.action = m->kind == PROCSUM_REPORT_CHANGED ? "code-changed" : "differs-from-file",
                    .pid = p->pid, .region = m->region};
    psum_event_origin_now(&a.at);
    /*
     * The pass that found it may be the first of a program the process ran
     * since the last review: the change is named after that program, not
     * the one the review knew (p->exe is the review's to replace).
     */
    procsum_stats st;
    psum_watch_lock_take(&s->lock);
    bool new_program = p->started && procsum_get_stats(p->checker, &st) == 0 && st.new_programs != p->new_programs;
    psum_watch_lock_release(&s->lock);
    char *exe = new_program ? psum_proc_executable(p->reader) : NULL;
    psum_watch_lock_take(&s->lock);
    a.executable = exe ? exe : p->exe;
    for (size_t i = 0; i < m->changed_pages && !s->write_failed; i++) {
        a.page = &m->page_changes[i];
        psum_allowed how = psum_allow_judge(s->allow, m->region, a.page);
        /*
         * The restore of a change that went out as state (a debugger taking
         * its breakpoint out) goes so too: its own cause is the write that
         * took the change back, not what the configuration allowed.
         */
        bool restored = a.page->verdict == PROCSUM_VERDICT_RESTORED;
        a.state = as_state(p, a.page->addr, !restored && how == PSUM_ALLOWED_STATE) && restored;
        p->alerts += how == PSUM_ALLOWED_NOT && !a.state;
        s->write_failed = psum_write_alert(s->w, &a) != 0;
    }
    psum_watch_lock_release(&s->lock);
    free(exe);
}

/* p->exe is replaced only by a review, on the caller's thread: read here without the lock. */
static void write_state(psum_checked_set *s, const psum_checked *p, long pid, const char *action, const char *status,
                        int err, uint64_t pages)
{
    psum_state st = {.action = action, .pid = pid, .executable = p->exe, .name = p->name, .status = status, .error = err,
                     .pages_checked = pages};
    psum_event_origin_now(&st.at);
    psum_watch_lock_take(&s->lock);
    if (!s->write_failed)
        s->write_failed = psum_write_state(s->w, &st) != 0;
    psum_watch_lock_release(&s->lock);
}

/* How a process stands: changed once a change of it was reported. An exit says it too: the end of a watch is not an error. */
static const char *standing(psum_checked_set *s, const psum_checked *p)
{
    psum_watch_lock_take(&s->lock);
    bool changed = p->alerts > 0;
    psum_watch_lock_release(&s->lock);
    return changed ? "changed" : "clean";
}

int psum_checked_start(psum_checked_set *s, long pid, bool quiet_gone)
{
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        psum_checked **items = realloc(s->items, cap * sizeof(*items));
        if (!items)
            return PROCSUM_ENOMEM;
        s->items = items;
        s->cap = cap;
    }
    psum_checked *p = calloc(1, sizeof(*p));
    if (!p)
        return PROCSUM_ENOMEM;
    long reader = psum_proc_reader(pid);
    *p = (psum_checked){.set = s, .pid = pid, .reader = reader, .exe = psum_proc_executable(reader),
                        .name = psum_proc_name(pid)};
    procsum_options o = s->opts;
    o.pid = reader;
    int err = procsum_start(&o, on_change, p, &p->checker);
    if (err) {
        if (!quiet_gone || err != PROCSUM_ESRCH)
            write_state(s, p, pid, "not-watched", "error", err, 0);
        free(p->exe);
        free(p->name);
        free(p);
        return err;
    }
    procsum_stats st;
    procsum_get_stats(p->checker, &st);
    psum_watch_lock_take(&s->lock);
    p->new_programs = st.new_programs;
    p->started = true;
    psum_watch_lock_release(&s->lock);
    p->pages = st.pages_tracked;
    if (!s->quiet) /* changed: pages already differing from their file, and not allowed */
        write_state(s, p, pid, "watching", standing(s, p), 0, st.pages_tracked);
    s->items[s->count++] = p;
    return 0;
}

size_t psum_checked_find(const psum_checked_set *s, long pid)
{
    size_t i = 0;
    while (i < s->count && s->items[i]->pid != pid)
        i++;
    return i;
}

void psum_checked_ended(psum_checked_set *s, size_t i)
{
    psum_checked *p = s->items[i];
    if (!s->quiet) {
        procsum_stats st;
        procsum_get_stats(p->checker, &st);
        write_state(s, p, p->pid, "exited", standing(s, p), 0, st.pages_tracked);
    }
    stop_one(p);
    s->items[i] = s->items[--s->count];
}

void psum_checked_review(psum_checked_set *s, psum_pass *pass, psum_pid_list *refused)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->count; i++) {
        psum_checked *p = s->items[i];
        procsum_stats st;
        procsum_get_stats(p->checker, &st);
        pass->passes += st.passes - p->passes;
        pass->quiet_passes += st.quiet_passes - p->quiet_passes;
        pass->bytes_hashed += st.bytes_hashed - p->bytes_hashed;
        pass->duration_ns += st.last_pass_ns;
        p->passes = st.passes;
        p->quiet_passes = st.quiet_passes;
        p->bytes_hashed = st.bytes_hashed;
        if (st.last_error == PROCSUM_ESRCH) {
            if (!s->quiet)
                write_state(s, p, p->pid, "exited", standing(s, p), 0, st.pages_tracked);
            stop_one(p);
            continue;
        }
        if (st.last_error == PROCSUM_EACCES || st.last_error == PROCSUM_EPERM) {
            /* It became unreadable (made itself not dumpable, ran a set-user-ID program): said, not checked on. */
            write_state(s, p, p->pid, "not-watched", "error", st.last_error, st.pages_tracked);
            if (psum_pid_list_push(refused, p->pid) == 0) /* not tried again */
                psum_pid_list_sort(refused);
            stop_one(p);
            continue;
        }
        p->pages = st.pages_tracked;
        pass->pages_checked += p->pages;
        if (st.new_programs != p->new_programs) {
            char *exe = psum_proc_executable(p->reader), *name = psum_proc_name(p->pid);
            psum_watch_lock_take(&s->lock);
            free(p->exe);
            free(p->name);
            p->exe = exe;
            p->name = name;
            p->new_programs = st.new_programs; /* read by reports, on the runner's thread */
            p->as_state_count = 0; /* the old program's pages: none of the new one's changed as state */
            psum_watch_lock_release(&s->lock);
            if (!s->quiet)
                write_state(s, p, p->pid, "new-program", standing(s, p), 0, st.pages_tracked);
        }
        s->items[kept++] = p;
    }
    s->count = kept;
}
