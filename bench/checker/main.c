/*
 * bench_checker's command line: which configurations, how long each, and
 * where the outputs go. Each configuration runs in a child (child.c); the
 * page, CSV and terminal reports are built from all the results at the end
 * (report_*.c). See checker_bench.h for what is measured.
 *
 * Prints a table and a CSV to stdout; with --out DIR writes
 * DIR/checker-benchmark.csv and the generated part of
 * DIR/checker-benchmark.md (between the checker-bench:begin and
 * checker-bench:end markers; the rest of the page is kept).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker_bench.h"

typedef struct options {
    const char *out_dir, *algos, *modes;
    run_params params;
} options;

static _Noreturn void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: bench_checker [--out DIR] [--quick] [--seconds S] [--samples N] [--checks N]\n"
            "                     [--algos blake3,xxh3,crc64] [--modes resident,all]\n"
            "  --seconds: time at the default period per configuration (default 12)\n"
            "  --samples: one-bit changes timed per configuration (default 6)\n"
            "  --checks:  procsum_check_now calls timed per configuration (default 5)\n"
            "  --quick:   a short look: --seconds 2 --samples 2 --checks 2 (options after it still apply)\n");
    exit(status);
}

/* The value after option i, which must be there. */
static const char *value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc)
        usage(2);
    return argv[++*i];
}

static void parse_options(options *o, int argc, char **argv)
{
    *o = (options){.algos = "blake3,xxh3,crc64", .modes = "resident,all", .params = {12, 6, 5}};
    run_params *p = &o->params;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0)
            o->out_dir = value(argc, argv, &i);
        else if (strcmp(argv[i], "--quick") == 0)
            *p = (run_params){2, 2, 2};
        else if (strcmp(argv[i], "--seconds") == 0)
            p->seconds = atof(value(argc, argv, &i));
        else if (strcmp(argv[i], "--samples") == 0)
            p->samples = atoi(value(argc, argv, &i));
        else if (strcmp(argv[i], "--checks") == 0)
            p->checks = atoi(value(argc, argv, &i));
        else if (strcmp(argv[i], "--algos") == 0)
            o->algos = value(argc, argv, &i);
        else if (strcmp(argv[i], "--modes") == 0)
            o->modes = value(argc, argv, &i);
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            usage(0);
        else
            usage(2);
    }
    if (p->seconds < 1 || p->seconds > 3600 || p->samples < 0 || p->samples > MAX_SAMPLES || p->checks < 1 ||
        p->checks > MAX_CHECKS)
        usage(2);
}

/*
 * The configurations asked for, resident-only first: each runs in its own
 * process anyway, but never after a run that read everything.
 */
static void list_configs(run_set *s, const options *o)
{
    const procsum_algorithm order[3] = {PROCSUM_ALGO_BLAKE3, PROCSUM_ALGO_XXH3, PROCSUM_ALGO_CRC64};
    s->n = 0;
    for (int m = 0; m < 2; m++) {
        if (!strstr(o->modes, m ? "all" : "resident"))
            continue;
        for (int k = 0; k < 3; k++)
            if (strstr(o->algos, procsum_algorithm_name(order[k])))
                s->cf[s->n++] = (config){order[k], m == 1};
    }
    if (s->n == 0)
        usage(2);
}

static void run_all(run_set *s)
{
    double t0 = bench_now_s();
    for (int i = 0; i < s->n; i++) {
        fprintf(stderr, "[%d/%d] %s, pages read: %s; %.0f s at the default period...\n", i + 1, s->n,
                algo_title((int)s->cf[i].algo), mode_name(s->cf[i].nonresident), s->params.seconds);
        if (child_run(&s->cf[i], &s->params, &s->rs[i]) != 0)
            fprintf(stderr, "  failed: %s\n", s->rs[i].error);
    }
    s->elapsed_s = bench_now_s() - t0;
}

static int write_docs(const char *dir, const char *generated, const char *csv)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/checker-benchmark.csv", dir);
    if (bench_write_file(path, csv) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/checker-benchmark.md", dir);
    if (bench_write_section(path, BEGIN_MARK, END_MARK, "# Checker benchmark\n\n", generated) != 0)
        return -1;
    fprintf(stderr, "wrote %s/checker-benchmark.md (generated part) and %s/checker-benchmark.csv\n", dir, dir);
    return 0;
}

int main(int argc, char **argv)
{
    if (child_is_invocation(argc, argv))
        return child_main(argc, argv);

    static run_set s; /* large: six results with their library paths */
    options o;
    parse_options(&o, argc, argv);
    s.params = o.params;
    list_configs(&s, &o);
    bench_host_info(&s.host);
    run_all(&s);

    bench_text page = {0}, csv = {0};
    report_page(&page, &s);
    report_csv(&csv, &s);
    report_terminal(&s, bench_text_str(&csv));

    int status = 0;
    fflush(stdout);
    if (o.out_dir && write_docs(o.out_dir, bench_text_str(&page), bench_text_str(&csv)) != 0)
        status = 1;
    for (int i = 0; i < s.n; i++)
        if (!s.rs[i].ok)
            status = 1;
    bench_text_free(&page);
    bench_text_free(&csv);
    return status;
}
