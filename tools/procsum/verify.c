/*
 * procsum verify: every resident code page of each process against its
 * file, once. One verifier for the whole run, so that a page-cache page
 * many processes share is checked once. A process that exits or refuses is
 * reported and the others go on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "procs.h"

typedef struct verify_totals {
    psum_summary sum;
    size_t clean, exited, refused, broken; /* broken: any other failure */
} verify_totals;

/* The changes of r that are alerts: not allowed by the configuration, silently or as state (allow.h). */
static size_t alerts(const psum_cli *c, const procsum_verify_result *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->change_count; i++)
        n += psum_allow_judge(c->outputs.allow, &r->regions[r->changes[i].region], &r->changes[i].page) ==
             PSUM_ALLOWED_NOT;
    return n;
}

/* The process's state line, then one line per page that differs (the outputs leave out what is allowed). */
static int write_process(psum_writer *w, long pid, const char *exe, const char *name, int err,
                         const procsum_verify_result *r, size_t alert_count)
{
    psum_state st = {.action = "verified", .pid = pid, .executable = exe, .name = name, .error = err,
                     .status = err ? "error" : alert_count ? "changed" : "clean", .pages_checked = r->pages_checked,
                     .with_unverified = true, .pages_unverified = r->pages_unverified};
    psum_event_origin_now(&st.at);
    if (psum_write_state(w, &st))
        return -1;
    for (size_t i = 0; i < r->change_count; i++) {
        psum_alert a = {.at = st.at, .action = "differs-from-file", .pid = pid, .executable = exe,
                        .region = &r->regions[r->changes[i].region], .page = &r->changes[i].page};
        if (psum_write_alert(w, &a))
            return -1;
    }
    return 0;
}

static void count(verify_totals *t, int err, const procsum_verify_result *r, size_t alert_count)
{
    t->sum.processes++;
    t->sum.pages_checked += r->pages_checked;
    t->sum.pages_shared += r->pages_shared;
    t->sum.pages_unverified += r->pages_unverified;
    t->sum.bytes_hashed += r->bytes_hashed;
    if (err)
        t->sum.failed++;
    if (!err && alert_count)
        t->sum.changed++;
    else if (!err)
        t->clean++;
    else if (err == PROCSUM_ESRCH)
        t->exited++;
    else if (err == PROCSUM_EACCES || err == PROCSUM_EPERM)
        t->refused++;
    else
        t->broken++;
}

/*
 * 5 when a page differs. Named processes: 3 or 4 when every one of them
 * was refused or gone, 1 when any was not verified. --all: processes that
 * exit or refuse are part of a host, not a failure.
 */
static int exit_code(const verify_totals *t, bool all)
{
    if (t->sum.changed)
        return PSUM_EXIT_CHANGED;
    if (t->broken)
        return PSUM_EXIT_FAILURE;
    if (all || t->sum.failed == 0)
        return PSUM_EXIT_OK;
    if (t->refused == t->sum.processes)
        return PSUM_EXIT_PERMISSION;
    if (t->exited == t->sum.processes)
        return PSUM_EXIT_NO_PROCESS;
    return PSUM_EXIT_FAILURE;
}

int psum_cmd_verify(const psum_cli *c, psum_writer *w)
{
    psum_pid_list pids;
    int rc = psum_procs_select(c, &pids);
    if (rc)
        return rc;
    procsum_verifier *v;
    int err = procsum_verifier_new(&c->opts, &v);
    if (err) {
        psum_pid_list_free(&pids);
        return psum_cli_fail("cannot verify", err);
    }
    psum_sink_whole_lines(w->out);
    bool progress = c->all && isatty(STDERR_FILENO);
    verify_totals t = {0};
    uint64_t t0 = psum_monotonic_ns();
    rc = psum_write_begin(w, PSUM_LIST_EVENTS, c->opts.algorithm);
    for (size_t i = 0; !rc && i < pids.count; i++) {
        if (progress)
            fprintf(stderr, "\rprocsum: verifying %zu/%zu (pid %ld)   ", i + 1, pids.count, pids.pids[i]);
        /* Named before it is read: a process that exits meanwhile still has a name in the report. */
        long reader = psum_proc_reader(pids.pids[i]);
        char *exe = psum_proc_executable(reader), *name = psum_proc_name(pids.pids[i]);
        procsum_verify_result r;
        err = procsum_verifier_check(v, reader, &r);
        size_t alert_count = alerts(c, &r);
        count(&t, err, &r, alert_count);
        rc = write_process(w, pids.pids[i], exe, name, err, &r, alert_count);
        procsum_verify_result_free(&r);
        free(exe);
        free(name);
    }
    if (progress)
        fputs("\r\033[K", stderr);
    psum_event_origin_now(&t.sum.at);
    uint64_t t1 = psum_monotonic_ns();
    /* One pass over each process verified; for the outputs that keep metrics. */
    psum_pass pass = {.processes = t.sum.processes - t.sum.failed, .passes = t.sum.processes - t.sum.failed,
                      .pages_checked = t.sum.pages_checked, .bytes_hashed = t.sum.bytes_hashed,
                      .duration_ns = t1 - t0};
    if (!rc)
        rc = psum_write_pass(w, &pass);
    if (!rc)
        rc = psum_write_summary(w, &t.sum);
    if (!rc)
        rc = psum_write_end(w);
    procsum_verifier_free(v);
    psum_pid_list_free(&pids);
    return rc ? PSUM_EXIT_FAILURE : exit_code(&t, c->all);
}
