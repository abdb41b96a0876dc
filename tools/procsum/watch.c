/*
 * procsum watch: one checker per process (procsum_start with its pid),
 * reporting every change as it is found. The checkers take turns on one
 * thread (a runner: one wake-up a period, not one per process, and --cpu
 * bounds them all together) and share one digest cache: a page of a
 * file's page cache, mapped by many processes, is hashed once per period
 * for all of them. The main
 * thread only waits (watch_os.h): for the user's stop request (SIGINT or
 * SIGTERM, Ctrl+C on Windows), for the kernel's
 * process events with --all (procevents.c: a program is checked from its
 * exec on, and dropped at its exit), or for the period, after which it
 * drops the processes that exited, notes those that ran a new program, and
 * with --all picks up the processes forked meanwhile (or, without process
 * events, every process /proc lists that is not watched yet). Checkers'
 * callbacks write through one lock, so lines never interleave.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procevents.h"
#include "procs.h"
#include "watch_os.h"

typedef struct watch_run {
    const psum_cli *cli;
    psum_writer *w;
    long self; /* procsum's own process, which process events also name */
    procsum_digest_cache *shared; /* the page-cache pages' digests, shared by every checker */
    procsum_runner *runner;       /* the one thread the checkers take turns on */
    psum_watch_lock lock; /* every write, and a watched process's executable */
    int write_failed;
} watch_run;

typedef struct watched {
    watch_run *run;
    long pid;
    char *exe;
    procsum_checker *checker;
    uint64_t new_programs;
    uint64_t passes, bytes_hashed; /* as counted at the last review, for the next pass record */
    uint64_t alerts;               /* changes reported that the configuration does not allow (under the lock) */
} watched;

typedef struct watch_list {
    watched **items;
    size_t count, cap;
    psum_pid_list refused; /* --all: processes that could not be checked, not tried again */
    psum_pid_list forked;  /* --all with process events: forked since the last period, checked then */
    bool rescan;           /* --all: scan /proc at the next period (no process events, or some were lost) */
    size_t started, failed;
    int last_error;
} watch_list;

static void on_change(const procsum_mismatch *m, void *userdata)
{
    watched *p = userdata;
    watch_run *run = p->run;
    psum_alert a = {.action = m->kind == PROCSUM_REPORT_CHANGED ? "code-changed" : "differs-from-file",
                    .pid = p->pid, .region = m->region};
    psum_event_origin_now(&a.at);
    psum_watch_lock_take(&run->lock);
    a.executable = p->exe;
    for (size_t i = 0; i < m->changed_pages && !run->write_failed; i++) {
        a.page = &m->page_changes[i];
        p->alerts += psum_allow_judge(run->cli->outputs.allow, m->region, a.page) == PSUM_ALLOWED_NOT;
        run->write_failed = psum_write_alert(run->w, &a);
    }
    psum_watch_lock_release(&run->lock);
}

static void write_state(watch_run *run, const watched *p, long pid, const char *action, const char *status, int err,
                        uint64_t pages)
{
    psum_state st = {.action = action, .pid = pid, .executable = p ? p->exe : NULL, .status = status, .error = err,
                     .pages_checked = pages};
    psum_event_origin_now(&st.at);
    psum_watch_lock_take(&run->lock);
    if (!run->write_failed)
        run->write_failed = psum_write_state(run->w, &st);
    psum_watch_lock_release(&run->lock);
}

/* How a process stands: changed once a change of it was reported. An exit says it too: the end of a watch is not an error. */
static const char *standing(watch_run *run, const watched *p)
{
    psum_watch_lock_take(&run->lock);
    bool changed = p->alerts > 0;
    psum_watch_lock_release(&run->lock);
    return changed ? "changed" : "clean";
}

static void stop_one(watched *p)
{
    procsum_stop(p->checker);
    free(p->exe);
    free(p);
}

