/*
 * procsum_run: the blocking form checks in the calling thread, pass after
 * pass, reports a change made while it runs, and returns only when a pass
 * fails; here, when the process may open no more files, so that discovery
 * cannot read /proc/self/maps.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procsum.h"
#include "test_util.h"

#define PAGE ((uintptr_t)PROCSUM_PAGE_SIZE)

static atomic_bool first_pass_done; /* the sandbox's jump over main was found: main's region has been read */
static atomic_int changes, other_findings;
static atomic_uintptr_t changed_page;
static pthread_t caller;
static atomic_bool callback_on_caller = true;

static void on_report(const procsum_mismatch *m, void *userdata)
{
    (void)userdata;
    if (!pthread_equal(pthread_self(), caller))
        atomic_store(&callback_on_caller, false);
    if (m->kind == PROCSUM_REPORT_CHANGED) {
        atomic_store(&changed_page, m->first_changed_page);
        atomic_fetch_add(&changes, 1);
    } else if (test_is_sandbox_patch(m)) {
        atomic_store(&first_pass_done, true);
    } else {
        atomic_fetch_add(&other_findings, 1);
    }
}

static atomic_int run_result = 1;

static void *run(void *arg)
{
    (void)arg;
    caller = pthread_self();
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = 5;
    atomic_store(&run_result, procsum_run(&o, on_report, NULL));
    return NULL;
}

int run_victim(int x);
__attribute__((noinline, used)) int run_victim(int x)
{
    return x * 5 - 9;
}

/* Waits, boundedly (a minute), until *flag is set. */
static bool wait_for(atomic_bool *flag)
{
    for (int i = 0; i < 60000 && !atomic_load(flag); i++)
        usleep(1000);
    return atomic_load(flag);
}

Test(run, detects_a_change_and_returns_when_discovery_fails, .timeout = 120)
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, run, NULL), 0);
    /* The first pass takes the baseline; its finding of main's page says that the victim's page has one. */
    cr_assert(wait_for(&first_pass_done), "procsum_run made no first pass");

    uintptr_t addr = (uintptr_t)&run_victim + 3;
    uintptr_t page = addr & ~(PAGE - 1);
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
    *(volatile uint8_t *)addr ^= 0x10;
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_EXEC), 0);
    for (int i = 0; i < 60000 && atomic_load(&changes) == 0; i++)
        usleep(1000);
    cr_assert_eq(atomic_load(&changes), 1, "the change made while procsum_run runs is reported");
    cr_assert_eq(atomic_load(&changed_page), page);
    cr_assert_eq(atomic_load(&run_result), 1, "procsum_run is still running");

    /* No file can be opened now: the next discovery fails, and procsum_run returns its code. */
    struct rlimit was;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &was), 0);
    struct rlimit none = {0, was.rlim_max};
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &none), 0);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 60;
    int joined = pthread_timedjoin_np(t, NULL, &deadline);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &was), 0);
    cr_assert_eq(joined, 0, "procsum_run did not return when discovery failed");
    int err = atomic_load(&run_result);
    cr_assert_eq(err, PROCSUM_EMFILE, "procsum_run returns the code of what failed (no descriptor left), got %s",
                 procsum_err_name(err));
    cr_assert(atomic_load(&callback_on_caller), "the callback runs in procsum_run's caller");
    cr_assert_eq(atomic_load(&other_findings), 0);
    cr_assert_eq(atomic_load(&changes), 1);
}

static int pass_fd = -1;
static int last_pass_error; /* last_error of the last pass pass_callback heard of */

/* After procsum_run's first pass over the child, the child may exit: closing the pipe lets it. */
static void close_after_first_pass(const procsum_stats *stats, void *userdata)
{
    (void)userdata;
    last_pass_error = stats->last_error;
    if (stats->passes >= 1 && pass_fd >= 0) {
        close(pass_fd);
        pass_fd = -1;
    }
}

/*
 * Another process that exits has no regions left: procsum_run returns
 * PROCSUM_ESRCH rather than retrying for ever, and pass_callback hears of
 * that last pass, as of every failed one.
 */
Test(run, returns_when_the_other_process_exits, .timeout = 120)
{
    int go[2];
    cr_assert_eq(pipe(go), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        char byte;
        close(go[1]);
        (void)!read(go[0], &byte, 1); /* until the parent closes its end */
        _exit(0);
    }
    close(go[0]);
    procsum_options o;
    procsum_options_init(&o);
    o.pid = child;
    o.check_period_ms = 20;
    o.pass_callback = close_after_first_pass;
    pass_fd = go[1];
    int err = procsum_run(&o, NULL, NULL);
    cr_assert_eq(err, PROCSUM_ESRCH, "procsum_run returned %s", procsum_err_name(err));
    cr_assert_eq(last_pass_error, PROCSUM_ESRCH, "pass_callback heard of the failed pass that ended run: %s",
                 procsum_err_name(last_pass_error));
    cr_assert_eq(waitpid(child, NULL, 0), child);
}
