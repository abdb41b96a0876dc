/*
 * The process test_outside checks from outside. It reads a variable of
 * psum_vardll.dll declared without dllimport; built with -mcmodel=small,
 * the read is one RIP-relative instruction whose displacement MinGW's
 * runtime pseudo-relocation rewrites in .text before main. It also loads
 * psum_clashdll.dll, which the loader must relocate. It prints
 * "ready ADDRESS BASE VALUE CLASH" (the function holding that instruction,
 * the image's base, the variable's value, psum_clashdll.dll's base) and
 * waits until its standard input ends, then exits.
 */
#include <windows.h>

#include <stdint.h>
#include <stdio.h>

extern int psum_shared_value; /* no dllimport: on purpose */
__declspec(dllimport) int psum_clash_value(void);

__attribute__((noinline)) int psum_read_shared(void);
__attribute__((noinline)) int psum_read_shared(void)
{
    return psum_shared_value;
}

int main(void)
{
    int (*volatile fn)(void) = psum_read_shared;
    int value = fn() + psum_clash_value() - 7;
    printf("ready %llx %llx %d %llx\n", (unsigned long long)(uintptr_t)fn,
           (unsigned long long)(uintptr_t)GetModuleHandleW(NULL), value,
           (unsigned long long)(uintptr_t)GetModuleHandleW(L"psum_clashdll.dll"));
    fflush(stdout);
    /* The function is never called again: the test may change its code. */
    while (getchar() != EOF)
        continue;
    return 0;
}
