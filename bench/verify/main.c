/*
 * bench_verify: what verifying many processes of a host costs, against
 * verifying one of each program. It starts 20 processes of one program
 * (sleep) and 20 python3 interpreters, then verifies
 *   - one of each, with one verifier: the unique code;
 *   - all 40 with one verifier: page-cache pages shared by several
 *     processes are checked once (procsum_verifier);
 *   - all 40 with a new verifier each: what it would cost without sharing;
 * and prints the bytes read and hashed, pages checked and CPU time of each.
 * The target is all/one <= 1.3. Public API only.
 *
 *   build/bench/bench_verify [COPIES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench_util.h"
#include "procsum.h"

#define MAX_COPIES 200

typedef struct figures {
    uint64_t bytes, pages, shared;
    double cpu_s;
    int failed;
} figures;

/* Verifies pids[0..n) with one verifier, or a new one for each (fresh). */
static figures verify(const pid_t *pids, size_t n, bool fresh)
{
    figures f = {0};
    procsum_options o;
    procsum_options_init(&o);
    procsum_verifier *v = NULL;
    double t0 = bench_thread_cpu_s();
    for (size_t i = 0; i < n; i++) {
        if ((fresh || !v) && (procsum_verifier_free(v), procsum_verifier_new(&o, &v)) != 0) {
            f.failed++;
            v = NULL;
            continue;
        }
        procsum_verify_result r;
        if (procsum_verifier_check(v, pids[i], &r) != 0 || r.change_count) {
            f.failed++;
            continue;
        }
        f.bytes += r.bytes_hashed;
        f.pages += r.pages_checked;
        f.shared += r.pages_shared;
        procsum_verify_result_free(&r);
    }
    f.cpu_s = bench_thread_cpu_s() - t0;
    procsum_verifier_free(v);
    return f;
}

static void print_row(const char *what, size_t processes, const figures *f, const figures *one)
{
    printf("| %-38s | %9zu | %10.1f | %8llu | %8llu | %6.3f | %5.2f |%s\n", what, processes, (double)f->bytes / BENCH_MIB,
           (unsigned long long)f->pages, (unsigned long long)f->shared, f->cpu_s,
           one->bytes ? (double)f->bytes / (double)one->bytes : 0.0, f->failed ? " (some failed)" : "");
}

int main(int argc, char **argv)
{
    size_t copies = argc > 1 ? (size_t)atoi(argv[1]) : 20;
    if (copies < 1 || copies > MAX_COPIES) {
        fprintf(stderr, "usage: bench_verify [COPIES (1-%d)]\n", MAX_COPIES);
        return 2;
    }
    pid_t pids[2 * MAX_COPIES];
    size_t n = 2 * copies;
    if (bench_start_sleepers(copies, pids) != 0)
        return 1;
    /* Every interpreter started and imported what it imports: a first round, not counted, waits for them. */
    bench_sleep_s(2.0);
    verify(pids, n, true);
    figures one = verify(pids, 2, false);
    figures all = verify(pids, n, false);
    figures each = verify(pids, n, true);
    bench_stop_sleepers(pids, n);
    printf("| %-38s | %9s | %10s | %8s | %8s | %6s | %5s |\n", "verified", "processes", "MiB hashed", "pages",
           "shared", "CPU s", "x one");
    printf("|%.40s|%.11s|%.12s|%.10s|%.10s|%.8s|%.7s|\n", "----------------------------------------", "-----------",
           "------------", "----------", "----------", "--------", "-------");
    print_row("one sleep and one python3", 2, &one, &one);
    print_row("all, one verifier (shared pages once)", n, &all, &one);
    print_row("all, a verifier each (no sharing)", n, &each, &one);
    return one.failed || all.failed || each.failed ? 1 : 0;
}
