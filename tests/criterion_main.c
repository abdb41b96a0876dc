/*
 * The main of every Criterion test program. Criterion's own main exits 0
 * when a test was skipped, so meson would count the program as passed; this
 * one exits 77, meson's code for a skipped test, when nothing failed but
 * something was skipped, and names each skipped test on its own line
 * ("skipped: suite::test") for ./dev to hold against tests/expected-skips.
 *
 * Criterion's sandbox writes a jump over the first bytes of main in every
 * test process (test_util.h). main starts a page of its own, in a section
 * the linker places after the test's code, so that the one page differing
 * from its file holds no code a test changes.
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <criterion/stats.h>
#include <stdio.h>

#define SKIPPED_EXIT_CODE 77

static size_t skipped;

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    for (const struct criterion_suite_stats *s = stats->suites; s; s = s->next)
        for (const struct criterion_test_stats *t = s->tests; t; t = t->next)
            /* A test left out by --filter is marked disabled: not run, not skipped. */
            if (t->test_status == CR_STATUS_SKIPPED && !t->test->data->disabled) {
                printf("skipped: %s::%s\n", t->test->category, t->test->name);
                skipped++;
            }
    fflush(stdout);
}

__attribute__((aligned(4096), section(".text.psum_main"))) int main(int argc, char *argv[])
{
    struct criterion_test_set *tests = criterion_initialize();
    int result = 0;
    if (criterion_handle_args(argc, argv, true))
        result = criterion_run_all_tests(tests) ? 0 : 1;
    criterion_finalize(tests);
    if (result == 0 && skipped > 0)
        return SKIPPED_EXIT_CODE;
    return result;
}
