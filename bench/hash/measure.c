/* The measurement: each contender's best CPU time per data set, the runs of all contenders interleaved. */
#include <stdio.h>

#include "hash_bench.h"

/*
 * CPU time of one in-process run over the data set. Every contender finds
 * the bytes as warm as a read can make them (or, for a cold set, evicted
 * from every cache), and the core busy for a few milliseconds (after a
 * tool ran, it may be idle and slow to clock up).
 * Timings are CPU time, not wall time (see bench_thread_cpu_s).
 */
static double time_run(const contender *c, const dataset *d)
{
    if (c->kind == K_B3_STREAM || c->kind == K_B3_PAGES)
        psum_b3_set_path(c->path);
    if (d->cold) {
        flush_caches(); /* also keeps the core busy, as the warm-up does */
    } else {
        double warm = bench_thread_cpu_s();
        do {
            for (size_t s = 0; s < d->nspans; s++)
                run_memread(c, d->spans[s].p, d->spans[s].len);
        } while (bench_thread_cpu_s() - warm < 0.003);
    }
    double t = bench_thread_cpu_s();
    for (size_t s = 0; s < d->nspans; s++)
        c->run(c, d->spans[s].p, d->spans[s].len);
    return bench_thread_cpu_s() - t;
}

/* Each contender's best time per data set, the runs of all contenders interleaved. */
void measure_all(dataset *sets, int nsets)
{
    for (int di = 0; di < nsets; di++) {
        const dataset *d = &sets[di];
        if (!d->spans)
            continue;
        fprintf(stderr, "measuring %s (%.1f MiB, best of %d)...\n", d->title, d->bytes / BENCH_MIB, d->reps);
        for (int rep = 0; rep < d->reps; rep++) {
            for (int ci = 0; ci < n_contenders; ci++) {
                contender *c = &contenders[ci];
                double t = c->kind == K_TOOL ? tools_time_run(c, d) : time_run(c, d);
                if (t >= 0 && (c->best[di] < 0 || t < c->best[di]))
                    c->best[di] = t;
            }
        }
    }
}
