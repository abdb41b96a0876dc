/*
 * fork: the child of a process with a running checker has no checker thread
 * (threads do not survive fork). procsum_stop in the child frees the
 * checker's memory without waiting for a thread or taking its locks, and the
 * parent's checker goes on unharmed.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "os/os.h"
#include "procsum.h"
#include "test_util.h"

static atomic_int reports;
static atomic_int other_findings;
/* The first change reported: its page and the first run against the file. */
static uintptr_t seen_page, seen_run_addr;
static size_t seen_pages, seen_run_len;
static procsum_verdict seen_verdict;
static uint8_t seen_mask;

static void count(const procsum_mismatch *m, void *userdata)
{
    (void)userdata;
    /* A page that differed from its file at the start: only Criterion's jump over main may (test_util.h). */
    if (m->kind != PROCSUM_REPORT_CHANGED) {
        if (!test_is_sandbox_patch(m))
            atomic_fetch_add(&other_findings, 1);
        return;
    }
    if (atomic_fetch_add(&reports, 1) == 0) {
        const procsum_page_change *pc = &m->page_changes[0];
        seen_page = m->first_changed_page;
        seen_pages = m->changed_pages;
        seen_verdict = pc->verdict;
        seen_run_addr = pc->run_count ? pc->runs[0].addr : 0;
        seen_run_len = pc->run_count ? pc->runs[0].len : 0;
        seen_mask = pc->run_count ? pc->runs[0].xor_mask[0] : 0;
    }
}

/* Stops c; no page but main's differed from its file meanwhile. */
static void stop_checker(procsum_checker *c)
{
    cr_assert_eq(procsum_stop(c), 0);
    cr_assert_eq(atomic_load(&other_findings), 0, "a page other than main's differed from its file");
}

int fork_victim(int x);
__attribute__((noinline, used)) int fork_victim(int x)
{
    return x ^ 0x5a;
}

static procsum_checker *start(unsigned period_ms)
{
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = period_ms;
    procsum_checker *c = NULL;
    cr_assert_eq(procsum_start(&o, count, NULL, &c), 0);
    return c;
}

static int count_objects(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)info;
    (void)size;
    (void)data;
    return 0;
}

/* Exit status of a child that stops the inherited checker; 124 if it hung. */
static int child_stops(procsum_checker *c)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        alarm(20); /* a deadlock shows as SIGALRM instead of hanging the suite */
        uint64_t before = test_passes(c);
        usleep(50000);
        /* No thread here: the count must not move. */
        int frozen = test_passes(c) == before;
        /*
         * The parent's checker reads inside dl_iterate_phdr, holding the
         * loader's lock, and may have been there at the fork: the loader
         * must still work here.
         */
        void *h = dlopen("libprocsum-does-not-exist.so", RTLD_NOW);
        if (h)
            dlclose(h);
        dl_iterate_phdr(count_objects, NULL);
        int rc = procsum_stop(c);
        _exit(rc == 0 && frozen ? 0 : 1);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        return 124;
    return WEXITSTATUS(status);
}

Test(fork, child_stops_inherited_checker_without_deadlock)
{
    procsum_checker *c = start(1);
    for (int i = 0; i < 50; i++)
        cr_assert_eq(child_stops(c), 0, "child %d could not stop its copy cleanly", i);
    test_wait_passes(c, 3);
    stop_checker(c);
}

Test(fork, parent_still_detects_after_children)
{
    procsum_checker *c = start(5);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(child_stops(c), 0);
    uintptr_t addr = (uintptr_t)&fork_victim + 3;
    uintptr_t page = addr & ~(uintptr_t)(PROCSUM_PAGE_SIZE - 1);
    cr_assert_eq(mprotect((void *)page, PROCSUM_PAGE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
    *(volatile uint8_t *)addr ^= 4;
    cr_assert_eq(mprotect((void *)page, PROCSUM_PAGE_SIZE, PROT_READ | PROT_EXEC), 0);
    for (int i = 0; i < 60000 && atomic_load(&reports) == 0; i++)
        usleep(1000);
    test_wait_passes(c, 5);
    cr_assert_eq(atomic_load(&reports), 1);
    cr_assert_eq(seen_page, page, "report of page %#lx, not %#lx", (unsigned long)seen_page, (unsigned long)page);
    cr_assert_eq(seen_pages, 1);
    cr_assert_eq(seen_verdict, PROCSUM_VERDICT_BITFLIP, "verdict %s", procsum_verdict_name(seen_verdict));
    cr_assert_eq(seen_run_addr, addr);
    cr_assert_eq(seen_run_len, 1);
    cr_assert_eq(seen_mask, 4);
    stop_checker(c);
}

/* Forks from several threads at once while the checker runs at 1 ms. */
static void *fork_storm(void *arg)
{
    procsum_checker *c = arg;
    for (int i = 0; i < 40; i++)
        if (child_stops(c) != 0)
            return (void *)1;
    return NULL;
}

Test(fork, fork_storm_from_threads)
{
    procsum_checker *c = start(1);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, fork_storm, c), 0);
    for (int i = 0; i < 3; i++) {
        void *failed = NULL;
        pthread_join(t[i], &failed);
        cr_assert_null(failed, "a child deadlocked or failed to stop");
    }
    cr_assert_eq(atomic_load(&reports), 0);
    stop_checker(c);
}

/* The fork gate: a fork waits while a thread of procsum is inside it, and goes through once it leaves. */
static atomic_bool forked;

static void *fork_now(void *arg)
{
    (void)arg;
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    atomic_store(&forked, true);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return NULL;
}

Test(fork, fork_waits_for_the_gate)
{
    psum_os_fork_gate_enter();
    psum_os_fork_gate_enter(); /* entries nest */
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, fork_now, NULL), 0);
    usleep(200000);
    cr_assert_not(atomic_load(&forked), "fork went through while the gate was held");
    psum_os_fork_gate_leave();
    usleep(100000);
    cr_assert_not(atomic_load(&forked), "one of two nested entries left: still held");
    psum_os_fork_gate_leave();
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert(atomic_load(&forked));
}
