/*
 * A program that knows nothing of procsum, to be checked from outside: it
 * calls one function in a loop until it is killed. With an argument it
 * exits after that many milliseconds instead. outside_spare and
 * outside_spare_page are never run: tests change their bytes without
 * crashing the program. Each starts a page of its own, so that two pages
 * can be changed. main reads a byte of each at once, so that both pages are
 * in its page table when a checker takes its first look: left to the
 * kernel's fault-around, a page missing then (a file's page cache still
 * being written back) makes a later change a first look at the file
 * instead of a change against the baseline.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

unsigned outside_work(unsigned x);
unsigned outside_spare(unsigned x);
unsigned outside_spare_page(unsigned x);

/* Unsigned: the loop wraps round for as long as it runs, which signed arithmetic may not. */
__attribute__((noinline)) unsigned outside_work(unsigned x)
{
    return x * 3 + 1;
}

__attribute__((noinline, aligned(4096))) unsigned outside_spare(unsigned x)
{
    return x * 5 + 7;
}

__attribute__((noinline, used, aligned(4096))) unsigned outside_spare_page(unsigned x)
{
    return x * 11 + 13;
}

/* OUTSIDE_TARGET_FLIP set: bit 0 of byte 5 of outside_spare flipped at once, by the program itself. */
static bool flip_own_spare(void)
{
    int fd = open("/proc/self/mem", O_RDWR);
    if (fd < 0)
        return false;
    unsigned char b;
    off_t at = (off_t)((uintptr_t)outside_spare + 5);
    bool flipped = false;
    if (pread(fd, &b, 1, at) == 1) {
        b ^= 1;
        flipped = pwrite(fd, &b, 1, at) == 1;
    }
    close(fd);
    return flipped;
}

/* OUTSIDE_TARGET_REEXEC set: SIGUSR1 makes the program run itself again, with the same arguments and environment. */
static volatile sig_atomic_t run_again;

static void on_usr1(int sig)
{
    (void)sig;
    run_again = 1;
}

int main(int argc, char **argv)
{
    if (getenv("OUTSIDE_TARGET_REEXEC"))
        signal(SIGUSR1, on_usr1);
    long left_ms = argc > 1 ? atol(argv[1]) : -1;
    struct timespec tick = {0, 10 * 1000 * 1000};
    volatile unsigned acc = 0;
    acc += *(const volatile unsigned char *)(uintptr_t)outside_spare;
    acc += *(const volatile unsigned char *)(uintptr_t)outside_spare_page;
    if (getenv("OUTSIDE_TARGET_FLIP") && !flip_own_spare())
        return 1; /* the test waiting for its alert says so */
    for (;;) {
        acc = outside_work(acc);
        nanosleep(&tick, NULL);
        if (run_again)
            execv(argv[0], argv);
        if (left_ms >= 0 && (left_ms -= 10) <= 0)
            return 0;
    }
}
