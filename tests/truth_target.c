/*
 * A process for the report-truth tests to change from outside (gdb, a kernel
 * uprobe) or to leave alone. It runs a checker (verify_file on) and prints
 * every changed page it is told about, in truth_print_page's form.
 *
 *   truth_target clean [LIB]
 *       dlopens LIB if given (so that a library's shared page-cache pages
 *       are checked too), waits for 10 passes after the first, then prints
 *       "clean passes N reports M" and exits 0.
 *   truth_target breakpoint | uprobe
 *       prints "ready PID ADDR FILE_OFFSET PATH" for a function of its own
 *       (truth_breakme or truth_probeme); once a report names that
 *       function's page it calls the function (a debugger's breakpoint there
 *       then stops it), and it exits 0 after the second report about that
 *       page (the byte put back), or 2 after 60 s without them.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procsum.h"
#include "truth_util.h"

static truth_log seen;
static uintptr_t watched_page;
static atomic_int watched_reports;

static void on_report(const procsum_mismatch *m, void *userdata)
{
    int before = atomic_load(&seen.pages);
    truth_record(m, userdata);
    int after = atomic_load(&seen.pages);
    for (int i = before; i < after && i < TRUTH_MAX_PAGES; i++) {
        truth_print_page(stdout, &seen.page[i]);
        if (seen.page[i].kind == PROCSUM_REPORT_CHANGED && seen.page[i].change.addr == watched_page)
            atomic_fetch_add(&watched_reports, 1);
    }
    if (after > TRUTH_MAX_PAGES)
        printf("unrecorded pages %d\n", after - TRUTH_MAX_PAGES);
    fflush(stdout);
}

/* The functions the outside tools change: aligned so that a breakpoint after the prologue stays on the page. */
int truth_breakme(int x);
int truth_probeme(int x);
__attribute__((noinline, used, aligned(64))) int truth_breakme(int x)
{
    return (x * 13 + 5) ^ 0x3c3c;
}
__attribute__((noinline, used, aligned(64))) int truth_probeme(int x)
{
    return (x * 29 + 11) ^ 0x6a6a;
}

static procsum_checker *start(unsigned period_ms)
{
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = period_ms;
    o.verify_file = true;
    procsum_checker *c = NULL;
    int err = procsum_start(&o, on_report, &seen, &c);
    if (err) {
        fprintf(stderr, "truth_target: procsum_start: %s\n", procsum_strerror(err));
        exit(1);
    }
    return c;
}

static uint64_t passes(procsum_checker *c)
{
    procsum_stats s;
    int err = procsum_get_stats(c, &s);
    if (err) {
        fprintf(stderr, "truth_target: procsum_get_stats: %s\n", procsum_strerror(err));
        exit(1);
    }
    return s.passes;
}

static int clean(const char *lib)
{
    if (lib && !dlopen(lib, RTLD_NOW | RTLD_LOCAL)) {
        fprintf(stderr, "truth_target: dlopen(%s): %s\n", lib, dlerror());
        return 1;
    }
    procsum_checker *c = start(20);
    uint64_t target = passes(c) + 10;
    for (int i = 0; i < 60000 && passes(c) < target; i++)
        usleep(1000);
    uint64_t done = passes(c);
    int err = procsum_stop(c);
    printf("clean passes %llu reports %d stop %d\n", (unsigned long long)done, atomic_load(&seen.reports), err);
    return done >= target && err == 0 ? 0 : 1;
}

static int wait_watched(int n)
{
    for (int i = 0; i < 60000 && atomic_load(&watched_reports) < n; i++)
        usleep(1000);
    return atomic_load(&watched_reports) >= n;
}

static int changed_from_outside(int (*fn)(int))
{
    int (*volatile call)(int) = fn;
    call(1); /* the page is in memory before the checker starts */
    uint64_t off;
    char path[PATH_MAX], err[TRUTH_ERR];
    if (truth_file_offset((const void *)(uintptr_t)fn, &off, path, sizeof(path), err) != 0) {
        fprintf(stderr, "truth_target: %s\n", err);
        return 1;
    }
    watched_page = (uintptr_t)fn & ~(TRUTH_PAGE - 1);
    procsum_checker *c = start(50);
    printf("ready %ld %#lx %#llx %s\n", (long)getpid(), (unsigned long)(uintptr_t)fn, (unsigned long long)off, path);
    fflush(stdout);
    int rc = 2;
    if (wait_watched(1)) {
        call(2); /* stops here if a debugger's breakpoint is in place */
        rc = wait_watched(2) ? 0 : 2;
    }
    if (rc)
        printf("timeout: %d reports about page %#lx\n", atomic_load(&watched_reports), (unsigned long)watched_page);
    fflush(stdout);
    procsum_stop(c);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "clean") == 0)
        return clean(argc >= 3 ? argv[2] : NULL);
    if (argc == 2 && strcmp(argv[1], "breakpoint") == 0)
        return changed_from_outside(truth_breakme);
    if (argc == 2 && strcmp(argv[1], "uprobe") == 0)
        return changed_from_outside(truth_probeme);
    fprintf(stderr, "usage: truth_target clean [LIB] | breakpoint | uprobe\n");
    return 64;
}
