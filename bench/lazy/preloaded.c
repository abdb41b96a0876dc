/*
 * A small library preloaded into every process of a fork/exec-heavy script:
 * built four times. All link libprocsum, so loading costs the same; with
 * BENCH_START_CHECKER the constructor calls procsum_start with lazy_start,
 * with BENCH_FLOOR_THREAD it only starts one thread that sleeps (what a
 * checker that waits on a thread costs), with BENCH_LATE_THREAD one thread
 * that only sleeps, started when the delay is over (the floor for any
 * checker that starts late, ../preload/late_thread.h), with none of them
 * it does nothing.
 */
#include <procsum.h>

#ifdef BENCH_FLOOR_THREAD
#include "../preload/sleeper.h"
#endif
#ifdef BENCH_LATE_THREAD
#include "../preload/late_thread.h"
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
#elif defined(BENCH_LATE_THREAD)
    (void)checker;
    bench_late_thread_init();
#else
    (void)checker;
#endif
}
