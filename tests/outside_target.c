/*
 * A program that knows nothing of procsum, to be checked from outside: it
 * calls one function in a loop until it is killed. With an argument it
 * exits after that many milliseconds instead. outside_spare is never run:
 * tests change its bytes without crashing the program.
 */
#include <stdlib.h>
#include <time.h>

int outside_work(int x);
int outside_spare(int x);

__attribute__((noinline)) int outside_work(int x)
{
    return x * 3 + 1;
}

__attribute__((noinline)) int outside_spare(int x)
{
    return x * 5 + 7;
}

int main(int argc, char **argv)
{
    long left_ms = argc > 1 ? atol(argv[1]) : -1;
    struct timespec tick = {0, 10 * 1000 * 1000};
    volatile int acc = 0;
    for (;;) {
        acc = outside_work(acc);
        nanosleep(&tick, NULL);
        if (left_ms >= 0 && (left_ms -= 10) <= 0)
            return 0;
    }
}
