/* Processes for the benchmarks that check many at once: sleeps and python3 interpreters. */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>

#include "bench_util.h"

extern char **environ;

static pid_t spawn(char *const argv[])
{
    pid_t pid;
    return posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) == 0 ? pid : -1;
}

int bench_start_sleepers(size_t copies, pid_t *pids)
{
    char *sleeper[] = {"sleep", "600", NULL};
    char *python[] = {"python3", "-c", "import time; time.sleep(600)", NULL};
    for (size_t i = 0; i < 2 * copies; i++) {
        pids[i] = spawn(i % 2 ? python : sleeper);
        if (pids[i] < 0) {
            fprintf(stderr, "bench: cannot start sleep and python3\n");
            bench_stop_sleepers(pids, i);
            return -1;
        }
    }
    return 0;
}

void bench_stop_sleepers(const pid_t *pids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    for (size_t i = 0; i < n; i++)
        waitpid(pids[i], NULL, 0);
}
