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
 *
 * --own-sigurg: the program sets its own SIGURG handler at once, while the
 * preload library's start is still armed (as postgres's postmaster does),
 * and sends itself SIGURG before and after the flip: it must be checked
 * all the same, read its handler back as set, and have it called for each
 * (exit 3 otherwise).
 *
 * --leaderless does it all on a second thread while the first one ends
 * (pthread_exit in main): the process runs on, its first thread a zombie.
 * --close-fds first closes every descriptor but the standard ones, as a
 * daemon starting does, and opens /dev/null under their numbers.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
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

static volatile sig_atomic_t urgent_calls;

static void on_urgent(int sig)
{
    (void)sig;
    urgent_calls++;
}

/* --own-sigurg: sends itself SIGURG `times` times; whether its handler is set and took each. */
static bool own_sigurg_holds(int times)
{
    struct sigaction now;
    if (sigaction(SIGURG, NULL, &now) != 0 || (now.sa_flags & SA_SIGINFO) || now.sa_handler != on_urgent) {
        fprintf(stderr, "run_target: SIGURG's handler reads back as another one\n");
        return false;
    }
    sig_atomic_t before = urgent_calls;
    for (int i = 0; i < times; i++)
        kill(getpid(), SIGURG);
    if (urgent_calls != before + times) {
        fprintf(stderr, "run_target: %d of %d SIGURG reached the handler\n", (int)(urgent_calls - before), times);
        return false;
    }
    return true;
}

static bool own_sigurg_set(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_urgent;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    struct sigaction was;
    if (sigaction(SIGURG, &sa, &was) != 0 || (was.sa_flags & SA_SIGINFO) || was.sa_handler != SIG_DFL) {
        fprintf(stderr, "run_target: SIGURG's handler was not the default\n");
        return false;
    }
    /* signal() answers with the handler set just before, and sets it again. */
    if (signal(SIGURG, on_urgent) != on_urgent) {
        fprintf(stderr, "run_target: signal() did not give back the handler set\n");
        return false;
    }
    return own_sigurg_holds(3);
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

static int flip_and_wait(const char *path, int wanted);
static bool close_fds;

static bool own_sigurg; /* --own-sigurg */
static const char *later_path;
static int later_wanted;

static void *later(void *arg)
{
    (void)arg;
    exit(flip_and_wait(later_path, later_wanted));
}

int main(int argc, char **argv)
{
    own_sigurg = argc > 1 && strcmp(argv[1], "--own-sigurg") == 0;
    bool leaderless = argc > 1 && strcmp(argv[1], "--leaderless") == 0;
    close_fds = argc > 1 && strcmp(argv[1], "--close-fds") == 0;
    if (own_sigurg) {
        if (!own_sigurg_set())
            return 3;
        argc--;
        argv++;
    } else if (leaderless || close_fds ||
               (argc > 1 && (strcmp(argv[1], "--daemon") == 0 || strcmp(argv[1], "--fork-late") == 0))) {
        if (!leaderless && !close_fds)
            fork_first(argv[1]);
        argc--;
        argv++;
    }
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: run_target [--daemon | --fork-late | --leaderless | --close-fds | --own-sigurg] JSON-FILE "
                        "[REPORTS]\n");
        return 2;
    }
    int wanted = argc == 3 ? atoi(argv[2]) : 1;
    if (leaderless) {
        later_path = argv[1];
        later_wanted = wanted;
        pthread_t t;
        if (pthread_create(&t, NULL, later, NULL) != 0)
            return 1;
        pthread_exit(NULL);
    }
    return flip_and_wait(argv[1], wanted);
}

/* Flips a bit of run_spare, then waits for its report in path: 0, or 1 when none came. */
static int flip_and_wait(const char *path, int wanted)
{
    sleep_ms(400);
    if (close_fds) {
        sleep_ms(1100); /* the checker's passes have opened what they keep */
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        for (int i = 0; i < 16; i++)
            (void)open("/dev/null", O_RDONLY);
        sleep_ms(300);
    }
    uintptr_t byte = (uintptr_t)run_spare + 4;
    uintptr_t page = byte & ~(uintptr_t)4095;
    if (mprotect((void *)page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) {
        perror("mprotect");
        return 1;
    }
    *(volatile uint8_t *)byte ^= 0x10;
    mprotect((void *)page, 4096, PROT_READ | PROT_EXEC);
    for (int i = 0; i < 600; i++, sleep_ms(50))
        if (reported(path, wanted))
            return own_sigurg && !own_sigurg_holds(2) ? 3 : 0;
    return 1;
}
