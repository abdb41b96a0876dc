/*
 * The rule for confirming a change: a page that differs from its settled
 * baseline is looked at again at once (its mapping must still be the one
 * listed, and a second read must give the same content) and reported in the
 * pass that first saw it. Where the mapping changed since the listing (a
 * range unmapped and mapped again, caught half made), it is held for the
 * next pass, and reported only when that pass reads the same new content.
 * Anonymous code, known by its address only, always waits for the next pass.
 * The passes are driven one by one here (psum_snapshot_take), so what each
 * one sees is certain.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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
    uintptr_t only_start, only_end; /* when set, reports of other pages are not counted */
} passes;

static void on_change(const psum_change *ch, void *userdata)
{
    passes *ps = userdata;
    /* With verify_file, the test program's own code is compared too, and Criterion patches its main. */
    if (ps->only_end && (ch->pages[0] < ps->only_start || ch->pages[0] >= ps->only_end))
        return;
    if (!ps->pass.verify_new_pages)
        cr_assert_eq(ch->kind, PROCSUM_REPORT_CHANGED, "verify_file is off: only changes");
    ps->changes++;
    ps->last_page = ch->pages[0];
}

static void passes_init_with(passes *ps, bool verify_file)
{
    memset(ps, 0, sizeof(*ps));
    ps->current = -1;
    cr_assert_eq(psum_os_target_open(0, &ps->target), 0);
    procsum_options o;
    procsum_options_init(&o);
    o.verify_file = verify_file;
    cr_assert_eq(psum_pass_init(&ps->pass, &o, ps->target, NULL, NULL), 0);
}

static void passes_init(passes *ps)
{
    passes_init_with(ps, false);
}

/* One pass over the regions as last listed; returns the reports it made. */
static int pass_over_listing(passes *ps)
{
    int next = ps->current == 0 ? 1 : 0;
    const psum_snapshot *old = ps->current < 0 ? NULL : &ps->snaps[ps->current];
    int before = ps->changes;
    cr_assert_eq(psum_snapshot_take(&ps->pass, &ps->regions, old, &ps->snaps[next], on_change, ps), 0);
    if (ps->current >= 0)
        psum_snapshot_free(&ps->snaps[ps->current]);
    ps->current = next;
    return ps->changes - before;
}

/* One pass over the regions as they are now. */
static int one_pass(passes *ps)
{
    cr_assert_eq(psum_os_list_regions(ps->target, &ps->regions), 0);
    return pass_over_listing(ps);
}

static void passes_free(passes *ps)
{
    if (ps->current >= 0)
        psum_snapshot_free(&ps->snaps[ps->current]);
    psum_pass_free(&ps->pass);
    psum_os_region_list_free(&ps->regions);
    psum_os_target_close(ps->target);
}

/* A file of two pages of one byte, for code to be mapped from; path is a mkstemp template. */
static int code_file(char *path, uint8_t byte)
{
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    uint8_t bytes[2 * PAGE];
    memset(bytes, byte, sizeof(bytes));
    cr_assert_eq(write(fd, bytes, sizeof(bytes)), (ssize_t)sizeof(bytes));
    return fd;
}

/*
 * Code of two pages mapped privately from a file (path, a mkstemp template,
 * is removed by the test): a change makes the page a private copy, and the
 * page stays known by its file and offset.
 */
