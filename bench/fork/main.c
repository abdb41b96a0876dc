/*
 * bench_fork: what follow_fork costs a process that forks a lot. Forks
 * FORKS children (default 2,000) that _exit at once, and waits for each,
 * four ways: no checker, a checker without follow_fork, a checker with
 * follow_fork (each child starts a checker of its own, made before the
 * fork, and exits), and the same with follow_fork_delay_ms (each child arms
 * its checker's late start, and exits before it). The checker's period is
 * an hour: what is measured is the fork, not a pass. Prints the median over
 * ROUNDS (default 5) of the CPU time per fork (this process's and its
 * children's: on a shared machine, time spent waiting for a CPU is no part
 * of the cost) and of the wall time, the ways taking turns, the ratios of
 * CPU time, and the page faults a child takes before it exits (each a
 * copy-on-write fault, dear on a VM; the child reads its own count).
 *
 *   bench_fork [--forks N] [--rounds N]
 */
#include <procsum.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#define MAX_ROUNDS 50

enum way { NO_CHECKER, CHECKER, FOLLOW_FORK, FOLLOW_FORK_LATE, WAYS };
static const char *const way_names[WAYS] = {"no checker", "checker", "checker, follow_fork",
                                            "follow_fork, 100 ms late"};

typedef struct cost {
    double cpu_s, wall_s; /* per fork */
    double child_faults;  /* page faults of a child, mean */
} cost;

/* CPU time of this process and of its children waited for, in seconds. */
static double cpu_s(void)
{
    struct rusage self, children;
    if (getrusage(RUSAGE_SELF, &self) != 0 || getrusage(RUSAGE_CHILDREN, &children) != 0)
        return 0;
    return bench_timeval_s(self.ru_utime) + bench_timeval_s(self.ru_stime) + bench_timeval_s(children.ru_utime) +
           bench_timeval_s(children.ru_stime);
}

/* Forks and waits for `forks` children; the cost per fork, or a negative CPU time on failure. */
static cost fork_loop(int forks)
{
    cost failed = {-1, -1, -1};
    double t0 = bench_now_s(), c0 = cpu_s(), faults = 0;
    for (int i = 0; i < forks; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("bench_fork: fork");
            return failed;
        }
        if (pid == 0) {
            /* Its page faults so far, as its exit status (1 to 255; 0 when they cannot be read). */
            struct rusage self;
            long n = getrusage(RUSAGE_SELF, &self) == 0 ? self.ru_minflt : 0;
            _exit(n < 1 ? 0 : n > 255 ? 255 : (int)n);
        }
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) == 0) {
            fprintf(stderr, "bench_fork: a child failed\n");
            return failed;
        }
        faults += WEXITSTATUS(status);
    }
    return (cost){(cpu_s() - c0) / forks, (bench_now_s() - t0) / forks, faults / forks};
}

static cost one_round(enum way way, int forks)
{
    cost failed = {-1, -1, -1};
    procsum_checker *c = NULL;
    if (way != NO_CHECKER) {
        procsum_options o;
        procsum_options_init(&o);
        o.check_period_ms = 3600000;
        o.follow_fork = way == FOLLOW_FORK || way == FOLLOW_FORK_LATE;
        o.follow_fork_delay_ms = way == FOLLOW_FORK_LATE ? 100 : 0;
        int err = procsum_start(&o, NULL, NULL, &c);
        if (err) {
            fprintf(stderr, "bench_fork: procsum_start: %s\n", procsum_strerror(err));
            return failed;
        }
    }
    cost per_fork = fork_loop(forks);
    if (c && procsum_stop(c) != 0)
        return failed;
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
    double cpu[WAYS][MAX_ROUNDS], wall[WAYS][MAX_ROUNDS], faults[WAYS][MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        for (int w = 0; w < WAYS; w++) {
            cost c = one_round((enum way)w, forks);
            if (c.cpu_s < 0)
                return 1;
            cpu[w][r] = c.cpu_s;
            wall[w][r] = c.wall_s;
            faults[w][r] = c.child_faults;
        }
    }
    printf("bench_fork: %d forks and waits, median of %d rounds; CPU time of the process and its children\n", forks,
           rounds);
    double base = bench_median(cpu[NO_CHECKER], rounds);
    double plain = bench_median(cpu[CHECKER], rounds);
    for (int w = 0; w < WAYS; w++) {
        double m = bench_median(cpu[w], rounds);
        printf("  %-24s %7.1f us CPU per fork (x%.2f of no checker, x%.2f of a checker without follow_fork), "
               "%7.1f us wall, %5.1f page faults in the child\n",
               way_names[w], m * 1e6, m / base, m / plain, bench_median(wall[w], rounds) * 1e6,
               bench_median(faults[w], rounds));
    }
    return 0;
}
