/*
 * Every configuration runs in a fresh process: this program re-executed
 * (through /proc/self/exe) as
 *     bench_checker --child ALGO resident|all FD SECONDS SAMPLES CHECKS
 * which measures and writes its result, whole, to the pipe FD. A fresh
 * process keeps the pages one run faulted in out of the next run's figures.
 * The result goes through the pipe as raw bytes: both ends are this binary.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checker_bench.h"

#define CHILD_ARGC 8

/* Starts this program as the child for cfg, its result to be written to write_fd; the pid, or -1. */
static pid_t spawn_child(const config *cfg, const run_params *p, int write_fd)
{
    char fd_arg[16], sec_arg[32], smp_arg[16], chk_arg[16];
    snprintf(fd_arg, sizeof fd_arg, "%d", write_fd);
    snprintf(sec_arg, sizeof sec_arg, "%g", p->seconds);
    snprintf(smp_arg, sizeof smp_arg, "%d", p->samples);
    snprintf(chk_arg, sizeof chk_arg, "%d", p->checks);
    char *algo = (char *)procsum_algorithm_name(cfg->algo), *mode = cfg->nonresident ? "all" : "resident";
    char *args[CHILD_ARGC + 1] = {"bench_checker", "--child", algo, mode, fd_arg, sec_arg, smp_arg, chk_arg, NULL};
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        execv("/proc/self/exe", args);
        perror("execv /proc/self/exe");
        _exit(127);
    }
    return pid;
}

/* Reads the child's result from read_fd and reaps it; -1 if no whole result came. */
static int collect_child(pid_t pid, int read_fd, result *r)
{
    ssize_t got = bench_read_all(read_fd, r, sizeof(*r));
    if (got < 0)
        perror("read");
    if (close(read_fd) != 0)
        perror("close");
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("waitpid");
            return -1;
        }
    }
    if (got != (ssize_t)sizeof(*r)) {
        memset(r, 0, sizeof(*r));
        snprintf(r->error, sizeof r->error, "the child ended without a result (%s %d)",
                 WIFSIGNALED(status) ? "signal" : "exit status",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        return -1;
    }
    return r->ok ? 0 : -1;
}

int child_run(const config *cfg, const run_params *p, result *r)
{
    memset(r, 0, sizeof(*r));
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        return -1;
    }
    if (fcntl(fds[0], F_SETFD, FD_CLOEXEC) != 0) {
        perror("fcntl");
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    pid_t pid = spawn_child(cfg, p, fds[1]);
    if (close(fds[1]) != 0)
        perror("close");
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    return collect_child(pid, fds[0], r);
}

bool child_is_invocation(int argc, char **argv)
{
    return argc == CHILD_ARGC && strcmp(argv[1], "--child") == 0;
}

int child_main(int argc, char **argv)
{
    (void)argc;
    result r;
    memset(&r, 0, sizeof r);
    procsum_algorithm a;
    int fd = atoi(argv[4]);
    run_params p = {.seconds = atof(argv[5]), .samples = atoi(argv[6]), .checks = atoi(argv[7])};
    if (procsum_algorithm_parse(argv[2], &a) != 0)
        snprintf(r.error, sizeof r.error, "unknown algorithm %s", argv[2]);
    else
        measure_config(&r, a, strcmp(argv[3], "all") == 0, &p);
    if (bench_write_all(fd, &r, sizeof r) != 0) {
        perror("write");
        return 1;
    }
    return r.ok ? 0 : 1;
}
