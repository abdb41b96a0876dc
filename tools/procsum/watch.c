/*
 * procsum watch: one checker per process, checked from outside (checked.h:
 * one runner and one digest cache for them all, every write through one
 * lock), reporting every change as it is found. The main thread only
 * waits (watch_os.h): for the user's stop request (SIGINT or SIGTERM,
 * Ctrl+C on Windows), for the kernel's process events with --all
 * (procevents.c: a program is checked from its exec on, and dropped at its
 * exit), or for the period, after which it drops the processes that
 * exited, notes those that ran a new program, and with --all picks up the
 * processes forked meanwhile (or, without process events, every process
 * /proc lists that is not watched yet).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "procevents.h"
#include "procs.h"
#include "watch_os.h"

typedef struct watch_list {
    psum_checked_set set;
    long self;             /* procsum's own process, which process events also name */
    psum_pid_list refused; /* --all: processes that could not be checked, not tried again */
    psum_pid_list forked;  /* --all with process events: forked since the last period, checked then */
    bool rescan;           /* --all: scan /proc at the next period (no process events, or some were lost) */
    size_t started;
    int error_exit; /* the exit code the errors so far agree on (3, 4), PSUM_EXIT_FAILURE when they do not, or 0 */
} watch_list;

/* Starts a checker on pid (checked.h), counted. */
static int start_one(watch_list *l, long pid, bool quiet_gone)
{
    int err = psum_checked_start(&l->set, pid, quiet_gone);
    if (!err) {
        l->started++;
    } else {
        /* As verify: 3 or 4 only when every process named was refused, or every one gone. */
        int code = psum_procs_exit_code(err);
        l->error_exit = !l->error_exit || l->error_exit == code ? code : PSUM_EXIT_FAILURE;
    }
    return err;
}

static bool watching(const watch_list *l, long pid)
{
    return psum_checked_find(&l->set, pid) < l->set.count;
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
static void consider(watch_list *l, long pid, bool quiet_gone)
{
    if (!watching(l, pid) && !psum_pid_list_has(&l->refused, pid) && start_one(l, pid, quiet_gone) != 0)
        refuse(l, pid);
}

/* --all, each period: the processes forked since the last one, or every process /proc lists. */
static void pick_up(const psum_cli *c, watch_list *l)
{
    for (size_t i = 0; i < l->forked.count; i++)
        consider(l, l->forked.pids[i], true);
    l->forked.count = 0;
    if (!l->rescan)
        return;
    psum_pid_list now;
    if (psum_procs_scan(&c->config, &now) != 0)
        return; /* tried again next period */
    for (size_t i = 0; i < now.count; i++)
        consider(l, now.pids[i], true); /* gone since the scan: no news */
    psum_pid_list_free(&now);
}

/* What one of the kernel's process events means for the watch (ctx: the watch_list). */
static void on_event(void *ctx, psum_procevent event, long pid)
{
    watch_list *l = ctx;
    if (pid <= 0 && event != PSUM_PROCEVENT_LOST)
        return;
    if (pid == l->self)
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
        consider(l, pid, true);
        break;
    case PSUM_PROCEVENT_EXIT: {
        list_remove(&l->forked, pid);
        list_remove(&l->refused, pid); /* the id may come back as another process */
        size_t i = psum_checked_find(&l->set, pid);
        if (i < l->set.count)
            psum_checked_ended(&l->set, i);
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
    watch_list l = {.self = psum_procs_self()};
    err = psum_checked_open(&l.set, &c->opts, w, c->outputs.allow, false);
    if (err) {
        psum_watch_release_stops();
        psum_pid_list_free(&pids);
        return psum_cli_fail("cannot watch", err);
    }
    /* Subscribed before the first scan's processes are started: none started meanwhile goes unseen. */
    psum_procevents *events = c->all ? open_events(&l) : NULL;
    rc = psum_write_begin(w, PSUM_LIST_EVENTS, c->opts.algorithm) ? PSUM_EXIT_FAILURE : PSUM_EXIT_OK;
    bool stopped = false;
    for (size_t i = 0; !rc && i < pids.count; i++) {
        /* Each first look reads a process's pages and compares them with the disk: a stop is looked for between. */
        stopped = psum_watch_wait(0, events, on_event, &l);
        if (stopped)
            break;
        /* --all: an exec since the scan, seen meanwhile, started it (or refused it) already: one checker each. */
        if (watching(&l, pids.pids[i]) || psum_pid_list_has(&l.refused, pids.pids[i]))
            continue;
        err = start_one(&l, pids.pids[i], c->all); /* --all: one gone since the scan is no news */
        if (err == PROCSUM_ENOMEM)
            rc = psum_cli_fail("cannot watch", err);
        else if (err && c->all)
            refuse(&l, pids.pids[i]);
    }
    /* Named processes of which none could be watched: nothing to wait for. */
    if (!rc && !stopped && !c->all && l.started == 0)
        rc = l.error_exit;
    while (!rc && !stopped && !l.set.write_failed && (c->all || l.set.count > 0)) {
        if (psum_watch_wait(c->opts.check_period_ms, events, on_event, &l))
            break;
        psum_pass pass = {0};
        psum_checked_review(&l.set, &pass, &l.refused);
        if (c->all)
            pick_up(c, &l);
        pass.processes = l.set.count;
        psum_checked_write_pass(&l.set, &pass);
    }
    bool write_failed = l.set.write_failed;
    psum_checked_close(&l.set);
    psum_procevents_close(events);
    psum_watch_release_stops();
    psum_pid_list_free(&l.refused);
    psum_pid_list_free(&l.forked);
    psum_pid_list_free(&pids);
    if (!rc && (write_failed || psum_write_end(w)))
        rc = PSUM_EXIT_FAILURE;
    return rc;
}
