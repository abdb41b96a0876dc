/*
 * Detection on Windows, written against procsum.h alone (and Win32 for the
 * attack): a process nobody changed gets no report of any kind; a checker
 * with a 10 ms period notices one bit flipped in this program's own code,
 * in a function or in the last page of .text (which the file does not fill),
 * and names the program, the page, the byte, the bit and their file
 * offsets; a DLL loaded and unloaded in a loop meanwhile causes no report
 * and no crash; the benchmark sees ntdll.dll and kernel32.dll.
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

/* Every report, of any kind; the first one kept whole. */
typedef struct seen {
    CRITICAL_SECTION lock;
    int reports;
    procsum_report_kind kind;
    char source[2 * MAX_PATH];
    bool main_executable;
    uintptr_t first_page;
    size_t changed_pages;
    size_t digest_len;
    procsum_page_change change; /* the first changed page, against the PE file */
} seen;

static void on_mismatch(const procsum_mismatch *m, void *userdata)
{
    seen *s = userdata;
    EnterCriticalSection(&s->lock);
    if (s->reports++ == 0) {
        s->kind = m->kind;
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

/* What the first report was, for a failure message. */
static void describe_first(seen *s)
{
    if (reports(s) == 0)
        return;
    printf("  first report: %s, %s page %p (file offset 0x%llx), %zu page(s), %zu bytes %zu bits changed, %s\n",
           procsum_report_kind_name(s->kind), s->source, (void *)s->first_page,
           (unsigned long long)s->change.file_offset, s->changed_pages, s->change.changed_bytes,
           s->change.changed_bits, procsum_verdict_name(s->change.verdict));
}

/* Waits until the checker has completed n more passes (each reads every page once). */
static bool wait_passes(procsum_checker *c, uint64_t n)
{
    procsum_stats st;
    if (procsum_get_stats(c, &st) != 0)
        return false;
    uint64_t until = st.passes + n;
    for (int i = 0; i < 6000; i++) {
        if (procsum_get_stats(c, &st) != 0)
            return false;
        if (st.passes >= until)
            return true;
        Sleep(5);
    }
    return false;
}

static procsum_checker *start_checker(seen *s)
{
    InitializeCriticalSection(&s->lock);
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = 10;
    procsum_checker *c = NULL;
    int err = procsum_start(&o, on_mismatch, s, &c);
    CHECK(err == 0, "start: %s", procsum_strerror(err));
    return err ? NULL : c;
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

/* psum_loopdll.dll, next to this program. */
static void loop_dll_path(wchar_t path[MAX_PATH])
{
    DWORD n = GetModuleFileNameW(NULL, path, MAX_PATH);
    while (n > 0 && path[n - 1] != L'\\')
        n--;
    path[n] = L'\0';
    wcscat(path, L"psum_loopdll.dll");
}

static void dll_loop_no_report(void)
{
    looper l = {0};
    loop_dll_path(l.path);

    seen s = {0};
    procsum_checker *c = start_checker(&s);
    if (c) {
        HANDLE th = CreateThread(NULL, 0, load_loop, &l, 0, NULL);
        CHECK(th != NULL, "start the loop");
        Sleep(3000);
        InterlockedExchange(&l.stop, 1);
        if (th) {
            WaitForSingleObject(th, INFINITE);
            CloseHandle(th);
        }
        /* A few more passes with the DLL gone. */
        CHECK(wait_passes(c, 3), "passes after the loop");
        int err = procsum_stop(c);
        CHECK(err == 0, "stop: %s", procsum_strerror(err));
        printf("  %ld loads and unloads, %d reports\n", l.loads, s.reports);
        CHECK(!l.failed, "the DLL loaded and ran each time");
        CHECK(l.loads > 10, "the loop ran: %ld", l.loads);
        describe_first(&s);
        CHECK(s.reports == 0, "no report of any kind: %d", s.reports);
    }
    DeleteCriticalSection(&s.lock);
}

/*
 * A process nobody changed gets no report of any kind: every page of every
 * module equals what the loader made of its file (the last page of a
 * section is zero past its raw data; the next section's bytes follow it
 * only in the file).
 */
static void clean_process_no_report(void)
{
    seen s = {0};
    procsum_checker *c = start_checker(&s);
    if (!c) {
        DeleteCriticalSection(&s.lock);
        return;
    }
    CHECK(wait_passes(c, 5), "five passes ran");
    uint64_t counted = procsum_mismatch_count(c);
    int err = procsum_stop(c);
    CHECK(err == 0, "stop: %s", procsum_strerror(err));
    describe_first(&s);
    CHECK(s.reports == 0 && counted == 0, "no report: %d (count %llu)", s.reports, (unsigned long long)counted);
    DeleteCriticalSection(&s.lock);
}

/* The section header of the main program that holds rva, or NULL. */
static const IMAGE_SECTION_HEADER *section_of(uintptr_t rva)
{
    const uint8_t *base = (const uint8_t *)GetModuleHandleW(NULL);
    const IMAGE_NT_HEADERS *nt = (const IMAGE_NT_HEADERS *)(base + ((const IMAGE_DOS_HEADER *)base)->e_lfanew);
    const IMAGE_SECTION_HEADER *sec = IMAGE_FIRST_SECTION(nt);
    for (unsigned i = 0; i < nt->FileHeader.NumberOfSections; i++)
        if (rva >= sec[i].VirtualAddress && rva < (uintptr_t)sec[i].VirtualAddress + sec[i].Misc.VirtualSize)
            return &sec[i];
    return NULL;
}

static void flip(uintptr_t target, uint8_t mask)
{
    DWORD old = 0, tmp;
    CHECK(VirtualProtect((void *)target, 1, PAGE_EXECUTE_READWRITE, &old), "make the code writable");
    *(volatile uint8_t *)target ^= mask;
    CHECK(VirtualProtect((void *)target, 1, old, &tmp), "restore protection %lu", (unsigned long)old);
    FlushInstructionCache(GetCurrentProcess(), (void *)target, 1);
}

/*
 * Flips the bits of mask in the byte at target (code of this program) under
 * a running checker: exactly one report, a change of that page, a bitflip
 * of one bit at that address and at its offset in the .exe, and nothing
 * else reported. The bit is put back after.
 */
static void flip_is_reported(uintptr_t target, uint8_t mask)
{
    uintptr_t base = (uintptr_t)GetModuleHandleW(NULL);
    const IMAGE_SECTION_HEADER *sec = section_of(target - base);
    CHECK(sec != NULL, "the target is in a section");
    if (!sec)
        return;
    uintptr_t page = target & ~(uintptr_t)(PAGE - 1);
    uint64_t page_offset = sec->PointerToRawData + (page - base - sec->VirtualAddress);
    uint64_t target_offset = sec->PointerToRawData + (target - base - sec->VirtualAddress);

    seen s = {0};
    procsum_checker *c = start_checker(&s);
    if (!c) {
        DeleteCriticalSection(&s.lock);
        return;
    }
    CHECK(wait_passes(c, 3), "a few quiet passes first");
    CHECK(reports(&s) == 0, "nothing to report before the change");
    describe_first(&s);

    flip(target, mask);
    for (int i = 0; i < 1000 && reports(&s) == 0; i++)
        Sleep(10);
    CHECK(wait_passes(c, 5), "more passes, for a second, wrong report to show up");
    uint64_t counted = procsum_mismatch_count(c);
    int err = procsum_stop(c);
    CHECK(err == 0, "stop: %s", procsum_strerror(err));
    /* Put the bit back, so that the program's code is whole again. */
    flip(target, mask);
    describe_first(&s);
    CHECK(s.reports == 1 && counted == 1, "exactly one report: %d (count %llu)", s.reports,
          (unsigned long long)counted);
    if (s.reports >= 1) {
        CHECK(s.kind == PROCSUM_REPORT_CHANGED, "a change: %s", procsum_report_kind_name(s.kind));
        CHECK(_stricmp(base_name(s.source), program_name) == 0, "names the program: %s", s.source);
        CHECK(s.main_executable, "as the main executable");
        CHECK(s.first_page == page, "the right page: %p, want %p", (void *)s.first_page, (void *)page);
        CHECK(s.changed_pages == 1, "one page changed: %zu", s.changed_pages);
        CHECK(s.digest_len == 32, "BLAKE3 digests");
        const procsum_page_change *pc = &s.change;
        CHECK(pc->addr == page, "the page's address");
        CHECK(pc->file_offset == page_offset, "the page's file offset: 0x%llx, want 0x%llx",
              (unsigned long long)pc->file_offset, (unsigned long long)page_offset);
        /* The expected bytes come from the .exe on disk, laid out by its sections. */
        CHECK(pc->file_status == PROCSUM_FILE_COMPARED, "compared with the PE file: %s",
              procsum_file_status_name(pc->file_status));
        CHECK(pc->verdict == PROCSUM_VERDICT_BITFLIP, "a bitflip: %s", procsum_verdict_name(pc->verdict));
        CHECK(pc->changed_bytes == 1 && pc->changed_bits == 1, "one bit of one byte: %zu bytes, %zu bits",
              pc->changed_bytes, pc->changed_bits);
        CHECK(pc->run_count == 1 && pc->total_runs == 1, "one run: %zu", pc->total_runs);
        if (pc->run_count >= 1) {
            CHECK(pc->runs[0].addr == target && pc->runs[0].len == 1 && pc->runs[0].xor_mask[0] == mask,
                  "the flipped byte and bit: %p len %zu mask 0x%02x", (void *)pc->runs[0].addr, pc->runs[0].len,
                  pc->runs[0].xor_mask[0]);
            CHECK(pc->runs[0].file_offset == target_offset, "the byte's file offset: 0x%llx, want 0x%llx",
                  (unsigned long long)pc->runs[0].file_offset, (unsigned long long)target_offset);
        }
    }
    DeleteCriticalSection(&s.lock);
}

/*
 * A DLL loaded after the checker started gets its baselines at a later pass
 * and is defended from then on: a bit flipped in its code is reported once,
 * naming the DLL.
 */
static void flip_in_a_dll_loaded_later_is_reported(void)
{
    wchar_t path[MAX_PATH];
    loop_dll_path(path);
    seen s = {0};
    procsum_checker *c = start_checker(&s);
    if (!c) {
        DeleteCriticalSection(&s.lock);
        return;
    }
    CHECK(wait_passes(c, 3), "passes before the DLL");
    HMODULE h = LoadLibraryW(path);
    CHECK(h != NULL, "load psum_loopdll.dll");
    uintptr_t fn = h ? (uintptr_t)GetProcAddress(h, "psum_loop_value") : 0;
    CHECK(fn != 0, "its function");
    CHECK(wait_passes(c, 10), "passes with the DLL loaded");
    CHECK(reports(&s) == 0, "nothing to report before the change");
    if (fn) {
        flip(fn + 1, 0x04);
        for (int i = 0; i < 1000 && reports(&s) == 0; i++)
            Sleep(10);
        CHECK(wait_passes(c, 5), "more passes after the change");
    }
    int err = procsum_stop(c);
    CHECK(err == 0, "stop: %s", procsum_strerror(err));
    if (fn)
        flip(fn + 1, 0x04);
    describe_first(&s);
    CHECK(s.reports == 1, "exactly one report: %d", s.reports);
    CHECK(s.reports < 1 || _stricmp(base_name(s.source), "psum_loopdll.dll") == 0, "names the DLL: %s", s.source);
    CHECK(s.reports < 1 || s.change.verdict == PROCSUM_VERDICT_BITFLIP, "a bitflip: %s",
          procsum_verdict_name(s.change.verdict));
    if (h)
        FreeLibrary(h);
    DeleteCriticalSection(&s.lock);
}

static void one_bit_flip_is_reported(void)
{
    flip_is_reported(victim_address() + 1, 0x10);
    CHECK(psum_victim(1) == (1 ^ 0x5A) * 13 + 7, "the victim runs again once restored");
}

/*
 * The last page of .text ends before the page does: the loader fills the
 * rest with zeros, the file holds the next section there. A bit flipped in
 * that page is told as in any other page.
 */
static void flip_in_last_text_page_is_reported(void)
{
    uintptr_t base = (uintptr_t)GetModuleHandleW(NULL);
    const IMAGE_SECTION_HEADER *text = section_of(victim_address() - base);
    CHECK(text != NULL, "the section of the code");
    if (!text)
        return;
    uint32_t used = text->Misc.VirtualSize < text->SizeOfRawData ? text->Misc.VirtualSize : text->SizeOfRawData;
    uintptr_t last = base + text->VirtualAddress + used - 1;
    CHECK(used % PAGE != 0, "the section ends inside its last page: 0x%x bytes", (unsigned)used);
    printf("  .text 0x%x bytes of 0x%x raw; flipping a bit at %p\n", (unsigned)text->Misc.VirtualSize,
           (unsigned)text->SizeOfRawData, (void *)last);
    flip_is_reported(last, 0x04);
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
    RUN(clean_process_no_report);
    RUN(dll_loop_no_report);
    RUN(one_bit_flip_is_reported);
    RUN(flip_in_last_text_page_is_reported);
    RUN(flip_in_a_dll_loaded_later_is_reported);
    return check_summary(program_name);
}
