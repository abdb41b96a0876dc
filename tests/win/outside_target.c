/*
 * The process test_outside checks from outside. It reads a variable of
 * psum_vardll.dll declared without dllimport; built with -mcmodel=small,
 * the read is one RIP-relative instruction whose displacement MinGW's
 * runtime pseudo-relocation rewrites in .text before main. It also loads
 * psum_clashdll.dll, which the loader must relocate. It prints
 * "ready ADDRESS BASE VALUE CLASH" (the function holding that instruction,
 * the image's base, the variable's value, psum_clashdll.dll's base) and
 * waits until its standard input ends, then exits. A line "load" on its
 * standard input loads psum_loopdll.dll (next to it) and prints
 * "loaded ADDRESS" (its function psum_loop_value), or "failed".
 */
#include <windows.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

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
    char line[64];
    while (fgets(line, sizeof(line), stdin)) {
        if (strncmp(line, "load", 4) != 0)
            continue;
        wchar_t path[MAX_PATH];
        DWORD n = GetModuleFileNameW(NULL, path, MAX_PATH);
        while (n > 0 && path[n - 1] != L'\\')
            n--;
        path[n] = L'\0';
        wcscat(path, L"psum_loopdll.dll");
        HMODULE h = LoadLibraryW(path);
        FARPROC f = h ? GetProcAddress(h, "psum_loop_value") : NULL;
        if (f)
            printf("loaded %llx\n", (unsigned long long)(uintptr_t)f);
        else
            printf("failed\n");
        fflush(stdout);
    }
    return 0;
}