/*
 * Starts a checker on pid; its first look (reports of pages already
 * differing) runs before it returns. quiet_gone: a process that is gone
 * already (a process event outrun by its exit) is not reported.
 */
static int start_one(watch_run *run, watch_list *l, long pid, bool quiet_gone)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        watched **items = realloc(l->items, cap * sizeof(*items));
        if (!items)
            return PROCSUM_ENOMEM;
        l->items = items;
        l->cap = cap;
    }
    watched *p = calloc(1, sizeof(*p));
    if (!p)
        return PROCSUM_ENOMEM;
    *p = (watched){.run = run, .pid = pid, .exe = psum_proc_executable(pid)};
    procsum_options o = run->cli->opts;
    o.pid = pid;
    o.digest_cache = run->shared;
    o.runner = run->runner;
    int err = procsum_start(&o, on_change, p, &p->checker);
    if (err) {
        if (!quiet_gone || err != PROCSUM_ESRCH)
            write_state(run, p, pid, "not-watched", "error", err, 0);
        free(p->exe);
        free(p);
        l->failed++;
        l->last_error = err;
        return err;
    }
    procsum_stats st;
    procsum_get_stats(p->checker, &st);
    /* changed: pages already differing from their file, and not allowed */
    write_state(run, p, pid, "watching", standing(run, p), 0, st.pages_tracked);
    l->items[l->count++] = p;
    l->started++;
    return 0;
}

/* What p's checker did since the last review, added to pass. */
static void count_pass(psum_pass *pass, watched *p, const procsum_stats *st)
{
    pass->passes += st->passes - p->passes;
    pass->bytes_hashed += st->bytes_hashed - p->bytes_hashed;
    pass->pages_checked += st->pages_tracked;
    pass->duration_ns += st->last_pass_ns;
    p->passes = st->passes;
    p->bytes_hashed = st->bytes_hashed;
}

/* After each period: exits dropped, new programs noted, the work done counted into pass. */
static void review(watch_run *run, watch_list *l, psum_pass *pass)
{
    size_t kept = 0;
    for (size_t i = 0; i < l->count; i++) {
        watched *p = l->items[i];
        procsum_stats st;
        procsum_get_stats(p->checker, &st);
        count_pass(pass, p, &st);
        if (st.last_error == PROCSUM_ESRCH) {
            write_state(run, p, p->pid, "exited", standing(run, p), 0, st.pages_tracked);
            stop_one(p);
            continue;
        }
        if (st.last_error == PROCSUM_EACCES || st.last_error == PROCSUM_EPERM) {
            /* It became unreadable (made itself not dumpable, ran a set-user-ID program): said, not watched on. */
            write_state(run, p, p->pid, "not-watched", "error", st.last_error, st.pages_tracked);
            if (psum_pid_list_push(&l->refused, p->pid) == 0) /* --all: not tried again each period */
                psum_pid_list_sort(&l->refused);
            stop_one(p);
            continue;
        }
        if (st.new_programs != p->new_programs) {
            char *exe = psum_proc_executable(p->pid);
            psum_watch_lock_take(&run->lock);
            free(p->exe);
            p->exe = exe;
            psum_watch_lock_release(&run->lock);
            p->new_programs = st.new_programs;
            write_state(run, p, p->pid, "new-program", "clean", 0, st.pages_tracked);
        }
        l->items[kept++] = p;
    }
    l->count = kept;
}

/* The index of pid's entry, or l->count. */
static size_t find_watched(const watch_list *l, long pid)
{
    size_t i = 0;
    while (i < l->count && l->items[i]->pid != pid)
        i++;
    return i;
}

static bool watching(const watch_list *l, long pid)
{
    return find_watched(l, pid) < l->count;
}

/* Adds pid to an ascending list (unless it is there); false when out of memory. */
static bool list_add(psum_pid_list *list, long pid)
{
    if (psum_pid_list_has(list, pid))
        return true;
    if (psum_pid_list_push(list, pid) != 0)
        return false;
    psum_pid_list_sort(list);
    return true;
}

