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
 *
 * --own-sigurg-flags: the same handler set at once without SA_RESTART and
 * with SA_ONSTACK: a SIGURG (a timer of its own) must break a read with
 * EINTR and run the handler on the alternate stack (exit 3 otherwise).
 *
 * --ignore-sigurg-late: once checked, ignores SIGURG; a SIGURG (a timer
 * of its own) must then not break a sleep (exit 3 otherwise).
 * --fork-ignore-sigurg-late does so in a child forked at once, during the
 * delay; the parent exits with the child's status.
 *
 * --fork-while-setting (no JSON file; a long delay): forks children that
 * set SIGURG's handler while a thread sets it too, over and over; each
 * child must be done within two seconds (exit 3 otherwise).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
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

static char alt_stack[65536];
static volatile sig_atomic_t on_alt_stack;

static void on_urgent_alt(int sig)
{
    (void)sig;
    char here;
    uintptr_t at = (uintptr_t)&here, lo = (uintptr_t)alt_stack;
    on_alt_stack = at >= lo && at < lo + sizeof(alt_stack);
    urgent_calls++;
}

/* --own-sigurg-flags: a read broken by the program's own timer's SIGURG, handled on the alternate stack. */
static bool own_sigurg_flags_hold(void)
{
    /* As small as allowed: procsum's own start, made on it, would overflow it. */
    long least = sysconf(_SC_MINSIGSTKSZ);
    stack_t st = {.ss_sp = alt_stack, .ss_size = least > 4096 && least < (long)sizeof(alt_stack) ? (size_t)least : 4096};
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_urgent_alt;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    int p[2];
    timer_t t;
    struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGURG};
    struct itimerspec soon = {.it_value = {.tv_nsec = 100000000}};
    if (sigaltstack(&st, NULL) != 0 || sigaction(SIGURG, &sa, NULL) != 0 || pipe(p) != 0 ||
        timer_create(CLOCK_MONOTONIC, &ev, &t) != 0 || timer_settime(t, 0, &soon, NULL) != 0)
        return false;
    alarm(5); /* a read restarted for ever ends the test */
    char c;
    ssize_t n = read(p[0], &c, 1);
    bool broken = n < 0 && errno == EINTR;
    alarm(0);
    timer_delete(t);
    close(p[0]);
    close(p[1]);
    if (!broken || urgent_calls != 1 || !on_alt_stack) {
        fprintf(stderr, "run_target: read %s, %d SIGURG, %s the alternate stack\n", broken ? "broken" : "restarted",
                (int)urgent_calls, on_alt_stack ? "on" : "off");
        return false;
    }
    return true;
}

/* --ignore-sigurg-late: an ignored SIGURG, from the program's own timer, does not break a sleep. */
static bool ignored_sigurg_sleeps(void)
{
    timer_t t;
    struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGURG};
    struct itimerspec soon = {.it_value = {.tv_nsec = 100000000}};
    struct timespec half = {0, 500000000};
    if (signal(SIGURG, SIG_IGN) == SIG_ERR || timer_create(CLOCK_MONOTONIC, &ev, &t) != 0 ||
        timer_settime(t, 0, &soon, NULL) != 0)
        return false;
    int slept = nanosleep(&half, NULL);
    timer_delete(t);
    if (slept != 0)
        fprintf(stderr, "run_target: an ignored SIGURG broke a sleep\n");
    return slept == 0;
}

static volatile sig_atomic_t setting_done;

static void *set_urgent_over_and_over(void *arg)
{
    (void)arg;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_urgent;
    while (!setting_done)
        sigaction(SIGURG, &sa, NULL);
    return NULL;
}

/* --fork-while-setting: whether every child, forked while a thread sets SIGURG's handler, sets it too and ends. */
static bool forks_while_setting(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, set_urgent_over_and_over, NULL) != 0)
        return false;
    bool ended = true;
    for (int i = 0; i < 200 && ended; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            struct sigaction sa;
            memset(&sa, 0, sizeof(sa));
            sa.sa_handler = on_urgent;
            _exit(sigaction(SIGURG, &sa, NULL) == 0 ? 0 : 1);
        }
        if (pid < 0)
            break;
        ended = false;
        for (int waited = 0; waited < 2000 && !ended; waited += 5, sleep_ms(5))
            ended = waitpid(pid, NULL, WNOHANG) == pid;
        if (!ended) {
            fprintf(stderr, "run_target: a child forked while SIGURG's handler was set hangs\n");
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    setting_done = 1;
    pthread_join(t, NULL);
    return ended;
}

/* --daemon, --fork-late or --fork-ignore-sigurg-late: returns in the child; the parent exits here. */
static void fork_first(const char *how)
{
    bool late = strcmp(how, "--fork-late") == 0, waited = late || strcmp(how, "--fork-ignore-sigurg-late") == 0;
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
    if (waited)
        exit(waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? WEXITSTATUS(status) : 1);
    exit(0);
}

static int flip_and_wait(const char *path, int wanted);
static bool close_fds;

static bool own_sigurg;  /* --own-sigurg */
static bool ignore_late; /* --[fork-]ignore-sigurg-late */
static const char *later_path;
static int later_wanted;

static void *later(void *arg)
{
    (void)arg;
    exit(flip_and_wait(later_path, later_wanted));
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--fork-while-setting") == 0)
        return forks_while_setting() ? 0 : 3;
    own_sigurg = argc > 1 && strcmp(argv[1], "--own-sigurg") == 0;
    bool leaderless = argc > 1 && strcmp(argv[1], "--leaderless") == 0;
    close_fds = argc > 1 && strcmp(argv[1], "--close-fds") == 0;
    bool fork_ignore_late = argc > 1 && strcmp(argv[1], "--fork-ignore-sigurg-late") == 0;
    ignore_late = fork_ignore_late || (argc > 1 && strcmp(argv[1], "--ignore-sigurg-late") == 0);
    if (ignore_late) {
        if (fork_ignore_late)
            fork_first(argv[1]);
        argc--;
        argv++;
    } else if (own_sigurg) {
        if (!own_sigurg_set())
            return 3;
        argc--;
        argv++;
    } else if (argc > 1 && strcmp(argv[1], "--own-sigurg-flags") == 0) {
        if (!own_sigurg_flags_hold())
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
        fprintf(stderr, "usage: run_target [--daemon | --fork-late | --leaderless | --close-fds | --own-sigurg |"
                        " --own-sigurg-flags | --[fork-]ignore-sigurg-late] JSON-FILE [REPORTS]\n");
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
            return (own_sigurg && !own_sigurg_holds(2)) || (ignore_late && !ignored_sigurg_sleeps()) ? 3 : 0;
    return 1;
}
