/*
 * bench_profile_target: the checker benchmark's process held still for a
 * profiler. It loads the five large libraries (never calling them), starts
 * a checker with the defaults but for the algorithm and the period, prints
 * the checker thread's id once the first pass after the start is over, then
 * lets the checker run for the given time and prints its CPU per pass over
 * that time (procsum_stats.cpu_ns). Then, the checker stopped, it reads the
 * same resident pages as bench_checker's two floors do (bench/checker/pages.c),
 * so that the breakdown can be set against them in the same run.
 * bench/profile/checker_profile.sh attaches perf to the printed thread.
 *
 *   bench_profile_target ALGO PERIOD_MS SECONDS
 */
#include <dlfcn.h>
#include <procsum.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../checker/checker_bench.h"

#define MAX_TASKS 64

/* Waits until the checker has ended a pass after the one in *s; 0, or -1 after 60 s. */
static int next_pass(procsum_checker *c, procsum_stats *s)
{
    uint64_t mark = s->passes;
    for (double give_up = bench_now_s() + 60; s->passes == mark; bench_sleep_s(0.001))
        if (bench_now_s() > give_up || procsum_get_stats(c, s) != 0)
            return -1;
    return 0;
}

int main(int argc, char **argv)
{
    procsum_options o;
    procsum_options_init(&o);
    bool known = false;
    const procsum_algorithm algos[3] = {PROCSUM_ALGO_BLAKE3, PROCSUM_ALGO_XXH3, PROCSUM_ALGO_CRC64};
    for (int i = 0; argc == 4 && i < 3; i++)
        if (strcmp(argv[1], procsum_algorithm_name(algos[i])) == 0) {
            o.algorithm = algos[i];
            known = true;
        }
    if (!known) {
        fprintf(stderr, "usage: bench_profile_target blake3|xxh3|crc64 PERIOD_MS SECONDS\n");
        return 2;
    }
    o.check_period_ms = (unsigned)atoi(argv[2]);
    double seconds = atof(argv[3]);
    for (int i = 0; i < BENCH_N_LIBS; i++)
        if (!dlopen(BENCH_LIBS[i].path, RTLD_LAZY | RTLD_LOCAL))
            fprintf(stderr, "bench_profile_target: %s left out: %s\n", BENCH_LIBS[i].name, dlerror());
    pid_t before[MAX_TASKS], after[MAX_TASKS];
    int nb = bench_list_tasks(before, MAX_TASKS);
    procsum_checker *c;
    int err = procsum_start(&o, NULL, NULL, &c);
    if (err) {
        fprintf(stderr, "bench_profile_target: procsum_start: %s\n", procsum_strerror(err));
        return 1;
    }
    pid_t tid = bench_new_task(before, nb, after, bench_list_tasks(after, MAX_TASKS));
    procsum_stats a = {0}, b;
    /* The pass after the start: the checker's own baseline of cpu_ns is taken there. */
    if (next_pass(c, &a) != 0 || next_pass(c, &a) != 0) {
        fprintf(stderr, "bench_profile_target: no pass ended\n");
        return 1;
    }
    printf("tid %ld\n", (long)tid);
    fflush(stdout);
    bench_sleep_s(seconds);
    b = a;
    if (procsum_get_stats(c, &b) != 0 || next_pass(c, &b) != 0)
        return 1;
    printf("passes %llu cpu_ms_per_pass %.3f pages %llu\n", (unsigned long long)(b.passes - a.passes),
           (double)(b.cpu_ns - a.cpu_ns) / 1e6 / (double)(b.passes - a.passes),
           (unsigned long long)b.pages_tracked);
    fflush(stdout);
    if ((err = procsum_stop(c)) != 0) {
        fprintf(stderr, "bench_profile_target: procsum_stop: %s\n", procsum_strerror(err));
        return 1;
    }
    double tight_hash;
    double tight = pages_floor_ms(o.algorithm, &tight_hash);
    period_more more;
    double at_period = pages_floor_at_period_ms(o.check_period_ms / 1000.0, 8, o.algorithm, &more);
    printf("floors %.3f %.3f %.3f %.3f %.3f pages %lld tight_hash %.3f\n", tight, at_period, more.hash_ms, more.ask_ms,
           more.wake_ms, (long long)pages_present_exec(NULL, 0), tight_hash);
    return 0;
}
