/*
 * The reports: the throughput table and the cost of per-page digests (on
 * the terminal and in the docs page), the CSV, the chart through gnuplot,
 * and the generated part of docs/benchmarks.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hash_bench.h"

/* One contender's row of the throughput table: GB/s per data set, its reference and the ratios. */
static void throughput_row(bench_text *t, const hash_run *h, const contender *c)
{
    double target;
    const contender *ref = contender_reference(c, h->best_path, &target);
    bench_printf(t, "| %s | %s | %s |", c->algo, c->impl, c->mode);
    for (int di = 0; di < N_SETS; di++)
        if (h->sets[di].spans && c->best[di] > 0)
            bench_printf(t, " %.2f |", contender_gbps(c, &h->sets[di], di));
        else
            bench_printf(t, " – |");
    if (ref) {
        char l[128];
        contender_label(ref, l, sizeof l);
        bench_printf(t, " %s |", l);
    } else {
        bench_printf(t, " |");
    }
    for (int di = 0; di < N_SETS; di++) {
        if (ref && h->sets[di].spans && c->best[di] > 0 && ref->best[di] > 0) {
            double r = ref->best[di] / c->best[di];
            bench_printf(t, " %.2f%s |", r, target > 0 ? (r >= target ? " ✓" : " ✗") : "");
        } else {
            bench_printf(t, " – |");
        }
    }
    if (target > 0)
        bench_printf(t, " ≥ %.1f× |\n", target);
    else
        bench_printf(t, " |\n");
}

void throughput_table(bench_text *t, const hash_run *h)
{
    bench_printf(t,
                 "| Algorithm | Implementation | Mode | 16 MiB | 1 GiB | exec regions (%.1f MiB) | resident code "
                 "(%.1f MiB, cold) | compared with | ratio 16 MiB | ratio 1 GiB | ratio regions | ratio resident | "
                 "target |\n",
                 h->sets[2].bytes / BENCH_MIB, h->sets[SET_RESIDENT].bytes / BENCH_MIB);
    bench_printf(t, "|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|\n");
    for (int ci = 0; ci < n_contenders; ci++)
        throughput_row(t, h, &contenders[ci]);
}

/* One line of the resident-code table: a contender against its reference, on that set alone. */
static void resident_row(bench_text *t, const hash_run *h, const contender *c, const contender *ref, double target)
{
    const int di = SET_RESIDENT;
    const dataset *d = &h->sets[di];
    char l[128], rl[128];
    contender_label(c, l, sizeof l);
    contender_label(ref, rl, sizeof rl);
    if (c->best[di] <= 0 || ref->best[di] <= 0) {
        bench_printf(t, "| %s | – | – | %s | – | |\n", l, rl);
        return;
    }
    double r = ref->best[di] / c->best[di];
    bench_printf(t, "| %s | %.2f | %.2f | %s | %.2f%s |", l, c->best[di] * 1e3, contender_gbps(c, d, di), rl, r,
                 target > 0 ? (r >= target ? " ✓" : " ✗") : "");
    if (target > 0)
        bench_printf(t, " ≥ %.1f× |\n", target);
    else
        bench_printf(t, " |\n");
}

/*
 * The targets on resident code, each against its reference on the same
 * bytes in the same run: CRC-64 and XXH3 per page against a plain read of
 * the pages (and the per-page loop without prefetching, as it was), BLAKE3
 * per page against the official C code.
 */
