/*
 * The floor for any checker that waits inside the process, preloaded as a
 * reference by bench/preload/preload_cost.sh: its constructor starts one
 * thread that only sleeps, and a forked child starts one more (as the
 * preload library does while its delay is not over). Nothing is loaded
 * and nothing is read: what it costs is the thread itself (its start, a
 * process that is no longer single-threaded, its end at exec or exit).
 */
#include "sleeper.h"

__attribute__((constructor)) static void psum_bench_floor_init(void)
{
    (void)pthread_atfork(NULL, NULL, bench_start_sleeper);
    bench_start_sleeper();
}
