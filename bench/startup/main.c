/*
 * bench_startup: what reading below the page cache costs. In a process with
 * the checker benchmark's five large libraries loaded (and never called),
 * procsum_start with verify_file compares every resident code page with its
 * file; with verify_below_cache (the default) a page that is the file's own
 * cached page is compared with the disk, read with O_DIRECT. This times
 * procsum_start and one later pass (procsum_check_now) both ways, ROUNDS
 * times each (default 5), the two taking turns.
 *
 *   bench_startup [--rounds N]
 */
#include <procsum.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../checker/checker_bench.h"
#include "bench_util.h"

#define MAX_ROUNDS 50

typedef struct timing {
    double start_s[MAX_ROUNDS], pass_s[MAX_ROUNDS];
} timing;

static int one_round(bool below_cache, int round, timing *t)
{
    procsum_options o;
    procsum_options_init(&o);
    o.verify_below_cache = below_cache;
    o.check_period_ms = 3600000;
    o.low_priority = false;
    procsum_checker *c;
    double t0 = bench_now_s();
    int err = procsum_start(&o, NULL, NULL, &c);
    t->start_s[round] = bench_now_s() - t0;
    if (err) {
        fprintf(stderr, "bench_startup: procsum_start: %s\n", procsum_strerror(err));
        return 1;
    }
    t0 = bench_now_s();
    err = procsum_check_now(c);
    t->pass_s[round] = bench_now_s() - t0;
    procsum_stop(c);
    if (err < 0) {
        fprintf(stderr, "bench_startup: procsum_check_now: %s\n", procsum_strerror(err));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int rounds = 5;
    if (argc == 3 && strcmp(argv[1], "--rounds") == 0)
        rounds = atoi(argv[2]);
    else if (argc != 1) {
        fprintf(stderr, "usage: bench_startup [--rounds N]\n");
        return 2;
    }
    if (rounds <= 0 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "bench_startup: rounds must be 1-%d\n", MAX_ROUNDS);
        return 2;
    }
    static result r;
    void *handles[N_LIBS];
    libs_load(&r, handles);
    printf("libraries loaded: %d of %d\n", libs_loaded_count(&r), N_LIBS);
    static timing through_cache, below;
    for (int i = 0; i < rounds; i++)
        if (one_round(false, i, &through_cache) || one_round(true, i, &below))
            return 1;
    double s0 = bench_median(through_cache.start_s, rounds), s1 = bench_median(below.start_s, rounds);
    double p0 = bench_median(through_cache.pass_s, rounds), p1 = bench_median(below.pass_s, rounds);
    printf("procsum_start (first baseline, verify_file): through the cache %.1f ms, below the cache %.1f ms "
           "(+%.1f ms, %.2fx)\n",
           s0 * 1e3, s1 * 1e3, (s1 - s0) * 1e3, s1 / s0);
    printf("a later pass (procsum_check_now):           through the cache %.1f ms, below the cache %.1f ms "
           "(%.2fx)\n",
           p0 * 1e3, p1 * 1e3, p1 / p0);
    libs_unload(handles, true);
    return 0;
}