void resident_table(bench_text *t, const hash_run *h)
{
    const dataset *d = &h->sets[SET_RESIDENT];
    bench_printf(t, "%zu runs of resident pages, %.1f MiB, caches flushed before every run.\n\n", d->nspans,
                 d->bytes / BENCH_MIB);
    bench_printf(t, "| Contender | ms | GB/s | compared with | ratio | target |\n|---|---:|---:|---|---:|---|\n");
    const contender *plain = contender_find(K_READLOOP, 0);
    const contender *read = contender_find(K_MEMREAD, 0);
    const contender *official_asm = officials[0].dl ? contender_find(K_B3_OFFICIAL, 0) : NULL;
    static const struct {
        kind k;
        double target;
    } rows[] = {{K_CRC_PAGES, 1.1}, {K_CRC_PAGES_PLAIN, 0}, {K_XXH_PAGES, 1.1}, {K_XXH_PAGES_PLAIN, 0}};
    for (size_t i = 0; plain && i < sizeof rows / sizeof rows[0]; i++) {
        const contender *c = contender_find(rows[i].k, 0);
        if (c)
            resident_row(t, h, c, plain, rows[i].target);
    }
    for (size_t i = 0; read && i < sizeof rows / sizeof rows[0]; i++) {
        const contender *c = contender_find(rows[i].k, 0);
        if (c)
            resident_row(t, h, c, read, 0);
    }
    if (plain && read)
        resident_row(t, h, plain, read, 0);
    const contender *b3 = contender_find(K_B3_PAGES, h->best_path);
    if (b3 && official_asm)
        resident_row(t, h, b3, official_asm, 1.0);
    const contender *official_c = officials[1].dl ? contender_find(K_B3_OFFICIAL, 1) : NULL;
    if (b3 && official_c)
        resident_row(t, h, b3, official_c, 0);
    if (b3 && plain)
        resident_row(t, h, b3, plain, 0);
}

/* The stream form of a pages contender's algorithm, or -1 for a contender that is not one. */
static int stream_kind_of(kind k)
{
    return k == K_B3_PAGES ? K_B3_STREAM : k == K_CRC_PAGES ? K_CRC_STREAM : k == K_XXH_PAGES ? K_XXH_STREAM : -1;
}

/* Per-page digests against one stream, same path. */
void page_cost_table(bench_text *t, const hash_run *h)
{
    bench_printf(t, "| Algorithm | Path | cost of per-page digests, 16 MiB | 1 GiB | exec regions | resident code | "
                    "target |\n");
    bench_printf(t, "|---|---|---:|---:|---:|---:|---|\n");
    for (int ci = 0; ci < n_contenders; ci++) {
        const contender *c = &contenders[ci];
        int stream_kind = stream_kind_of(c->kind);
        if (stream_kind < 0)
            continue;
        const contender *s = contender_find((kind)stream_kind, c->path);
        bench_printf(t, "| %s | %s |", c->algo, c->impl);
        for (int di = 0; di < N_SETS; di++) {
            if (h->sets[di].spans && s && c->best[di] > 0 && s->best[di] > 0) {
                double over = (c->best[di] / s->best[di] - 1.0) * 100.0;
                bench_printf(t, " %+.1f %%%s |", over, c->kind == K_B3_PAGES ? (over <= 5.0 ? " ✓" : " ✗") : "");
            } else {
                bench_printf(t, " – |");
            }
        }
        bench_printf(t, c->kind == K_B3_PAGES ? " ≤ 5 %% |\n" : " |\n");
    }
}

/* CSV: one row per contender and data set. */
static void csv_table(bench_text *t, const hash_run *h)
{
    bench_printf(t, "dataset,bytes,algorithm,implementation,mode,seconds,gbps,reference,reference_gbps,ratio,target\n");
    for (int di = 0; di < N_SETS; di++) {
        const dataset *d = &h->sets[di];
        if (!d->spans)
            continue;
        for (int ci = 0; ci < n_contenders; ci++) {
            const contender *c = &contenders[ci];
            if (c->best[di] <= 0)
                continue;
            double target;
            const contender *ref = contender_reference(c, h->best_path, &target);
            char l[128] = "";
            if (ref)
                contender_label(ref, l, sizeof l);
            double rg = ref && ref->best[di] > 0 ? contender_gbps(ref, d, di) : 0;
            bench_printf(t, "%s,%zu,%s,%s,%s,%.6f,%.3f,%s,%.3f,%.3f,%.1f\n", d->name, d->bytes, c->algo, c->impl,
                         c->mode, c->best[di], contender_gbps(c, d, di), l, rg,
                         rg > 0 ? contender_gbps(c, d, di) / rg : 0, target);
        }
    }
}

