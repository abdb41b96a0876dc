/*
 * bench_lazy: what lazy_start costs a fork/exec-heavy script. A bash script
 * runs /bin/true COUNT times (default 2,000) with, preloaded into every
 * process, a small library that links libprocsum and whose constructor
 * either calls procsum_start with lazy_start (on) or does not (off), or
 * only starts one sleeping thread (what a checker that waits on a thread
 * costs), or only one thread that sleeps, started when the delay is
 * over (the floor for any checker that starts late: bash itself lives past
 * the delay, and a process's first thread switches the C library to its
 * multi-threaded paths for good); and with nothing preloaded, for scale. The variants take turns (each
 * round starting one later), ROUNDS times
 * each (default 5), and the medians are compared in the same run. The CPU
 * time of the script and every process it ran (wait4's usage) is compared
 * too: on a shared machine it moves far less than the wall time, but it
 * misses the waits (a process held up by a thread of the lowest priority).
 *
 *   bench_lazy [--count N] [--rounds N]
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "bench_util.h"

extern char **environ;

#define MAX_ROUNDS 50

/*
 * Runs the script once with LD_PRELOAD set to preload (NULL: unset); its
 * wall time in seconds, < 0 on failure; its CPU time (the script's and its
 * processes', user and system) in *cpu, their page faults in *faults.
 */
static double run_script(const char *preload, long count, double *cpu, double *faults)
{
    char script[128];
    snprintf(script, sizeof(script), "for i in $(seq %ld); do /bin/true; done", count);
    char *argv[] = {(char *)"bash", (char *)"-c", script, NULL};
    if (preload ? setenv("LD_PRELOAD", preload, 1) != 0 : unsetenv("LD_PRELOAD") != 0)
        return -1;
    double t0 = bench_now_s();
    pid_t pid;
    int rc = posix_spawnp(&pid, "bash", NULL, NULL, argv, environ);
    unsetenv("LD_PRELOAD");
    if (rc != 0)
        return -1;
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR)
            return -1;
    double t = bench_now_s() - t0;
    *faults = (double)ru.ru_minflt + (double)ru.ru_majflt;
    *cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? t : -1;
}

/*
 * The median of a[r] / b[r] over the rounds. The variants of one round run
 * back to back, and this machine's speed drifts by 10-30 % over minutes:
 * a round's own ratio compares runs made at one speed.
 */
static double round_ratio(const double *a, const double *b, int rounds)
{
    double r[MAX_ROUNDS];
    for (int i = 0; i < rounds; i++)
        r[i] = a[i] / b[i];
    return bench_median(r, rounds);
}

int main(int argc, char **argv)
{
    long count = 2000;
    int rounds = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_lazy [--count N] [--rounds N]\n");
            return 2;
        }
    }
    if (count <= 0 || rounds <= 0 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "bench_lazy: count and rounds (1-%d) must be positive\n", MAX_ROUNDS);
        return 2;
    }
    enum { VARIANTS = 5 };
    const char *names[VARIANTS] = {"nothing preloaded", "library, no procsum_start",
                                   "library, procsum_start (lazy_start)", "library, one sleeping thread",
                                   "library, a thread after the delay"};
    const char *preloads[VARIANTS] = {NULL, BENCH_LAZY_OFF, BENCH_LAZY_ON, BENCH_LAZY_FLOOR, BENCH_LAZY_LATE_FLOOR};
    double t[VARIANTS][MAX_ROUNDS], cpu[VARIANTS][MAX_ROUNDS], faults[VARIANTS][MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        /* Each round starts one variant later: none always runs right after another (the page cache, the host). */
        for (int k = 0; k < VARIANTS; k++) {
            int v = (k + r) % VARIANTS;
            t[v][r] = run_script(preloads[v], count, &cpu[v][r], &faults[v][r]);
            if (t[v][r] < 0) {
                fprintf(stderr, "bench_lazy: the script failed (%s)\n", names[v]);
                return 1;
            }
        }
    }
    printf("bash running /bin/true %ld times, %d rounds each, variants taking turns\n", count, rounds);
    double med[VARIANTS], med_cpu[VARIANTS];
    for (int v = 0; v < VARIANTS; v++) {
        med[v] = bench_median(t[v], rounds);
        med_cpu[v] = bench_median(cpu[v], rounds);
        /* Page faults are dear on a VM, and count the same however busy the machine is. */
        printf("  %-38s median %.3f s  (min %.3f, max %.3f)  CPU median %.3f s  page faults per run %.1f\n",
               names[v], med[v], bench_min(t[v], rounds), bench_max(t[v], rounds), med_cpu[v],
               bench_median(faults[v], rounds) / (double)count);
    }
    printf("procsum_start with lazy_start / the same library without it: %.3fx (target <= 1.05x)\n",
           med[2] / med[1]);
    printf("  median of the rounds' own ratios:                           %.3fx\n", round_ratio(t[2], t[1], rounds));
    printf("  the same in CPU time:                                       %.3fx\n", med_cpu[2] / med_cpu[1]);
    printf("one sleeping thread / the library without procsum_start:    %.3fx, CPU %.3fx\n", med[3] / med[1],
           med_cpu[3] / med_cpu[1]);
    printf("a thread after the delay / the library without procsum_start: %.3fx (the floor), CPU %.3fx, "
           "rounds' own %.3fx\n",
           med[4] / med[1], med_cpu[4] / med_cpu[1], round_ratio(t[4], t[1], rounds));
    printf("procsum_start with lazy_start / a thread after the delay:     %.3fx, CPU %.3fx, rounds' own %.3fx\n",
           med[2] / med[4], med_cpu[2] / med_cpu[4], round_ratio(t[2], t[4], rounds));
    printf("the library without procsum_start / nothing preloaded:       %.3fx (loading libprocsum)\n",
           med[1] / med[0]);
    return 0;
}
