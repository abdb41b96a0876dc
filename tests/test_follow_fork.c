/*
 * follow_fork: the checker started in a forked child goes on from the
 * parent's baseline. It must read it with the parent's key (keyed digests),
 * and it must never block on the loader's lock, which another thread's
 * dlopen or dlclose may have held at the instant of the fork. So it loads
 * no library itself: libelf, for one, only if the parent had.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procsum.h"
#include "stress_libs.h"
#include "test_util.h"

#define PAGE ((uintptr_t)PROCSUM_PAGE_SIZE)

static atomic_int changes, other_reports, named;

static void count(const procsum_mismatch *m, void *userdata)
{
    (void)userdata;
    atomic_fetch_add(m->kind == PROCSUM_REPORT_CHANGED ? &changes : &other_reports, 1);
    if (m->kind == PROCSUM_REPORT_CHANGED && m->page_changes && m->page_changes[0].symbol)
        atomic_fetch_add(&named, 1);
}

int follow_victim(int x);
__attribute__((noinline, used)) int follow_victim(int x)
{
    return x * 7 + 3;
}

static void flip_victim(void)
{
    uintptr_t addr = (uintptr_t)&follow_victim + 1;
    uintptr_t page = addr & ~(PAGE - 1);
    if (mprotect((void *)page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
        _exit(20);
    *(volatile uint8_t *)addr ^= 0x10;
    if (mprotect((void *)page, PAGE, PROT_READ | PROT_EXEC) != 0)
        _exit(21);
}

static procsum_options following_options(void)
{
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = 1;
    o.follow_fork = true;
    o.verify_file = false;
    /* As in the storm: at the lowest priority on a loaded machine a child's pass may outlast its alarm. */
    o.low_priority = false;
    return o;
}

static procsum_checker *start_following(procsum_algorithm algo, bool keyed)
{
    procsum_options o = following_options();
    o.keyed_digests = keyed;
    o.algorithm = algo;
    procsum_checker *c = NULL;
    cr_assert_eq(procsum_start(&o, count, NULL, &c), 0);
    return c;
}

/* Exit status of a forked child that runs body(child checker); 124 when it hung or died. */
static int in_child(procsum_checker *c, int (*body)(procsum_checker *))
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* A hang shows as SIGALRM instead of stalling the suite; past procsum's own 30 s bound on a child's pass. */
        alarm(45);
        procsum_checker *child = procsum_forked(c);
        int rc = child ? body(child) : 10;
        if (child && procsum_stop(child) != 0)
            rc = 11;
        if (procsum_stop(c) != 0)
            rc = 12;
        _exit(rc);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 124;
}

/* Unchanged code: no report of any kind; a flipped bit: exactly one change. */
static int unchanged_then_flipped(procsum_checker *child)
{
    atomic_store(&changes, 0);
    atomic_store(&other_reports, 0);
    int found = procsum_check_now(child);
    if (found != 0 || atomic_load(&changes) != 0 || atomic_load(&other_reports) != 0)
        return 30;
    flip_victim();
    found = procsum_check_now(child);
    if (found < 0)
        return 31;
    return found == 1 && atomic_load(&changes) == 1 && atomic_load(&other_reports) == 0 ? 0 : 32;
}

static void keyed_child(procsum_algorithm algo)
{
    procsum_checker *c = start_following(algo, true);
    int status = in_child(c, unchanged_then_flipped);
    cr_assert_eq(status, 0, "child status %d (30: reports without a change, 32: the flip not reported once)",
                 status);
    cr_assert_eq(procsum_stop(c), 0);
}

Test(follow_fork, keyed_blake3_child_keeps_the_key, .timeout = 60)
{
    keyed_child(PROCSUM_ALGO_BLAKE3);
}

Test(follow_fork, keyed_xxh3_child_keeps_the_key, .timeout = 60)
{
    keyed_child(PROCSUM_ALGO_XXH3);
}

/* The flip reported without a function's name, and libelf still not mapped. */
static int flipped_without_libelf(procsum_checker *child)
{
    atomic_store(&named, 0);
    int err = unchanged_then_flipped(child);
    if (err)
        return err;
    if (atomic_load(&named) != 0)
        return 33;
    return test_mapped("libelf") ? 34 : 0;
}

/* The parent never reported, so never loaded libelf: the child's checker does not load it either. */
Test(follow_fork, child_does_not_load_libelf, .timeout = 60)
{
    cr_assert_not(test_mapped("libelf"), "libelf is mapped before any report");
    procsum_checker *c = start_following(PROCSUM_ALGO_CRC64, false);
    /* What CRC-64 needs is loaded where the checker is made. */
    cr_assert(test_mapped("libisal"), "ISA-L not loaded where the checker was made");
    int status = in_child(c, flipped_without_libelf);
    cr_assert_eq(status, 0,
                 "child status %d (30: reports without a change, 32: the flip not reported once, 33: a function "
                 "named, 34: libelf mapped)",
                 status);
    cr_assert_eq(procsum_stop(c), 0);
}