/* Chart: gnuplot, a clustered bar per contender and data set, from a data file removed afterwards. */
static int write_chart(const char *out_dir, const hash_run *h)
{
    bench_text dat = {0};
    bench_printf(&dat, "label\t16MiB\t1GiB\tregions\tresident\n");
    for (int ci = 0; ci < n_contenders; ci++) {
        const contender *c = &contenders[ci];
        char l[128];
        contender_label(c, l, sizeof l);
        bench_printf(&dat, "\"%s\"", l);
        for (int di = 0; di < N_SETS; di++)
            bench_printf(&dat, "\t%.3f",
                         h->sets[di].spans && c->best[di] > 0 ? contender_gbps(c, &h->sets[di], di) : 0.0);
        bench_printf(&dat, "\n");
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/bench-hash.dat", out_dir);
    int err = bench_write_file(path, bench_text_str(&dat));
    bench_text_free(&dat);
    if (err)
        return -1;
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "gnuplot -e \"set terminal pngcairo size 1400,800 font ',10'; set output '%s/bench-hash.png'; "
             "set title 'procsum hashing throughput, one thread (%s)'; set ylabel 'GB/s'; set style data histograms; "
             "set style histogram clustered gap 1; set style fill solid 0.85 border -1; set boxwidth 0.9; "
             "set grid ytics; set xtics rotate by -35 left; set key top right; set bmargin 9; set yrange [0:*]; "
             "plot '%s' using 2:xtic(1) title '16 MiB', '' using 3 title '1 GiB', '' using 4 title "
             "'exec regions'\"",
             out_dir, h->cpu.name, path);
    if (system(cmd) != 0)
        fprintf(stderr, "note: gnuplot failed or is not installed; no chart\n");
    unlink(path);
    return 0;
}

#define BEGIN_MARK "<!-- bench:begin"
#define END_MARK "<!-- bench:end -->"

/* The generated part of docs/benchmarks.md. */
static int write_page(const char *out_dir, const hash_run *h, const char *throughput, const char *resident,
                      const char *page_cost)
{
    bench_text gen = {0};
    bench_printf(
        &gen,
        BEGIN_MARK
        " (generated by `ninja -C build bench-docs`; do not edit by hand) -->\n"
        "Machine: %s, one thread; BLAKE3 path chosen by the dispatcher: `%s`. "
        "Best of %d runs (1 GiB: %d) in CPU time, the runs of all contenders interleaved. Whole run: %.0f s.\n\n"
        "![throughput chart](bench-hash.png)\n\n"
        "### Throughput (GB/s, 10^9 bytes per second)\n\n%s\n"
        "### Resident code, from cold caches: the targets\n\n%s\n"
        "### Cost of per-page digests\n\n"
        "Time of *pages* over time of *stream*, same path, minus one.\n\n%s" END_MARK "\n",
        h->cpu.name, psum_simd_path_name(h->best_path), h->reps, h->sets[1].reps, h->elapsed_s, throughput, resident,
        page_cost);
    char path[1024];
    snprintf(path, sizeof path, "%s/benchmarks.md", out_dir);
    int err = bench_write_section(path, BEGIN_MARK, END_MARK, "# Hashing benchmarks\n\n", bench_text_str(&gen));
    bench_text_free(&gen);
    return err;
}

int write_docs(const char *out_dir, const hash_run *h, const char *throughput, const char *resident,
               const char *page_cost)
{
    bench_text csv = {0};
    csv_table(&csv, h);
    char path[1024];
    snprintf(path, sizeof path, "%s/bench-hash.csv", out_dir);
    int err = bench_write_file(path, bench_text_str(&csv));
    bench_text_free(&csv);
    if (err || write_chart(out_dir, h) != 0 || write_page(out_dir, h, throughput, resident, page_cost) != 0)
        return -1;
    fprintf(stderr, "wrote %s/bench-hash.csv, bench-hash.png, benchmarks.md\n", out_dir);
    return 0;
}