static void list_remove(psum_pid_list *list, long pid)
{
    size_t kept = 0;
    for (size_t i = 0; i < list->count; i++)
        if (list->pids[i] != pid)
            list->pids[kept++] = list->pids[i];
    list->count = kept;
}

/* --all: a process that could not be checked is remembered, so that it is not tried (and reported) every period. */
static void refuse(watch_list *l, long pid)
{
    (void)list_add(&l->refused, pid);
}

/* --all: starts a checker on pid unless it is watched or was refused. */
static void consider(watch_run *run, watch_list *l, long pid, bool quiet_gone)
{
    if (!watching(l, pid) && !psum_pid_list_has(&l->refused, pid) && start_one(run, l, pid, quiet_gone) != 0)
        refuse(l, pid);
}

/* --all, each period: the processes forked since the last one, or every process /proc lists. */
static void pick_up(watch_run *run, watch_list *l)
{
    for (size_t i = 0; i < l->forked.count; i++)
        consider(run, l, l->forked.pids[i], true);
    l->forked.count = 0;
    if (!l->rescan)
        return;
    psum_pid_list now;
    if (psum_procs_scan(&run->cli->config, &now) != 0)
        return; /* tried again next period */
    for (size_t i = 0; i < now.count; i++)
        consider(run, l, now.pids[i], true); /* gone since the scan: no news */
    psum_pid_list_free(&now);
}

/* What one of the kernel's process events means for the watch. */
typedef struct event_ctx {
    watch_run *run;
    watch_list *l;
} event_ctx;

static void on_event(void *ctx, psum_procevent event, long pid)
{
    event_ctx *e = ctx;
    watch_list *l = e->l;
    if (pid <= 0 && event != PSUM_PROCEVENT_LOST)
        return;
    if (pid == e->run->self)
        return;
    switch (event) {
    case PSUM_PROCEVENT_FORK:
        /* Most forks exec at once: checked at the next period if they have not by then. */
        if (!watching(l, pid) && !list_add(&l->forked, pid))
            l->rescan = true;
        break;
    case PSUM_PROCEVENT_EXEC:
        /* A watched process's checker sees the new program at its next pass; a refused one may be checkable now. */
        list_remove(&l->forked, pid);
        list_remove(&l->refused, pid);
        consider(e->run, l, pid, true);
        break;
    case PSUM_PROCEVENT_EXIT: {
        list_remove(&l->forked, pid);
        list_remove(&l->refused, pid); /* the id may come back as another process */
        size_t i = find_watched(l, pid);
        if (i == l->count)
            break;
        watched *p = l->items[i];
        procsum_stats st;
        procsum_get_stats(p->checker, &st);
        write_state(e->run, p, pid, "exited", standing(e->run, p), 0, st.pages_tracked);
        stop_one(p);
        l->items[i] = l->items[--l->count];
        break;
    }
    case PSUM_PROCEVENT_LOST:
        l->rescan = true; /* some processes may have come unseen */
        break;
    }
}

/*
 * --all: the kernel's process events, or (without CAP_NET_ADMIN, or with
 * PROCSUM_NO_PROC_EVENTS) a scan of /proc every period, which is said once.
 * Windows has no such events: it always lists the processes each period.
 */
static psum_procevents *open_events(watch_list *l)
{
    psum_procevents *events;
    int err = psum_procevents_open(&events);
    if (err == ENOSYS) {
        l->rescan = true;
        return NULL;
    }
    if (err) {
        fprintf(stderr, "procsum: no process events (%s): new processes are found by scanning /proc every period\n",
                err == ECANCELED ? "PROCSUM_NO_PROC_EVENTS is set"
                : err == EXDEV   ? "the kernel sends them only to its first PID and user namespaces, not a container's"
                                 : strerror(err));
        l->rescan = true;
        return NULL;
    }
    return events;
}

