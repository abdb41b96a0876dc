/*
 * lazy_start: procsum_start returns before any page is read, and the first
 * baseline is taken a delay later on the checker's thread. A change made
 * after that baseline is reported as a change; one made before it, in a
 * file-backed page, is found against the file (verify_file).
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procsum.h"
#include "test_util.h"

#define PAGE ((uintptr_t)PROCSUM_PAGE_SIZE)

static atomic_int changes, differs;
static atomic_uintptr_t last_page, last_run_addr;
static atomic_int last_verdict, last_mask; /* of the last report's first page and run */

static void count(const procsum_mismatch *m, void *userdata)
{
    (void)userdata;
    if (test_is_sandbox_patch(m))
        return; /* Criterion's jump over main: the one finding a clean test process has */
    atomic_store(&last_page, m->first_changed_page);
    const procsum_page_change *pc = &m->page_changes[0];
    atomic_store(&last_verdict, (int)pc->verdict);
    atomic_store(&last_run_addr, pc->run_count ? pc->runs[0].addr : 0);
    atomic_store(&last_mask, pc->run_count ? pc->runs[0].xor_mask[0] : 0);
    atomic_fetch_add(m->kind == PROCSUM_REPORT_CHANGED ? &changes : &differs, 1);
}

int lazy_victim(int x);
__attribute__((noinline, used, aligned(4096))) int lazy_victim(int x)
{
    return x * 13 + 5;
}

static void flip(void)
{
    uintptr_t addr = (uintptr_t)&lazy_victim + 1;
    uintptr_t page = addr & ~(PAGE - 1);
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
    *(volatile uint8_t *)addr ^= 0x04;
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_EXEC), 0);
}

static procsum_checker *start_lazy(unsigned delay_ms, bool verify_file)
{
    procsum_options o;
    procsum_options_init(&o);
    cr_assert_eq(o.lazy_start, false, "off by default");
    cr_assert_eq(o.lazy_start_delay_ms, 100u);
    o.lazy_start = true;
    o.lazy_start_delay_ms = delay_ms;
    o.check_period_ms = 20;
    o.verify_file = verify_file;
    procsum_checker *c = NULL;
    cr_assert_eq(procsum_start(&o, count, NULL, &c), 0);
    return c;
}

Test(lazy, start_reads_nothing_and_the_first_pass_comes_later, .timeout = 60)
{
    procsum_checker *c = start_lazy(300, true);
    procsum_stats s;
    cr_assert_eq(procsum_get_stats(c, &s), 0);
    cr_assert_eq(s.passes, 0, "no pass before procsum_start returns");
    cr_assert_eq(s.bytes_hashed, 0);
    test_wait_passes(c, 2);
    flip();
    for (int i = 0; i < 10000 && atomic_load(&changes) == 0; i++)
        usleep(1000);
    cr_assert_eq(atomic_load(&changes), 1, "a change after the first baseline is a change");
    cr_assert_eq(atomic_load(&last_page), (uintptr_t)&lazy_victim & ~(PAGE - 1));
    cr_assert_eq(atomic_load(&differs), 0);
    cr_assert_eq(procsum_stop(c), 0);
}

Test(lazy, a_change_before_the_first_pass_is_found_against_the_file, .timeout = 60)
{
    procsum_checker *c = start_lazy(500, true);
    flip();
    test_wait_passes(c, 1);
    cr_assert_eq(atomic_load(&differs), 1, "verify_file finds it when the page gets its baseline");
    cr_assert_eq(atomic_load(&last_page), (uintptr_t)&lazy_victim & ~(PAGE - 1));
    cr_assert_eq(atomic_load(&last_verdict), PROCSUM_VERDICT_BITFLIP, "verdict %s",
                 procsum_verdict_name((procsum_verdict)atomic_load(&last_verdict)));
    cr_assert_eq(atomic_load(&last_run_addr), (uintptr_t)&lazy_victim + 1, "the flipped byte, against the file");
    cr_assert_eq(atomic_load(&last_mask), 0x04);
    cr_assert_eq(atomic_load(&changes), 0, "no baseline to differ from yet");
    cr_assert_eq(procsum_stop(c), 0);
}

Test(lazy, check_now_before_the_delay_takes_the_baseline, .timeout = 60)
{
    /* Without verify_file: the first pass's only finding would be Criterion's jump over main. */
    procsum_checker *c = start_lazy(60000, false);
    cr_assert_eq(procsum_check_now(c), 0, "the first pass takes the baseline: no report");
    cr_assert_eq(test_passes(c), 1);
    flip();
    cr_assert_eq(procsum_check_now(c), 1, "then a change is a change");
    cr_assert_eq(atomic_load(&changes), 1);
    cr_assert_eq(procsum_stop(c), 0);
}

Test(lazy, stop_before_the_first_pass, .timeout = 30)
{
    procsum_checker *c = start_lazy(60000, true);
    cr_assert_eq(procsum_stop(c), 0);
}

Test(lazy, a_forked_child_gets_its_own_lazy_checker, .timeout = 60)
{
    procsum_options o;
    procsum_options_init(&o);
    o.lazy_start = true;
    o.lazy_start_delay_ms = 60000;
    o.follow_fork = true;
    o.verify_file = false;
    procsum_checker *c = NULL;
    cr_assert_eq(procsum_start(&o, count, NULL, &c), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        alarm(30);
        procsum_checker *child = procsum_forked(c);
        if (!child)
            _exit(10);
        if (procsum_check_now(child) != 0)
            _exit(11);
        flip();
        int found = procsum_check_now(child);
        _exit(found == 1 && procsum_stop(child) == 0 && procsum_stop(c) == 0 ? 0 : 12);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "the child died of signal %d", WTERMSIG(status));
    cr_assert_eq(WEXITSTATUS(status), 0, "child status %d (10: no checker, 11: reports at baseline, 12: flip not found)",
                 WEXITSTATUS(status));
    cr_assert_eq(procsum_stop(c), 0);
}
