/*
 * bench_residency: what asking a page's residency costs on Windows, where
 * every pass asks it of every page it might read (QueryWorkingSetEx, 64
 * pages a call, as src/os/win/residency.c asks). Over the executable pages
 * of this program's own modules, the best of ROUNDS timings of one question
 * over all of them. Printed: pages, microseconds a page, and the throughput
 * no pass that asks can exceed (a page's 4,096 bytes over that time, with
 * the hashing itself free). Under Wine that bound sits below what XXH3 and
 * CRC-64 hash at on Linux: bench/windows/throughput.sh prints both.
 *
 * PAGES_PER_CALL (default 64, at most 4096) asks that many pages a call
 * instead: under Wine the cost a page does not move with it.
 *
 *   bench_residency.exe [ROUNDS [PAGES_PER_CALL]]
 */
#include <windows.h>
#include <psapi.h>
#include <stdio.h>
#include <stdlib.h>

#define PAGE 4096u
#define MAX_PAGES 65536u
#define MAX_PER_CALL 4096

static double now_us(void)
{
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (double)c.QuadPart * 1e6 / (double)f.QuadPart;
}

/* The executable committed image pages of this process, in address order. */
static size_t code_pages(uintptr_t *pages, size_t cap)
{
    size_t n = 0;
    MEMORY_BASIC_INFORMATION mbi;
    for (uintptr_t at = 0; n < cap && VirtualQuery((LPCVOID)at, &mbi, sizeof(mbi)) == sizeof(mbi);) {
        uintptr_t end = (uintptr_t)mbi.BaseAddress + mbi.RegionSize;
        DWORD exec = PAGE_EXECUTE | PAGE_EXECUTE_READ | PAGE_EXECUTE_WRITECOPY | PAGE_EXECUTE_READWRITE;
        if (mbi.State == MEM_COMMIT && mbi.Type == MEM_IMAGE && (mbi.Protect & exec))
            for (uintptr_t p = (uintptr_t)mbi.BaseAddress; p < end && n < cap; p += PAGE)
                pages[n++] = p;
        if (end <= at)
            break;
        at = end;
    }
    return n;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    int per_call = argc > 2 ? atoi(argv[2]) : 64;
    if (rounds < 1 || per_call < 1 || per_call > MAX_PER_CALL) {
        fprintf(stderr, "usage: bench_residency [ROUNDS (1 or more) [PAGES_PER_CALL (1-%d)]]\n", MAX_PER_CALL);
        return 2;
    }
    uintptr_t *pages = malloc(MAX_PAGES * sizeof(*pages));
    static PSAPI_WORKING_SET_EX_INFORMATION info[MAX_PER_CALL];
    if (!pages)
        return 1;
    size_t n = code_pages(pages, MAX_PAGES);
    double best = 0;
    size_t valid = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_us();
        valid = 0;
        for (size_t done = 0; done < n;) {
            size_t k = n - done < (size_t)per_call ? n - done : (size_t)per_call;
            for (size_t i = 0; i < k; i++) {
                info[i].VirtualAddress = (void *)pages[done + i];
                info[i].VirtualAttributes.Flags = 0;
            }
            if (!QueryWorkingSetEx(GetCurrentProcess(), info, (DWORD)(k * sizeof(info[0])))) {
                fprintf(stderr, "bench_residency: QueryWorkingSetEx failed (error %lu)\n", GetLastError());
                free(pages);
                return 1;
            }
            for (size_t i = 0; i < k; i++)
                valid += info[i].VirtualAttributes.Valid;
            done += k;
        }
        double took = now_us() - t0;
        if (r == 0 || took < best)
            best = took;
    }
    double per_page = n ? best / (double)n : 0;
    printf("residency: %zu code pages (%zu in the working set), %d a call, %.2f us a page, at most %.2f GB/s for a "
           "pass that asks\n",
           n, valid, per_call, per_page, per_page > 0 ? PAGE / per_page / 1e3 : 0.0);
    free(pages);
    return 0;
}
