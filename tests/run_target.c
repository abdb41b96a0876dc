/*
 * A program that knows nothing of procsum, for `procsum run`: after a
 * while it flips one bit of its own code (a function it never runs), then
 * waits until the JSON lines file named by argv[1] holds a bitflip report
 * (at most 30 s; with argv[2], that many: the reports of the processes
 * before it too) and exits 0, or 1 when none came. Built dynamic and, where
 * the C library allows, static.
 *
 * A child that never execs does all that instead of the process, with a
 * first argument: --daemon forks at once and the parent exits 0 (a child
 * forked before the preload library's delay is over, whose parent is
 * gone); --fork-late forks after 300 ms (once the checker runs) and the
 * parent exits with the child's status.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int run_spare(int x);

__attribute__((noinline)) int run_spare(int x)
{
    return x * 5 + 7;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static int reported(const char *path, int wanted)
{
    char buf[8192];
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int found = 0;
    while (found < wanted && fgets(buf, sizeof(buf), f))
        found += strstr(buf, "\"procsum.verdict\":\"bitflip\"") != NULL;
    fclose(f);
    return found >= wanted;
}

/* --daemon or --fork-late: returns in the child; the parent exits here. */
static void fork_first(const char *how)
{
    bool late = strcmp(how, "--fork-late") == 0;
    if (late)
        sleep_ms(300);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0)
        return;
    int status;
    if (late)
        exit(waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? WEXITSTATUS(status) : 1);
    exit(0);
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--daemon") == 0 || strcmp(argv[1], "--fork-late") == 0)) {
        fork_first(argv[1]);
        argc--;
        argv++;
    }
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: run_target [--daemon | --fork-late] JSON-FILE [REPORTS]\n");
        return 2;
    }
    int wanted = argc == 3 ? atoi(argv[2]) : 1;
    sleep_ms(400);
    uintptr_t byte = (uintptr_t)run_spare + 4;
    uintptr_t page = byte & ~(uintptr_t)4095;
    if (mprotect((void *)page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) {
        perror("mprotect");
        return 1;
    }
    *(volatile uint8_t *)byte ^= 0x10;
    mprotect((void *)page, 4096, PROT_READ | PROT_EXEC);
    for (int i = 0; i < 600; i++, sleep_ms(50))
        if (reported(argv[1], wanted))
            return 0;
    return 1;
}
