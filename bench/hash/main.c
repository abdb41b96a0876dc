/* bench_hash's command line: options, then set up, measure, report (see hash_bench.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash_bench.h"

typedef struct options {
    const char *out_dir;
    const char *asm_module, *c_module;
    bool big;
    int reps;
} options;

static _Noreturn void usage(int status)
{
    fprintf(
        status ? stderr : stdout,
        "usage: bench_hash [--out DIR] [--quick] [--no-1g] [--reps N] [--official-asm MODULE] [--official-c MODULE]\n"
        "  --quick: a short look, --no-1g --reps 1\n");
    exit(status);
}

static void parse_options(options *o, int argc, char **argv)
{
    *o = (options){.asm_module = PSUM_BENCH_OFFICIAL_ASM, .c_module = PSUM_BENCH_OFFICIAL_C, .big = true, .reps = 5};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            o->out_dir = argv[++i];
        else if (strcmp(argv[i], "--no-1g") == 0)
            o->big = false;
        else if (strcmp(argv[i], "--quick") == 0) {
            o->big = false;
            o->reps = 1;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            o->reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--official-asm") == 0 && i + 1 < argc)
            o->asm_module = argv[++i];
        else if (strcmp(argv[i], "--official-c") == 0 && i + 1 < argc)
            o->c_module = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            usage(0);
        else
            usage(2);
    }
    if (o->reps < 1)
        o->reps = 1;
}

int main(int argc, char **argv)
{
    options o;
    parse_options(&o, argc, argv);
    static hash_run h; /* large: the data sets' tmpfs file names */
    double t_start = bench_now_s();
    h.best_path = psum_b3_path();
    h.reps = o.reps;

    contenders_add_all(o.asm_module, o.c_module);
    if (tools_add() != 0)
        return 1;
    datasets_make(h.sets, o.reps, o.big);
    measure_all(h.sets, N_SETS);
    psum_b3_set_path(h.best_path);
    tools_remove_files();
    datasets_remove_files(h.sets);

    bench_cpu_info(&h.cpu);
    bench_text throughput = {0}, resident = {0}, page_cost = {0};
    throughput_table(&throughput, &h);
    resident_table(&resident, &h);
    page_cost_table(&page_cost, &h);
    h.elapsed_s = bench_now_s() - t_start;
    printf("CPU: %s; BLAKE3 path chosen: %s; best of %d runs (1 GiB: %d); %.0f s\n\n", h.cpu.name,
           psum_simd_path_name(h.best_path), h.reps, h.sets[1].reps, h.elapsed_s);
    printf("Throughput in GB/s (10^9 bytes per second)\n\n%s\nResident code, cold caches\n\n%s\n%s",
           bench_text_str(&throughput), bench_text_str(&resident), bench_text_str(&page_cost));
    int status = 0;
    if (o.out_dir) {
        fflush(stdout);
        status = write_docs(o.out_dir, &h, bench_text_str(&throughput), bench_text_str(&resident),
                            bench_text_str(&page_cost)) != 0;
    }
    bench_text_free(&throughput);
    bench_text_free(&resident);
    bench_text_free(&page_cost);
    return status;
}
