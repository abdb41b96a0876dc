/*
 * The floor for a checker that starts late (late_thread.h), preloaded by
 * bench/preload/preload_cost.sh: one thread that only sleeps, started by
 * a timer when the delay is over, in every process that lives that long
 * (a forked child's delay counts from the fork).
 */
#include "late_thread.h"

__attribute__((constructor)) static void psum_bench_late_floor_init(void)
{
    bench_late_thread_init();
}
