/*
 * Detection on Windows, written against procsum.h alone (and Win32 for the
 * attack): a checker with a 10 ms period notices one bit flipped in this
 * program's own code and names the program and the page; a DLL loaded and
 * unloaded in a loop meanwhile causes no report and no crash; the benchmark
 * sees ntdll.dll and kernel32.dll.
 */
#include <windows.h>

#include <stdint.h>
#include <string.h>

#include "check.h"
#include "procsum.h"

#define PAGE 4096u

/* The function whose code is changed; never called after that. */
__attribute__((noinline)) int psum_victim(int x);
__attribute__((noinline)) int psum_victim(int x)
{
    return (x ^ 0x5A) * 13 + 7;
}

static uintptr_t victim_address(void)
{
    int (*volatile fn)(int) = psum_victim;
    return (uintptr_t)fn;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '\\');
    return slash ? slash + 1 : path;
}

static char program_name[MAX_PATH];

typedef struct seen {
    CRITICAL_SECTION lock;
    int reports;
    char source[2 * MAX_PATH];
    bool main_executable;
    uintptr_t first_page;
    size_t changed_pages;
    size_t digest_len;
    volatile LONG file_findings;
    procsum_page_change change; /* the first changed page, against the PE file */
} seen;

static void on_mismatch(const procsum_mismatch *m, void *userdata)
{
    seen *s = userdata;
    /*
     * Pages that differed from their file from the start are findings, not
     * changes: MinGW's start-up code patches the program's own text
     * (pseudo-relocations) before main runs.
     */
    if (m->kind != PROCSUM_REPORT_CHANGED) {
        InterlockedIncrement(&s->file_findings);
        return;
    }
    EnterCriticalSection(&s->lock);
    if (s->reports++ == 0) {
        snprintf(s->source, sizeof(s->source), "%s", m->region->source);
        s->main_executable = m->region->main_executable;
        s->first_page = m->first_changed_page;
        s->changed_pages = m->changed_pages;
        s->digest_len = m->digest_len;
        s->change = m->page_changes[0];
    }
    LeaveCriticalSection(&s->lock);
}

static int reports(seen *s)
{
    EnterCriticalSection(&s->lock);
    int n = s->reports;
    LeaveCriticalSection(&s->lock);
    return n;
}

static void benchmark_lists_system_dlls(void)
{
    procsum_options o;
    procsum_options_init(&o);
    procsum_benchmark_result b;
    int err = procsum_benchmark(&o, &b);
    CHECK(err == 0, "benchmark: %s", procsum_strerror(err));
    if (err)
        return;
    bool ntdll = false, kernel32 = false, program = false;
    for (size_t i = 0; i < b.region_count; i++) {
        const procsum_region *r = &b.regions[i];
        const char *name = base_name(r->source);
        ntdll |= _stricmp(name, "ntdll.dll") == 0;
        kernel32 |= _stricmp(name, "kernel32.dll") == 0;
        program |= r->main_executable && _stricmp(name, program_name) == 0;
    }
    CHECK(ntdll, "ntdll.dll hashed");
    CHECK(kernel32, "kernel32.dll hashed");
    CHECK(program, "%s hashed as the main executable", program_name);
    CHECK(b.hashed_bytes > 0 && b.region_count > 0, "%zu regions, %llu bytes", b.region_count,
          (unsigned long long)b.hashed_bytes);
    printf("  %zu regions, %llu bytes, scan %.3f ms, hash %.3f ms\n", b.region_count,
           (unsigned long long)b.hashed_bytes, (double)b.scan_ns / 1e6, (double)b.hash_ns / 1e6);
    procsum_benchmark_result_free(&b);

    o.skip_libs = true;
    err = procsum_benchmark(&o, &b);
    CHECK(err == 0, "benchmark skip_libs");
    bool only_main = b.region_count > 0;
    for (size_t i = 0; i < b.region_count; i++)
        only_main &= b.regions[i].main_executable && _stricmp(base_name(b.regions[i].source), program_name) == 0;
    CHECK(only_main, "skip_libs keeps only the program: %zu regions", b.region_count);
    procsum_benchmark_result_free(&b);
}

typedef struct looper {
    volatile LONG stop;
    long loads;
    wchar_t path[MAX_PATH];
    bool failed;
} looper;

static DWORD WINAPI load_loop(void *p)
{
    looper *l = p;
    while (!InterlockedCompareExchange(&l->stop, 0, 0)) {
        HMODULE h = LoadLibraryW(l->path);
        if (!h) {
            l->failed = true;
            break;
        }
        int (*fn)(int) = (int (*)(int))(void (*)(void))GetProcAddress(h, "psum_loop_value");
        if (!fn || fn(2) != 7)
            l->failed = true;
        FreeLibrary(h);
        l->loads++;
    }
    return 0;
}

