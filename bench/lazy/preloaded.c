/*
 * A small library preloaded into every process of a fork/exec-heavy script:
 * built twice, with and without BENCH_START_CHECKER. Both link libprocsum,
 * so loading costs the same; only procsum_start with lazy_start differs.
 */
#include <procsum.h>

static procsum_checker *checker;

__attribute__((constructor)) static void start_checker(void)
{
    procsum_options o;
    procsum_options_init(&o);
#ifdef BENCH_START_CHECKER
    o.lazy_start = true;
    if (procsum_start(&o, NULL, NULL, &checker) != 0)
        checker = NULL;
#else
    (void)checker;
#endif
}