int psum_cmd_watch(const psum_cli *c, psum_writer *w)
{
    psum_pid_list pids;
    int rc = psum_procs_select(c, &pids);
    if (rc)
        return rc;
    unsigned long descriptors = psum_watch_allow_descriptors();
    if (descriptors && descriptors < PSUM_WATCH_FEW_DESCRIPTORS && (c->all || pids.count > descriptors / 4))
        fprintf(stderr, "procsum: watch: only %lu open files allowed (ulimit -n): each process watched takes 3, "
                        "those past the limit are not watched (PROCSUM_EMFILE)\n", descriptors);
    int err = psum_watch_catch_stops(); /* before any checker's thread exists */
    if (err) {
        fprintf(stderr, "procsum: cannot wait for a stop request: %s\n", strerror(err));
        psum_pid_list_free(&pids);
        return PSUM_EXIT_FAILURE;
    }
    psum_sink_whole_lines(w->out);
    psum_event_origin at;
    psum_event_origin_now(&at); /* the host's name is looked up here, before any other thread asks */
    watch_run run = {.cli = c, .w = w, .self = psum_procs_self()};
    err = procsum_digest_cache_new(&c->opts, &run.shared);
    if (!err) {
        err = procsum_runner_new(&c->opts, &run.runner);
        if (err)
            procsum_digest_cache_free(run.shared);
    }
    if (err) {
        psum_watch_release_stops();
        psum_pid_list_free(&pids);
        return psum_cli_fail("cannot watch", err);
    }
    psum_watch_lock_init(&run.lock);
    watch_list l = {0};
    /* Subscribed before the first scan's processes are started: none started meanwhile goes unseen. */
    psum_procevents *events = c->all ? open_events(&l) : NULL;
    event_ctx ectx = {.run = &run, .l = &l};
    rc = psum_write_begin(w, PSUM_LIST_EVENTS, c->opts.algorithm) ? PSUM_EXIT_FAILURE : PSUM_EXIT_OK;
    bool stopped = false;
    for (size_t i = 0; !rc && i < pids.count; i++) {
        /* Each first look reads a process's pages and compares them with the disk: a stop is looked for between. */
        stopped = psum_watch_wait(0, events, on_event, &ectx);
        if (stopped)
            break;
        err = start_one(&run, &l, pids.pids[i], c->all); /* --all: one gone since the scan is no news */
        if (err == PROCSUM_ENOMEM)
            rc = psum_cli_fail("cannot watch", err);
        else if (err && c->all)
            refuse(&l, pids.pids[i]);
    }
    /* Named processes of which none could be watched: nothing to wait for. */
    if (!rc && !stopped && !c->all && l.started == 0)
        rc = psum_procs_exit_code(l.last_error);
    while (!rc && !stopped && !run.write_failed && (c->all || l.count > 0)) {
        if (psum_watch_wait(c->opts.check_period_ms, events, on_event, &ectx))
            break;
        psum_pass pass = {0};
        review(&run, &l, &pass);
        if (c->all)
            pick_up(&run, &l);
        pass.processes = l.count;
        psum_watch_lock_take(&run.lock);
        if (!run.write_failed)
            run.write_failed = psum_write_pass(w, &pass);
        psum_watch_lock_release(&run.lock);
    }
    for (size_t i = 0; i < l.count; i++)
        stop_one(l.items[i]);
    free(l.items);
    (void)procsum_runner_free(run.runner); /* every checker is stopped: nothing can keep it busy */
    procsum_digest_cache_free(run.shared);
    psum_procevents_close(events);
    psum_watch_release_stops();
    psum_pid_list_free(&l.refused);
    psum_pid_list_free(&l.forked);
    psum_pid_list_free(&pids);
    if (!rc && (run.write_failed || psum_write_end(w)))
        rc = PSUM_EXIT_FAILURE;
    psum_watch_lock_destroy(&run.lock);
    return rc;
}
