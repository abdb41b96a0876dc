/*
 * A small library preloaded into every process of a fork/exec-heavy script:
 * built three times. All link libprocsum, so loading costs the same; with
 * BENCH_START_CHECKER the constructor calls procsum_start with lazy_start,
 * with BENCH_FLOOR_THREAD it only starts one thread that sleeps (the floor
 * for any checker that waits inside the process), with neither it does
 * nothing.
 */
#include <procsum.h>

#ifdef BENCH_FLOOR_THREAD
#include "../preload/sleeper.h"
#endif

static procsum_checker *checker;

__attribute__((constructor)) static void start_checker(void)
{
    procsum_options o;
    procsum_options_init(&o);
#if defined(BENCH_START_CHECKER)
    o.lazy_start = true;
    if (procsum_start(&o, NULL, NULL, &checker) != 0)
        checker = NULL;
#elif defined(BENCH_FLOOR_THREAD)
    (void)checker;
    bench_start_sleeper();
#else
    (void)checker;
#endif
}
