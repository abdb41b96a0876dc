/* procsum bench: one discovery and one hashing pass per algorithm (or the one --algo names). */
#include "cli.h"

int psum_cmd_bench(const psum_cli *c, psum_writer *w)
{
    procsum_algorithm algos[] = {PROCSUM_ALGO_BLAKE3, PROCSUM_ALGO_CRC64, PROCSUM_ALGO_XXH3};
    size_t n = sizeof(algos) / sizeof(algos[0]);
    if (c->algorithm_given) {
        algos[0] = c->opts.algorithm;
        n = 1;
    }
    if (psum_write_begin(w, PSUM_LIST_BENCH, algos[0]))
        return PSUM_EXIT_FAILURE;
    for (size_t i = 0; i < n; i++) {
        procsum_options o = c->opts;
        o.algorithm = algos[i];
        procsum_benchmark_result b;
        int err = procsum_benchmark(&o, &b);
        if (err) {
            /* What was written stays a complete list. */
            psum_write_end(w);
            return psum_cli_fail("benchmark failed", err);
        }
        psum_bench_row row = {.algorithm = algos[i],
                              .regions = b.region_count,
                              .hashed_bytes = b.hashed_bytes,
                              .scan_ns = b.scan_ns,
                              .hash_ns = b.hash_ns};
        procsum_benchmark_result_free(&b);
        if (psum_write_bench(w, &row))
            return PSUM_EXIT_FAILURE;
    }
    return psum_write_end(w) ? PSUM_EXIT_FAILURE : PSUM_EXIT_OK;
}
