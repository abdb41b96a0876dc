/*
 * bench_fork: what follow_fork costs a process that forks a lot. Forks
 * FORKS children (default 2,000) that _exit at once, and waits for each,
 * three ways: no checker, a checker without follow_fork, a checker with
 * follow_fork (each child starts a checker of its own, made before the
 * fork, and exits). The checker's period is an hour: what is measured is
 * the fork, not a pass. Prints the median over ROUNDS (default 5) of the
 * time per fork, the three ways taking turns, and the ratios.
 *
 *   bench_fork [--forks N] [--rounds N]
 */
#include <procsum.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#define MAX_ROUNDS 50

enum way { NO_CHECKER, CHECKER, FOLLOW_FORK, WAYS };
static const char *const way_names[WAYS] = {"no checker", "checker", "checker, follow_fork"};

/* Seconds per fork and wait for `forks` children, or a negative value on failure. */
static double fork_loop(int forks)
{
    double t0 = bench_now_s();
    for (int i = 0; i < forks; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("bench_fork: fork");
            return -1;
        }
        if (pid == 0)
            _exit(0);
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "bench_fork: a child failed\n");
            return -1;
        }
    }
    return (bench_now_s() - t0) / forks;
}

static double one_round(enum way way, int forks)
{
    procsum_checker *c = NULL;
    if (way != NO_CHECKER) {
        procsum_options o;
        procsum_options_init(&o);
        o.check_period_ms = 3600000;
        o.follow_fork = way == FOLLOW_FORK;
        int err = procsum_start(&o, NULL, NULL, &c);
        if (err) {
            fprintf(stderr, "bench_fork: procsum_start: %s\n", procsum_strerror(err));
            return -1;
        }
    }
    double per_fork = fork_loop(forks);
    if (c && procsum_stop(c) != 0)
        return -1;
    return per_fork;
}

int main(int argc, char **argv)
{
    int forks = 2000, rounds = 5;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--forks") == 0)
            forks = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--rounds") == 0)
            rounds = atoi(argv[++i]);
        else
            forks = 0;
    }
    if (forks <= 0 || rounds <= 0 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: bench_fork [--forks N] [--rounds N (at most %d)]\n", MAX_ROUNDS);
        return 2;
    }
    double per_fork[WAYS][MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        for (int w = 0; w < WAYS; w++) {
            per_fork[w][r] = one_round((enum way)w, forks);
            if (per_fork[w][r] < 0)
                return 1;
        }
    }
    printf("bench_fork: %d forks and waits, median of %d rounds\n", forks, rounds);
    double base = bench_median(per_fork[NO_CHECKER], rounds);
    double plain = bench_median(per_fork[CHECKER], rounds);
    for (int w = 0; w < WAYS; w++) {
        double m = bench_median(per_fork[w], rounds);
        printf("  %-22s %8.1f us per fork  x%.2f of no checker  x%.2f of a checker without follow_fork\n",
               way_names[w], m * 1e6, m / base, m / plain);
    }
    return 0;
}
