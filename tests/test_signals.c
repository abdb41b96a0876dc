/*
 * No signal sent to the process runs on the checker's thread. The checker
 * blocks every signal but SIGSEGV and SIGBUS (its fault guard needs them);
 * one of those sent with kill() that lands there is sent on to the main
 * thread, where the program's own handler runs.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "procsum.h"
#include "test_util.h"

static atomic_long handled_on;
static atomic_int handled;
static atomic_int sender_pid;

static void on_segv(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)context;
    atomic_store(&handled_on, (long)syscall(SYS_gettid));
    atomic_store(&sender_pid, info->si_pid);
    atomic_fetch_add(&handled, 1);
}

static void sent_signal_runs_on_the_main_thread(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(sig, &sa, NULL), 0);

    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = 1;
    procsum_checker *c;
    cr_assert_eq(procsum_start(&o, NULL, NULL, &c), 0);
    test_wait_passes(c, 3);

    /* Every thread but the checker's blocks the signal: the kernel can only pick the checker's. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, sig);
    cr_assert_eq(pthread_sigmask(SIG_BLOCK, &block, &old), 0);
    cr_assert_eq(kill(getpid(), sig), 0);
    usleep(200000);
    char comm[64] = "?";
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%ld/comm", atomic_load(&handled_on));
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(comm, sizeof(comm), f))
            comm[0] = '\0';
        fclose(f);
    }
    cr_assert_eq(atomic_load(&handled), 0, "the handler ran on another thread (tid %ld, %s) while the main one blocks it",
                 atomic_load(&handled_on), comm);
    cr_assert_eq(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
    for (int i = 0; i < 1000 && atomic_load(&handled) == 0; i++)
        usleep(1000);
    cr_assert_eq(atomic_load(&handled), 1, "the signal reached the program once");
    cr_assert_eq(atomic_load(&handled_on), (long)getpid(), "on the main thread");
    cr_assert_eq(atomic_load(&sender_pid), getpid(), "with its siginfo");
    cr_assert_eq(procsum_stop(c), 0);
}

Test(signals, a_sent_sigsegv_runs_on_the_main_thread, .timeout = 60)
{
    sent_signal_runs_on_the_main_thread(SIGSEGV);
}

Test(signals, a_sent_sigbus_runs_on_the_main_thread, .timeout = 60)
{
    sent_signal_runs_on_the_main_thread(SIGBUS);
}

Test(signals, other_signals_never_reach_the_checker, .timeout = 60)
{
    sent_signal_runs_on_the_main_thread(SIGFPE);
}
