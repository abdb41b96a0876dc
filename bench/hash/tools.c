/*
 * The command-line references, b3sum and xxhsum: timed as the CPU time
 * (user + system) of their process over a data set's tmpfs file, their
 * start-up (best of many runs on a 1-byte file) subtracted.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hash_bench.h"

extern char **environ;

const char *const B3SUM_ARGV[] = {"b3sum", "--num-threads", "1", NULL};
const char *const XXHSUM_ARGV[] = {"xxhsum", "-H3", NULL};
static double tool_startup[2]; /* b3sum, xxhsum on a 1-byte file */
static char tiny_file[256];

/* CPU time (user + system) of one run of argv + file, through posix_spawnp; < 0 on failure. */
static double time_tool(const char *const *argv, const char *file)
{
    const char *args[8];
    int n = 0;
    while (argv[n] && n < 6) {
        args[n] = argv[n];
        n++;
    }
    args[n++] = file;
    args[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0); /* xxhsum's progress line */
    pid_t pid;
    int err = posix_spawnp(&pid, args[0], &fa, NULL, (char *const *)(void *)args, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err)
        return -1;
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return bench_timeval_s(ru.ru_utime) + bench_timeval_s(ru.ru_stime);
}

static bool tool_available(const char *const *argv)
{
    char path[64];
    snprintf(path, sizeof path, "%s/procsum-bench-probe-XXXXXX", datasets_tmp_dir());
    int fd = mkstemp(path);
    if (fd < 0)
        return false;
    ssize_t w = write(fd, "x", 1);
    close(fd);
    double t = w == 1 ? time_tool(argv, path) : -1;
    unlink(path);
    return t >= 0;
}

/* CPU time of one run of a tool over the data set's file, its start-up subtracted; < 0 if it failed. */
double tools_time_run(const contender *c, const dataset *d)
{
    double t = time_tool(c->argv, d->file);
    if (t < 0)
        return -1;
    t -= tool_startup[c->argv == B3SUM_ARGV ? 0 : 1];
    return t > 0 ? t : -1;
}

/* The command-line tools that are installed, each with its start-up: best of many runs on a 1-byte file. */
int tools_add(void)
{
    snprintf(tiny_file, sizeof tiny_file, "%s/procsum-bench-tiny-XXXXXX", datasets_tmp_dir());
    int tfd = mkstemp(tiny_file);
    if (tfd < 0 || write(tfd, "x", 1) != 1) {
        perror("tiny file");
        return -1;
    }
    close(tfd);
    const char *const *tools[2] = {B3SUM_ARGV, XXHSUM_ARGV};
    for (int i = 0; i < 2; i++) {
        if (!tool_available(tools[i])) {
            fprintf(stderr, "note: %s not found; its reference is left out\n", tools[i][0]);
            continue;
        }
        contender *c = contender_add(i == 0 ? "BLAKE3" : "XXH3", i == 0 ? "b3sum --num-threads 1" : "xxhsum -H3",
                                     "file", K_TOOL, 0, NULL);
        c->argv = tools[i];
        double best = -1;
        for (int r = 0; r < 15; r++) {
            double t = time_tool(tools[i], tiny_file);
            if (t >= 0 && (best < 0 || t < best))
                best = t;
        }
        tool_startup[i] = best;
    }
    return 0;
}

void tools_remove_files(void)
{
    unlink(tiny_file);
}