static void dll_loop_no_report(void)
{
    looper l = {0};
    DWORD n = GetModuleFileNameW(NULL, l.path, MAX_PATH);
    while (n > 0 && l.path[n - 1] != L'\\')
        n--;
    l.path[n] = L'\0';
    wcscat(l.path, L"psum_loopdll.dll");

    seen s = {0};
    InitializeCriticalSection(&s.lock);
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = 10;
    procsum_checker *c = NULL;
    int err = procsum_start(&o, on_mismatch, &s, &c);
    CHECK(err == 0, "start: %s", procsum_strerror(err));
    if (!err) {
        HANDLE th = CreateThread(NULL, 0, load_loop, &l, 0, NULL);
        CHECK(th != NULL, "start the loop");
        Sleep(3000);
        InterlockedExchange(&l.stop, 1);
        if (th) {
            WaitForSingleObject(th, INFINITE);
            CloseHandle(th);
        }
        /* A few more periods with the DLL gone. */
        Sleep(100);
        err = procsum_stop(c);
        CHECK(err == 0, "stop: %s", procsum_strerror(err));
        printf("  %ld loads and unloads, %d reports\n", l.loads, s.reports);
        CHECK(!l.failed, "the DLL loaded and ran each time");
        CHECK(l.loads > 10, "the loop ran: %ld", l.loads);
        CHECK(s.reports == 0, "no report: %d (first: %s page %p)", s.reports, s.source, (void *)s.first_page);
    }
    DeleteCriticalSection(&s.lock);
}

static void one_bit_flip_is_reported(void)
{
    seen s = {0};
    InitializeCriticalSection(&s.lock);
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = 10;
    procsum_checker *c = NULL;
    int err = procsum_start(&o, on_mismatch, &s, &c);
    CHECK(err == 0, "start: %s", procsum_strerror(err));
    if (err) {
        DeleteCriticalSection(&s.lock);
        return;
    }
    Sleep(50); /* a few quiet periods first */
    CHECK(reports(&s) == 0, "nothing to report before the change");

    uintptr_t target = victim_address() + 1;
    uintptr_t page = target & ~(uintptr_t)(PAGE - 1);
    DWORD old = 0, tmp;
    CHECK(VirtualProtect((void *)target, 1, PAGE_EXECUTE_READWRITE, &old), "make the code writable");
    *(volatile uint8_t *)target ^= 0x10;
    CHECK(VirtualProtect((void *)target, 1, old, &tmp), "restore protection %lu", (unsigned long)old);
    FlushInstructionCache(GetCurrentProcess(), (void *)target, 1);

    for (int i = 0; i < 500 && reports(&s) == 0; i++)
        Sleep(10);
    Sleep(200); /* time for a second, wrong report to show up */
    uint64_t counted = procsum_mismatch_count(c) - (uint64_t)s.file_findings;
    err = procsum_stop(c);
    CHECK(err == 0, "stop: %s", procsum_strerror(err));
    CHECK(s.reports == 1 && counted == 1, "exactly one report: %d (count %llu)", s.reports,
          (unsigned long long)counted);
    if (s.reports >= 1) {
        printf("  report: %s page %p, %zu page(s) changed\n", s.source, (void *)s.first_page, s.changed_pages);
        CHECK(_stricmp(base_name(s.source), program_name) == 0, "names the program: %s", s.source);
        CHECK(s.main_executable, "as the main executable");
        CHECK(s.first_page == page, "the right page: %p, want %p", (void *)s.first_page, (void *)page);
        CHECK(s.changed_pages == 1, "one page changed: %zu", s.changed_pages);
        CHECK(s.digest_len == 32, "BLAKE3 digests");
        /* The expected bytes come from the .exe on disk, laid out by its sections. */
        CHECK(s.change.file_status == PROCSUM_FILE_COMPARED, "compared with the PE file: %s",
              procsum_file_status_name(s.change.file_status));
        CHECK(s.change.verdict == PROCSUM_VERDICT_BITFLIP, "a bitflip: %s", procsum_verdict_name(s.change.verdict));
        CHECK(s.change.run_count == 1 && s.change.runs[0].addr == target && s.change.runs[0].xor_mask[0] == 0x10,
              "the flipped byte and bit: %zu runs", s.change.run_count);
    }
    /* Put the bit back, so that the program's code is whole again. */
    VirtualProtect((void *)target, 1, PAGE_EXECUTE_READWRITE, &old);
    *(volatile uint8_t *)target ^= 0x10;
    VirtualProtect((void *)target, 1, old, &tmp);
    FlushInstructionCache(GetCurrentProcess(), (void *)target, 1);
    CHECK(psum_victim(1) == (1 ^ 0x5A) * 13 + 7, "the victim runs again once restored");
    DeleteCriticalSection(&s.lock);
}

int main(void)
{
    wchar_t exe[MAX_PATH];
    GetModuleFileNameW(NULL, exe, MAX_PATH);
    char exe8[4 * MAX_PATH];
    WideCharToMultiByte(CP_UTF8, 0, exe, -1, exe8, sizeof(exe8), NULL, NULL);
    snprintf(program_name, sizeof(program_name), "%s", base_name(exe8));
    CHECK(psum_victim(0) == (0 ^ 0x5A) * 13 + 7, "the victim runs");
    RUN(benchmark_lists_system_dlls);
    RUN(dll_loop_no_report);
    RUN(one_bit_flip_is_reported);
    return check_summary(program_name);
}