static uint8_t *file_code(char *path)
{
    int fd = code_file(path, 0xc3);
    uint8_t *code = mmap(NULL, 2 * PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    cr_assert_neq(code, MAP_FAILED);
    close(fd);
    volatile uint8_t sink = code[0] + code[PAGE]; /* resident */
    (void)sink;
    return code;
}

/* Anonymous code of two pages, as a JIT makes it, at `at` if not NULL (over what is there). */
static uint8_t *jit_code_at(uint8_t *at)
{
    uint8_t *jit = mmap(at, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (at ? MAP_FIXED : 0), -1, 0);
    cr_assert_neq(jit, MAP_FAILED);
    memset(jit, 0xc3, 2 * PAGE);
    cr_assert_eq(mprotect(jit, 2 * PAGE, PROT_READ | PROT_EXEC), 0);
    return jit;
}

/* Anonymous code of two pages whose baseline the passes ps (initialized here) have settled. */
static uint8_t *jit_settled(passes *ps)
{
    uint8_t *jit = jit_code_at(NULL);
    passes_init(ps);
    cr_assert_eq(one_pass(ps), 0);
    cr_assert_eq(one_pass(ps), 0);
    return jit;
}

static void flip(uint8_t *addr, int bit)
{
    uint8_t *page = (uint8_t *)((uintptr_t)addr & ~(PAGE - 1));
    cr_assert_eq(mprotect(page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
    *addr ^= (uint8_t)(1u << bit);
    cr_assert_eq(mprotect(page, PAGE, PROT_READ | PROT_EXEC), 0);
}

Test(confirm, a_change_is_reported_in_the_pass_that_first_sees_it)
{
    char path[] = "/tmp/psum_confirm_XXXXXX";
    uint8_t *code = file_code(path);
    passes ps;
    passes_init(&ps);
    cr_assert_eq(one_pass(&ps), 0, "the first pass takes the baseline");
    cr_assert_eq(one_pass(&ps), 0);
    flip(code + 100, 5);
    cr_assert_eq(one_pass(&ps), 1, "looked at again at once: reported in this pass");
    cr_assert_eq(ps.last_page, (uintptr_t)code);
    cr_assert_eq(ps.pass.pages_held, 0u, "nothing waits for the next pass");
    cr_assert_eq(one_pass(&ps), 0, "the new content is the baseline: reported once");
    passes_free(&ps);
    munmap(code, 2 * PAGE);
    unlink(path);
}

Test(confirm, a_change_undone_before_the_pass_is_no_change)
{
    char path[] = "/tmp/psum_confirm_XXXXXX";
    uint8_t *code = file_code(path);
    passes ps;
    passes_init(&ps);
    cr_assert_eq(one_pass(&ps), 0);
    flip(code + PAGE + 9, 2);
    flip(code + PAGE + 9, 2);
    cr_assert_eq(one_pass(&ps), 0);
    cr_assert_eq(ps.pass.pages_held, 0u);
    passes_free(&ps);
    munmap(code, 2 * PAGE);
    unlink(path);
}

Test(confirm, two_changes_are_two_reports)
{
    char path[] = "/tmp/psum_confirm_XXXXXX";
    uint8_t *code = file_code(path);
    passes ps;
    passes_init(&ps);
    cr_assert_eq(one_pass(&ps), 0);
    flip(code + 7, 1);
    cr_assert_eq(one_pass(&ps), 1);
    flip(code + 8, 1);
    cr_assert_eq(one_pass(&ps), 1, "other content again: another report");
    passes_free(&ps);
    munmap(code, 2 * PAGE);
    unlink(path);
}

/*
 * One pass over a listing that `page` (made writable after it, which splits
 * its region) made stale: the changed page is held, not reported.
 */
static void pass_with_the_mapping_split(passes *ps, uint8_t *page)
{
    cr_assert_eq(psum_os_list_regions(ps->target, &ps->regions), 0);
    cr_assert_eq(mprotect(page, PAGE, PROT_READ | PROT_WRITE), 0);
    cr_assert_eq(pass_over_listing(ps), 0, "the mapping is not the one listed: held, not reported");
    cr_assert_eq(ps->pass.pages_held, 1u, "the changed page waits for a second look");
    cr_assert_eq(mprotect(page, PAGE, PROT_READ | PROT_EXEC), 0);
}

/*
 * The mapping changed between the listing and the read (here: the changed
 * page made writable, which splits the listed region): the change is not
 * taken at once but held, and reported by the next pass, which lists the
 * mappings anew and reads the same content.
 */
Test(confirm, a_change_in_a_mapping_changed_since_the_listing_waits_for_the_next_pass)
{
    char path[] = "/tmp/psum_confirm_XXXXXX";
    uint8_t *code = file_code(path);
    passes ps;
    passes_init(&ps);
    cr_assert_eq(one_pass(&ps), 0);
    cr_assert_eq(one_pass(&ps), 0);
    flip(code + 100, 3);
    pass_with_the_mapping_split(&ps, code);
    cr_assert_eq(one_pass(&ps), 1, "the next pass sees the same content: reported");
    cr_assert_eq(ps.last_page, (uintptr_t)code);
    cr_assert_eq(one_pass(&ps), 0);
    passes_free(&ps);
    munmap(code, 2 * PAGE);
    unlink(path);
}

/*
 * Held content that the next pass reads otherwise (still being written)
 * starts the wait over: the second look must see what the first one saw.
 */
Test(confirm, held_content_that_changes_again_starts_the_wait_over)
{
    char path[] = "/tmp/psum_confirm_XXXXXX";
    uint8_t *code = file_code(path);
    passes ps;
    passes_init(&ps);
    cr_assert_eq(one_pass(&ps), 0);
    cr_assert_eq(one_pass(&ps), 0);
    flip(code + 7, 1);
    cr_assert_eq(psum_os_list_regions(ps.target, &ps.regions), 0);
    cr_assert_eq(mprotect(code, PAGE, PROT_READ | PROT_WRITE), 0);
    cr_assert_eq(pass_over_listing(&ps), 0);
    cr_assert_eq(ps.pass.pages_held, 1u);
    cr_assert_eq(mprotect(code, PAGE, PROT_READ | PROT_EXEC), 0);
    flip(code + 8, 1);
    cr_assert_eq(psum_os_list_regions(ps.target, &ps.regions), 0);
    cr_assert_eq(mprotect(code, PAGE, PROT_READ | PROT_WRITE), 0);
    cr_assert_eq(pass_over_listing(&ps), 0, "other content than the pass before saw, mapping moved: held again");
    cr_assert_eq(ps.pass.pages_held, 1u);
    cr_assert_eq(mprotect(code, PAGE, PROT_READ | PROT_EXEC), 0);
    cr_assert_eq(one_pass(&ps), 1, "the same content twice: reported");
    passes_free(&ps);
    munmap(code, 2 * PAGE);
    unlink(path);
}

/*
 * Anonymous code has no identity but its address: a change there is
 * reported once two passes read the same new content, each looking twice.
 */
Test(confirm, a_change_of_anonymous_code_is_reported_by_the_next_pass)
{
    passes ps;
    uint8_t *jit = jit_settled(&ps);
    flip(jit + PAGE + 3, 6);
    cr_assert_eq(one_pass(&ps), 0, "no identity but the address: one pass is not enough");
    cr_assert_eq(ps.pass.pages_held, 1u);
    cr_assert_eq(one_pass(&ps), 1, "the next pass reads the same content: reported");
    cr_assert_eq(ps.last_page, (uintptr_t)jit + PAGE);
    cr_assert_eq(ps.pass.pages_held, 0u);
    cr_assert_eq(one_pass(&ps), 0, "reported once");
    passes_free(&ps);
    munmap(jit, 2 * PAGE);
}

/*
 * A JIT adds code below its code, where the kernel maps next: the mapping
 * grows down at every pass, and a page's position in it moves each time. A
 * change there is reported by the next pass all the same.
 */
Test(confirm, a_change_of_anonymous_code_whose_mapping_grows_down_is_reported_by_the_next_pass)
{
    uint8_t *area = mmap(NULL, 8 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    cr_assert_neq(area, MAP_FAILED);
    uint8_t *jit = jit_code_at(area + 6 * PAGE);
    passes ps;
    passes_init(&ps);
    cr_assert_eq(one_pass(&ps), 0);
    cr_assert_eq(one_pass(&ps), 0);
    flip(jit + PAGE + 3, 6);
    cr_assert_eq(jit_code_at(area + 4 * PAGE), area + 4 * PAGE);
    cr_assert_eq(one_pass(&ps), 0, "one pass is not enough");
    cr_assert_eq(ps.pass.pages_held, 1u);
    cr_assert_eq(jit_code_at(area + 2 * PAGE), area + 2 * PAGE);
    cr_assert_eq(one_pass(&ps), 1, "the next pass reads the same content, lower in the mapping: reported");
    cr_assert_eq(ps.last_page, (uintptr_t)jit + PAGE);
    cr_assert_eq(ps.pass.pages_held, 0u);
    passes_free(&ps);
    munmap(area, 8 * PAGE);
}

/*
 * Each of the two passes must read the new content twice. A first look
 * that a second one did not confirm (here: the mapping split since the
 * listing; in a JIT, a range mapped anew caught once while being written,
 * its code back at the second read) is no sighting: the next pass that
 * confirms its look is the first of the two.
 */
Test(confirm, anonymous_content_a_second_look_did_not_confirm_is_not_a_sighting)
{
    passes ps;
    uint8_t *jit = jit_settled(&ps);
    flip(jit + PAGE + 3, 6);
    pass_with_the_mapping_split(&ps, jit);
    cr_assert_eq(one_pass(&ps), 0, "the first pass that looked twice: not reported yet");
    cr_assert_eq(ps.pass.pages_held, 1u);
    cr_assert_eq(one_pass(&ps), 1, "the second: reported");
    cr_assert_eq(ps.last_page, (uintptr_t)jit + PAGE);
    cr_assert_eq(one_pass(&ps), 0);
    passes_free(&ps);
    munmap(jit, 2 * PAGE);
}

/*
 * A JIT maps its code area anew at the same address: zeros, then written,
 * then executable again. A pass that read it at the wrong moment, with the
 * mapping listed the same before and after (mapped anew with the same
 * bounds and protection), saw other content. The next pass reads the code
 * back: nothing is reported.
 */
Test(confirm, anonymous_code_mapped_anew_and_caught_once_is_no_change)
{
    uint8_t *jit = jit_code_at(NULL);
    passes ps;
    passes_init(&ps);
    cr_assert_eq(one_pass(&ps), 0);
    cr_assert_eq(one_pass(&ps), 0);
    cr_assert_eq(psum_os_list_regions(ps.target, &ps.regions), 0);
    /* Mapped anew, executable before the code is written: zeros, listed as before. */
    cr_assert_eq(mmap(jit, 2 * PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), jit);
    volatile uint8_t sink = jit[0] + jit[PAGE]; /* resident, as a page being written is */
    (void)sink;
    cr_assert_eq(pass_over_listing(&ps), 0, "caught once: not reported");
    cr_assert_eq(ps.pass.pages_held, 2u, "both pages wait for the next pass");
    cr_assert_eq(jit_code_at(jit), jit);
    cr_assert_eq(one_pass(&ps), 0, "the code is back: no change");
    cr_assert_eq(ps.pass.pages_held, 0u);
    cr_assert_eq(one_pass(&ps), 0);
    passes_free(&ps);
    munmap(jit, 2 * PAGE);
}

/*
 * Another file mapped where the listed one was, between the listing and the
 * read (a dlclose and a dlopen at the same address): the first look at its
 * pages compares them with the listed file, and they differ. That is other
 * content, not a page that differs from its file: nothing is reported, and
 * the next pass, listing anew, takes the new file's pages as they are.
 */
Test(confirm, another_file_mapped_since_the_listing_is_not_a_page_that_differs_from_its_file)
{
    char path_a[] = "/tmp/psum_confirm_XXXXXX", path_b[] = "/tmp/psum_confirm_XXXXXX";
    int a = code_file(path_a, 0xc3), b = code_file(path_b, 0x90);
    uint8_t *code = mmap(NULL, 2 * PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, a, 0);
    cr_assert_neq(code, MAP_FAILED);
    volatile uint8_t sink = code[0] + code[PAGE];
    passes ps;
    passes_init_with(&ps, true);
    ps.only_start = (uintptr_t)code;
    ps.only_end = (uintptr_t)code + 2 * PAGE;
    cr_assert_eq(psum_os_list_regions(ps.target, &ps.regions), 0);
    cr_assert_eq(mmap(code, 2 * PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, b, 0), code);
    sink += code[0] + code[PAGE];
    (void)sink;
    int reports = pass_over_listing(&ps);
    unlink(path_a); /* the files' paths were needed for that pass only */
    unlink(path_b);
    cr_assert_eq(reports, 0, "not the file listed: no report");
    cr_assert_eq(one_pass(&ps), 0, "listed anew: the new file's pages equal it");
    cr_assert_eq(one_pass(&ps), 0);
    passes_free(&ps);
    munmap(code, 2 * PAGE);
    close(a);
    close(b);
}
