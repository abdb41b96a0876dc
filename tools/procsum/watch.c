/*
 * procsum watch: one checker per process (procsum_start with its pid),
 * each on its own thread, reporting every change as it is found. The main
 * thread only waits: for the user's stop request (watch_os.h: SIGINT or
 * SIGTERM, Ctrl+C on Windows), or for the period, after which it drops the
 * processes that exited, notes those that ran a new program, and with
 * --all picks up the processes started meanwhile. Checkers' callbacks
 * write through one lock, so lines never interleave.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procs.h"
#include "watch_os.h"

typedef struct watch_run {
    const psum_cli *cli;
    psum_writer *w;
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
} watched;

typedef struct watch_list {
    watched **items;
    size_t count, cap;
    psum_pid_list refused; /* --all: processes that could not be checked, not tried again */
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

static void stop_one(watched *p)
{
    procsum_stop(p->checker);
    free(p->exe);
    free(p);
}

/* Starts a checker on pid; its first look (reports of pages already differing) runs before it returns. */
static int start_one(watch_run *run, watch_list *l, long pid)
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
    int err = procsum_start(&o, on_change, p, &p->checker);
    if (err) {
        write_state(run, p, pid, "not-watched", "error", err, 0);
        free(p->exe);
        free(p);
        l->failed++;
        l->last_error = err;
        return err;
    }
    procsum_stats st;
    procsum_get_stats(p->checker, &st);
    write_state(run, p, pid, "watching", st.mismatches ? "changed" : "clean", 0, st.pages_tracked);
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
            write_state(run, p, p->pid, "exited", "error", PROCSUM_ESRCH, st.pages_tracked);
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

static bool watching(const watch_list *l, long pid)
{
    for (size_t i = 0; i < l->count; i++)
        if (l->items[i]->pid == pid)
            return true;
    return false;
}

/* --all: a process that could not be checked is remembered, so that it is not tried (and reported) every period. */
static void refuse(watch_list *l, long pid)
{
    long *grown = realloc(l->refused.pids, (l->refused.count + 1) * sizeof(*grown));
    if (!grown)
        return;
    l->refused.pids = grown;
    l->refused.pids[l->refused.count++] = pid;
    psum_pid_list_sort(&l->refused);
}

/* --all: the processes started since the last scan. */
static void pick_up(watch_run *run, watch_list *l)
{
    psum_pid_list now;
    if (psum_procs_scan(&now) != 0)
        return; /* tried again next period */
    for (size_t i = 0; i < now.count; i++) {
        long pid = now.pids[i];
        if (!watching(l, pid) && !psum_pid_list_has(&l->refused, pid) && start_one(run, l, pid) != 0)
            refuse(l, pid);
    }
    psum_pid_list_free(&now);
}

int psum_cmd_watch(const psum_cli *c, psum_writer *w)
{
    psum_pid_list pids;
    int rc = psum_procs_select(c, &pids);
    if (rc)
        return rc;
    psum_watch_catch_stops(); /* before any checker's thread exists */
    psum_sink_whole_lines(w->out);
    psum_event_origin at;
    psum_event_origin_now(&at); /* the host's name is looked up here, before any other thread asks */
    watch_run run = {.cli = c, .w = w};
    psum_watch_lock_init(&run.lock);
    watch_list l = {0};
    rc = psum_write_begin(w, PSUM_LIST_EVENTS, c->opts.algorithm) ? PSUM_EXIT_FAILURE : PSUM_EXIT_OK;
    for (size_t i = 0; !rc && i < pids.count; i++) {
        int err = start_one(&run, &l, pids.pids[i]);
        if (err == PROCSUM_ENOMEM)
            rc = psum_cli_fail("cannot watch", err);
        else if (err && c->all)
            refuse(&l, pids.pids[i]);
    }
    /* Named processes of which none could be watched: nothing to wait for. */
    if (!rc && !c->all && l.started == 0)
        rc = psum_procs_exit_code(l.last_error);
    while (!rc && !run.write_failed && (c->all || l.count > 0)) {
        if (psum_watch_wait(c->opts.check_period_ms))
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
    psum_pid_list_free(&l.refused);
    psum_pid_list_free(&pids);
    if (!rc && (run.write_failed || psum_write_end(w)))
        rc = PSUM_EXIT_FAILURE;
    psum_watch_lock_destroy(&run.lock);
    return rc;
}