static atomic_bool churning;

static void *churn(void *arg)
{
    (void)arg;
    static const char *const libs[] = {STRESS_LIB_0, STRESS_LIB_1, STRESS_LIB_2, STRESS_LIB_3};
    for (unsigned i = 0; atomic_load(&churning); i++) {
        void *h = dlopen(libs[i % 4], RTLD_NOW | RTLD_LOCAL);
        if (h)
            dlclose(h);
    }
    return NULL;
}

#define CHILD_COULD_NOT_RUN 41

#define CHILD_REPORTED 35

/*
 * 0; CHILD_REPORTED when the pass reported anything (nothing changed in the
 * child); or 64 + the error procsum_check_now gave (capped), so that the
 * parent can name it.
 */
static int check_and_stop(procsum_checker *child)
{
    atomic_store(&changes, 0);
    atomic_store(&other_reports, 0);
    int found = procsum_check_now(child);
    /* The checker's pass could not run: told, not hung. */
    if (found == PROCSUM_EAGAIN)
        _exit(CHILD_COULD_NOT_RUN);
    if (found < 0)
        return 64 + (-found < 63 ? -found : 63);
    return found == 0 && atomic_load(&changes) == 0 && atomic_load(&other_reports) == 0 ? 0 : CHILD_REPORTED;
}

/*
 * Forks while another thread loads and unloads libraries without pause:
 * some children are born with the loader's lock held. Their checkers must
 * still make passes, answer and stop.
 */
Test(follow_fork, child_never_blocks_on_the_loader_lock, .timeout = 300)
{
    procsum_checker *c = start_following(PROCSUM_ALGO_XXH3, false);
    atomic_store(&churning, true);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, churn, NULL), 0);
    int hung = 0, failed = 0, could_not_run = 0, first_failure = 0;
    for (int i = 0; i < 40; i++) {
        int status = in_child(c, check_and_stop);
        hung += status == 124;
        could_not_run += status == CHILD_COULD_NOT_RUN;
        bool other = status != 0 && status != 124 && status != CHILD_COULD_NOT_RUN;
        failed += other;
        if (other && !first_failure)
            first_failure = status;
    }
    /*
     * A child may be born with the allocator's lock held too (AddressSanitizer's
     * allocator in GCC 12 takes none around fork): its checker's passes
     * must not need it (test_fork_alloc), so every child's checker answers.
     */
    cr_assert_eq(could_not_run, 0, "%d of 40 children's checkers could not make a pass", could_not_run);
    atomic_store(&churning, false);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(hung, 0, "%d of 40 children hung", hung);
    cr_assert_eq(failed, 0, "%d of 40 children failed; the first: %s", failed,
                 first_failure >= 64 ? procsum_err_name(-(first_failure - 64))
                 : first_failure == CHILD_REPORTED ? "a report, where nothing changed"
                 : first_failure == 10 ? "no checker"
                 : first_failure == 11 ? "stopping the child's checker failed"
                                       : "stopping the parent's checker failed");
    cr_assert_eq(procsum_stop(c), 0);
}

static pthread_barrier_t fork_together;

/* Forks with the other thread at the same instant; the child exits at once. 0 when it was reaped. */
static void *fork_at_once(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&fork_together);
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    int status = 0;
    return (void *)(intptr_t)(pid > 0 && waitpid(pid, &status, 0) == pid ? 0 : 1);
}

/*
 * Two threads fork at the same instant in a process whose checker has not
 * made a child's checker yet: the first fork's prepare handler makes it
 * inside the fork gate its own fork holds, while the other fork waits for
 * the gate. Each round runs in a fresh process; a hang is its alarm.
 */
Test(follow_fork, two_threads_fork_at_once_before_any_child_checker_exists, .timeout = 300)
{
    for (int round = 0; round < 40; round++) {
        pid_t host = fork();
        cr_assert_geq(host, 0);
        if (host == 0) {
            alarm(30);
            procsum_options o = following_options();
            procsum_checker *c = NULL;
            if (procsum_start(&o, count, NULL, &c) != 0 || pthread_barrier_init(&fork_together, NULL, 2) != 0)
                _exit(10);
            pthread_t t[2];
            for (int i = 0; i < 2; i++)
                if (pthread_create(&t[i], NULL, fork_at_once, NULL) != 0)
                    _exit(11);
            int failed = 0;
            for (int i = 0; i < 2; i++) {
                void *r = NULL;
                pthread_join(t[i], &r);
                failed += r != NULL;
            }
            _exit(failed ? 12 : procsum_stop(c) == 0 ? 0 : 13);
        }
        int status = 0;
        cr_assert_eq(waitpid(host, &status, 0), host);
        cr_assert(WIFEXITED(status), "round %d: the process died of signal %d (%s)", round, WTERMSIG(status),
                  WTERMSIG(status) == SIGALRM ? "hung" : "crashed");
        cr_assert_eq(WEXITSTATUS(status), 0, "round %d: exit %d", round, WEXITSTATUS(status));
    }
}
