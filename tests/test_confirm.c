/*
 * The rule for confirming a change: a page that differs from its settled
 * baseline is held for a second look, and reported only when the next pass
 * reads the same new content. A change undone before that pass is no
 * change; one that stays is reported once. The passes are driven one by
 * one here (psum_snapshot_take), so what each one sees is certain.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "os/os.h"
#include "procsum.h"
#include "pass/pass.h"
#include "test_util.h"

#define PAGE ((uintptr_t)PROCSUM_PAGE_SIZE)

typedef struct passes {
    psum_os_target *target;
    psum_os_region_list regions;
    psum_pass pass;
    psum_snapshot snaps[2];
    int current; /* snaps[current] is the baseline; -1 before the first pass */
    int changes;
    uintptr_t last_page;
} passes;

static void on_change(const psum_change *ch, void *userdata)
{
    passes *ps = userdata;
    cr_assert_eq(ch->kind, PROCSUM_REPORT_CHANGED, "verify_file is off: only changes");
    ps->changes++;
    ps->last_page = ch->pages[0];
}

static void passes_init(passes *ps)
{
    memset(ps, 0, sizeof(*ps));
    ps->current = -1;
    cr_assert_eq(psum_os_target_open(0, &ps->target), 0);
    procsum_options o;
    procsum_options_init(&o);
    o.verify_file = false;
    cr_assert_eq(psum_pass_init(&ps->pass, &o, ps->target, NULL, NULL), 0);
}

/* One pass over the regions as they are now; returns the reports it made. */
static int one_pass(passes *ps)
{
    cr_assert_eq(psum_os_list_regions(ps->target, &ps->regions), 0);
    int next = ps->current == 0 ? 1 : 0;
    const psum_snapshot *old = ps->current < 0 ? NULL : &ps->snaps[ps->current];
    int before = ps->changes;
    cr_assert_eq(psum_snapshot_take(&ps->pass, &ps->regions, old, &ps->snaps[next], on_change, ps), 0);
    if (ps->current >= 0)
        psum_snapshot_free(&ps->snaps[ps->current]);
    ps->current = next;
    return ps->changes - before;
}

static void passes_free(passes *ps)
{
    if (ps->current >= 0)
        psum_snapshot_free(&ps->snaps[ps->current]);
    psum_pass_free(&ps->pass);
    psum_os_region_list_free(&ps->regions);
    psum_os_target_close(ps->target);
}

/* Anonymous code of two pages, as a JIT makes it. */
static uint8_t *jit_code(void)
{
    uint8_t *jit = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(jit, MAP_FAILED);
    memset(jit, 0xc3, 2 * PAGE);
    cr_assert_eq(mprotect(jit, 2 * PAGE, PROT_READ | PROT_EXEC), 0);
    return jit;
}

static void flip(uint8_t *addr, int bit)
{
    uint8_t *page = (uint8_t *)((uintptr_t)addr & ~(PAGE - 1));
    cr_assert_eq(mprotect(page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
    *addr ^= (uint8_t)(1u << bit);
    cr_assert_eq(mprotect(page, PAGE, PROT_READ | PROT_EXEC), 0);
}

Test(confirm, change_undone_before_the_second_look_is_not_reported)
{
    uint8_t *jit = jit_code();
    passes ps;
    passes_init(&ps);
    cr_assert_eq(one_pass(&ps), 0, "the first pass takes the baseline");
    cr_assert_eq(one_pass(&ps), 0);
    flip(jit + PAGE + 9, 2);
    cr_assert_eq(one_pass(&ps), 0, "seen once: held, not reported");
    cr_assert_eq(ps.pass.pages_held, 1u, "the changed page waits for a second look");
    flip(jit + PAGE + 9, 2);
    cr_assert_eq(one_pass(&ps), 0, "undone before the second look: no change");
    cr_assert_eq(ps.pass.pages_held, 0u);
    cr_assert_eq(one_pass(&ps), 0, "and nothing is left to report later");
    passes_free(&ps);
    munmap(jit, 2 * PAGE);
}

Test(confirm, change_that_stays_is_reported_once_on_the_second_look)
{
    uint8_t *jit = jit_code();
    passes ps;
    passes_init(&ps);
    cr_assert_eq(one_pass(&ps), 0);
    cr_assert_eq(one_pass(&ps), 0);
    flip(jit + 100, 5);
    cr_assert_eq(one_pass(&ps), 0, "seen once: held, not reported");
    cr_assert_eq(ps.pass.pages_held, 1u);
    cr_assert_eq(one_pass(&ps), 1, "seen twice: reported");
    cr_assert_eq(ps.last_page, (uintptr_t)jit);
    cr_assert_eq(one_pass(&ps), 0, "the new content is the baseline: reported once");
    passes_free(&ps);
    munmap(jit, 2 * PAGE);
}

/*
 * Two different changes in a row: the second look must see the content the
 * first one saw, not merely some other content than the baseline.
 */
Test(confirm, a_second_different_change_starts_the_wait_over)
{
    uint8_t *jit = jit_code();
    passes ps;
    passes_init(&ps);
    cr_assert_eq(one_pass(&ps), 0);
    cr_assert_eq(one_pass(&ps), 0);
    flip(jit + 7, 1);
    cr_assert_eq(one_pass(&ps), 0);
    flip(jit + 8, 1);
    cr_assert_eq(one_pass(&ps), 0, "other content than the pass before saw: held again");
    cr_assert_eq(ps.pass.pages_held, 1u);
    cr_assert_eq(one_pass(&ps), 1, "the same content twice: reported");
    passes_free(&ps);
    munmap(jit, 2 * PAGE);
}
