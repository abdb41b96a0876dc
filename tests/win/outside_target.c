/*
 * The process test_outside checks from outside. It reads a variable of
 * psum_vardll.dll declared without dllimport; built with -mcmodel=small,
 * the read is one RIP-relative instruction whose displacement MinGW's
 * runtime pseudo-relocation rewrites in .text before main. It prints
 * "ready ADDRESS BASE VALUE" (the function holding that instruction, the
 * image's base) and waits until its standard input ends, then exits.
 */
#include <windows.h>

#include <stdint.h>
#include <stdio.h>

extern int psum_shared_value; /* no dllimport: on purpose */

__attribute__((noinline)) int psum_read_shared(void);
__attribute__((noinline)) int psum_read_shared(void)
{
    return psum_shared_value;
}

int main(void)
{
    int (*volatile fn)(void) = psum_read_shared;
    int value = fn();
    printf("ready %llx %llx %d\n", (unsigned long long)(uintptr_t)fn,
           (unsigned long long)(uintptr_t)GetModuleHandleW(NULL), value);
    fflush(stdout);
    /* The function is never called again: the test may change its code. */
    while (getchar() != EOF)
        continue;
    return 0;
}
