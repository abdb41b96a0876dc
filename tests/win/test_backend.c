/*
 * The Windows backend, tested from inside: the region list (order,
 * alignment, modules, protection classes, file offsets), reads that fail
 * instead of faulting, in place or copied, while a DLL comes and goes, another process as a target, residency, threads,
 * events, clocks, error codes and the PE parser.
 */
#include "os/win/win.h"

#include <psapi.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "check.h"
#include "os/os.h"
#include "os/win/fault_guard.h"
#include "os/win/pages.h"
#include "describe/symbols.h"
#include "os/win/pe.h"
#include "pass/pass.h"

#define PAGE 4096u

/* Code of this program that the tests look for in the region list. */
__attribute__((noinline)) int psum_test_marker(int x);
__attribute__((noinline)) int psum_test_marker(int x)
{
    return x * 7 + 3;
}

static uintptr_t marker_address(void)
{
    int (*volatile fn)(int) = psum_test_marker;
    return (uintptr_t)fn;
}

static bool running_on_wine(void)
{
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    return ntdll && GetProcAddress(ntdll, "wine_get_version") != NULL;
}

static bool ends_with_ci(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && _stricmp(s + n - m, tail) == 0;
}

static const psum_os_region *region_at(const psum_os_region_list *l, uintptr_t addr)
{
    for (size_t i = 0; i < l->count; i++)
        if (l->items[i].start <= addr && addr < l->items[i].end)
            return &l->items[i];
    return NULL;
}

static bool list_self(psum_os_target **t, psum_os_region_list *l)
{
    memset(l, 0, sizeof(*l));
    int err = psum_os_target_open(0, t);
    CHECK(err == 0, "open self: %d", err);
    if (err)
        return false;
    err = psum_os_list_regions(*t, l);
    CHECK(err == 0, "list self: %d", err);
    if (err) {
        psum_os_target_close(*t);
        return false;
    }
    return true;
}

static void done(psum_os_target *t, psum_os_region_list *l)
{
    psum_os_region_list_free(l);
    psum_os_target_close(t);
}

/* Sorted, non-overlapping, page aligned, every one with a path. */
static void check_list_shape(const psum_os_region_list *l, const char *what)
{
    bool ok = l->count > 0;
    for (size_t i = 0; i < l->count && ok; i++) {
        const psum_os_region *r = &l->items[i];
        if (r->start % PAGE || r->end % PAGE || r->end <= r->start || !r->path || !r->path[0]) {
            CHECK(0, "%s: region %zu malformed: %p-%p", what, i, (void *)r->start, (void *)r->end);
            ok = false;
        } else if (i > 0 && r->start < l->items[i - 1].end) {
            CHECK(0, "%s: region %zu overlaps or is out of order", what, i);
            ok = false;
        } else if (r->kind == PROCSUM_REGION_ANON && strcmp(r->path, "[anon]") != 0) {
            CHECK(0, "%s: anon region named %s", what, r->path);
            ok = false;
        }
    }
    CHECK(ok, "%s: %zu regions, all well formed", what, l->count);
}

static void regions_shape_and_modules(void)
{
    psum_os_target *t;
    psum_os_region_list l;
    if (!list_self(&t, &l))
        return;
    check_list_shape(&l, "self");

    wchar_t wexe[MAX_PATH];
    char exe[4 * MAX_PATH];
    GetModuleFileNameW(NULL, wexe, MAX_PATH);
    WideCharToMultiByte(CP_UTF8, 0, wexe, -1, exe, sizeof(exe), NULL, NULL);

    const psum_os_region *code = region_at(&l, marker_address());
    CHECK(code != NULL, "the marker function lies in a listed region");
    if (code) {
        CHECK(code->kind == PROCSUM_REGION_FILE && code->main_executable, "in the main executable");
        CHECK(code->prot == (PSUM_PROT_R | PSUM_PROT_X), "readable and executable: prot %u", code->prot);
        CHECK(_stricmp(code->path, exe) == 0, "named by its full path: %s vs %s", code->path, exe);
        CHECK(code->dev != 0 || code->ino != 0, "file identity known: dev %llx ino %llx",
              (unsigned long long)code->dev, (unsigned long long)code->ino);
        printf("  main: %s dev %llx ino %llx\n", code->path, (unsigned long long)code->dev,
               (unsigned long long)code->ino);
        procsum_options o;
        procsum_options_init(&o);
        CHECK(psum_region_selected(code, &o), "selected by default");
        o.skip_libs = true;
        CHECK(psum_region_selected(code, &o), "selected with skip_libs");
    }
    bool ntdll = false, kernel32 = false, lib_selected = false, lib_marked_main = false;
    procsum_options o;
    procsum_options_init(&o);
    o.skip_libs = true;
    for (size_t i = 0; i < l.count; i++) {
        const psum_os_region *r = &l.items[i];
        if (r->kind != PROCSUM_REGION_FILE)
            continue;
        ntdll |= ends_with_ci(r->path, "\\ntdll.dll");
        kernel32 |= ends_with_ci(r->path, "\\kernel32.dll");
        if (!r->main_executable && psum_region_selected(r, &o))
            lib_selected = true;
        if (r->main_executable && _stricmp(r->path, exe) != 0)
            lib_marked_main = true;
    }
    CHECK(ntdll && kernel32, "ntdll.dll (%d) and kernel32.dll (%d) listed", ntdll, kernel32);
    CHECK(!lib_selected, "skip_libs selects no library");
    CHECK(!lib_marked_main, "only the program is the main executable");
    done(t, &l);
}

/* The bytes of a page of the program's code equal the PE file's at the region's file offset. */
static void file_offsets_match_the_file(void)
{
    psum_os_target *t;
    psum_os_region_list l;
    if (!list_self(&t, &l))
        return;
    const psum_os_region *code = region_at(&l, marker_address());
    if (!code) {
        CHECK(0, "no region for the marker");
        done(t, &l);
        return;
    }
    uintptr_t page = marker_address() & ~(uintptr_t)(PAGE - 1);
    uint64_t offset = code->file_offset + (page - code->start);
    static uint8_t mem[PAGE], file[PAGE];
    CHECK(psum_os_read(t, page, mem, PAGE) == 0, "read the page");
    wchar_t wexe[MAX_PATH];
    GetModuleFileNameW(NULL, wexe, MAX_PATH);
    HANDLE f = CreateFileW(wexe, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(f != INVALID_HANDLE_VALUE, "open the program's file");
    if (f != INVALID_HANDLE_VALUE) {
        LARGE_INTEGER at;
        at.QuadPart = (LONGLONG)offset;
        DWORD got = 0;
        CHECK(SetFilePointerEx(f, at, NULL, FILE_BEGIN) && ReadFile(f, file, PAGE, &got, NULL), "read the file");
        CloseHandle(f);
        /* The last page of a section may end before the page does: compare what the file holds. */
        size_t n = got < PAGE ? got : PAGE;
        const IMAGE_NT_HEADERS *nt =
            (const IMAGE_NT_HEADERS *)((const uint8_t *)GetModuleHandleW(NULL) +
                                       ((const IMAGE_DOS_HEADER *)GetModuleHandleW(NULL))->e_lfanew);
        bool relocated = (uintptr_t)nt->OptionalHeader.ImageBase != (uintptr_t)GetModuleHandleW(NULL);
        size_t differ = 0;
        for (size_t i = 0; i < n; i++)
            differ += mem[i] != file[i];
        printf("  page %p file offset 0x%llx: %zu of %zu bytes differ%s\n", (void *)page, (unsigned long long)offset,
               differ, n, relocated ? " (image relocated)" : "");
        CHECK(n > 0, "the file holds the page");
        /* x86-64 code is position independent: even a relocated image leaves .text as in the file here. */
        CHECK(differ == 0, "memory equals the file at file_offset");
    }
    done(t, &l);
}

static void prot_classification(void)
{
    const unsigned R = PSUM_PROT_R, W = PSUM_PROT_W, X = PSUM_PROT_X;
    CHECK(psum_win_prot(PAGE_NOACCESS) == 0, "noaccess");
    CHECK(psum_win_prot(PAGE_READONLY) == R, "readonly");
    CHECK(psum_win_prot(PAGE_READWRITE) == (R | W), "readwrite");
    CHECK(psum_win_prot(PAGE_WRITECOPY) == (R | W), "writecopy");
    CHECK(psum_win_prot(PAGE_EXECUTE) == X, "execute-only is not readable");
    CHECK(psum_win_prot(PAGE_EXECUTE_READ) == (R | X), "execute_read");
    CHECK(psum_win_prot(PAGE_EXECUTE_WRITECOPY) == (R | X), "execute_writecopy is code");
    CHECK(psum_win_prot(PAGE_EXECUTE_READWRITE) == (R | W | X), "execute_readwrite is writable code");
    CHECK(psum_win_prot(PAGE_EXECUTE_READ | PAGE_GUARD) == X, "guard: never readable");
    CHECK(psum_win_prot(PAGE_READWRITE | PAGE_GUARD) == 0, "guard on data");
    CHECK(psum_win_prot(PAGE_EXECUTE_READ | PAGE_NOCACHE) == (R | X), "modifiers do not change the class");
    CHECK(psum_win_prot(0) == 0, "nothing");
}

typedef struct probe {
    const char *name;
    DWORD protect;
    unsigned want_prot;
    bool selected_default, selected_writable;
    uint8_t *mem;
} probe;

/* Private memory of each protection: listed as [anon] with the right class, selected only as it should be. */
static void private_memory_classes(void)
{
    probe probes[] = {
        {"PAGE_EXECUTE_READ", PAGE_EXECUTE_READ, PSUM_PROT_R | PSUM_PROT_X, true, true, NULL},
        {"PAGE_EXECUTE_READWRITE", PAGE_EXECUTE_READWRITE, PSUM_PROT_R | PSUM_PROT_W | PSUM_PROT_X, false, true, NULL},
        {"PAGE_EXECUTE", PAGE_EXECUTE, PSUM_PROT_X, false, false, NULL},
        {"PAGE_EXECUTE_READ|PAGE_GUARD", PAGE_EXECUTE_READ | PAGE_GUARD, PSUM_PROT_X, false, false, NULL},
        {"PAGE_NOACCESS", PAGE_NOACCESS, 0, false, false, NULL},
        {"PAGE_READWRITE", PAGE_READWRITE, PSUM_PROT_R | PSUM_PROT_W, false, false, NULL},
    };
    const size_t n = sizeof(probes) / sizeof(probes[0]);
    for (size_t i = 0; i < n; i++) {
        probes[i].mem = VirtualAlloc(NULL, 2 * PAGE, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        CHECK(probes[i].mem != NULL, "allocate for %s", probes[i].name);
        if (!probes[i].mem)
            return;
        memset(probes[i].mem, 0xC3, 2 * PAGE); /* ret */
        DWORD old;
        CHECK(VirtualProtect(probes[i].mem, 2 * PAGE, probes[i].protect, &old), "protect %s", probes[i].name);
    }
    psum_os_target *t;
    psum_os_region_list l;
    if (list_self(&t, &l)) {
        check_list_shape(&l, "with probes");
        procsum_options def, wr;
        procsum_options_init(&def);
        procsum_options_init(&wr);
        wr.include_writable_code = true;
        for (size_t i = 0; i < n; i++) {
            const psum_os_region *r = region_at(&l, (uintptr_t)probes[i].mem);
            CHECK(r != NULL, "%s listed", probes[i].name);
            if (!r)
                continue;
            CHECK(r->kind == PROCSUM_REGION_ANON && strcmp(r->path, "[anon]") == 0, "%s is [anon]", probes[i].name);
            CHECK(r->prot == probes[i].want_prot, "%s: prot %u, want %u", probes[i].name, r->prot, probes[i].want_prot);
            CHECK(!r->main_executable && r->dev == 0 && r->ino == 0, "%s backed by nothing", probes[i].name);
            CHECK(psum_region_selected(r, &def) == probes[i].selected_default, "%s selected by default: %d",
                  probes[i].name, probes[i].selected_default);
            CHECK(psum_region_selected(r, &wr) == probes[i].selected_writable, "%s selected with writable code: %d",
                  probes[i].name, probes[i].selected_writable);
        }
        done(t, &l);
    }
    /* A whole benchmark pass over everything, writable code included: no crash, and the guard page untouched. */
    procsum_options o;
    procsum_options_init(&o);
    o.include_writable_code = true;
    procsum_benchmark_result b;
    CHECK(procsum_benchmark(&o, &b) == 0, "benchmark with writable code");
    bool rwx_hashed = false, xo_hashed = false;
    for (size_t i = 0; i < b.region_count; i++) {
        rwx_hashed |= b.regions[i].start == (uintptr_t)probes[1].mem;
        xo_hashed |= b.regions[i].start == (uintptr_t)probes[2].mem || b.regions[i].start == (uintptr_t)probes[3].mem;
    }
    CHECK(rwx_hashed, "the rwx probe was hashed");
    CHECK(!xo_hashed, "execute-only and guarded probes were not");
    procsum_benchmark_result_free(&b);
    MEMORY_BASIC_INFORMATION mbi;
    CHECK(VirtualQuery(probes[3].mem, &mbi, sizeof(mbi)) == sizeof(mbi) && (mbi.Protect & PAGE_GUARD),
          "the guard page is still armed");
    for (size_t i = 0; i < n; i++)
        VirtualFree(probes[i].mem, 0, MEM_RELEASE);
}

/* One page of the program's code made writable splits its section; neighbours keep consistent file offsets. */
static void split_by_protection(void)
{
    uintptr_t page = marker_address() & ~(uintptr_t)(PAGE - 1);
    psum_os_target *t;
    psum_os_region_list before, after;
    if (!list_self(&t, &before))
        return;
    const psum_os_region *whole = region_at(&before, page);
    uint64_t want_offset = whole ? whole->file_offset + (page - whole->start) : 0;
    DWORD old;
    CHECK(VirtualProtect((void *)page, PAGE, PAGE_EXECUTE_READWRITE, &old), "make the page writable");
    memset(&after, 0, sizeof(after));
    int err = psum_os_list_regions(t, &after);
    DWORD tmp;
    VirtualProtect((void *)page, PAGE, old, &tmp);
    CHECK(err == 0, "list: %d", err);
    check_list_shape(&after, "split");
    const psum_os_region *r = region_at(&after, page);
    CHECK(r != NULL, "the page is listed");
    if (r && whole) {
        CHECK(r->start == page, "its region starts at the page");
        /* Copy-on-write images may show PAGE_EXECUTE_WRITECOPY until written: code either way. */
        CHECK(r->prot == (PSUM_PROT_R | PSUM_PROT_W | PSUM_PROT_X) || r->prot == (PSUM_PROT_R | PSUM_PROT_X),
              "classified as code: prot %u", r->prot);
        CHECK(r->file_offset == want_offset, "same file offset: %llx vs %llx", (unsigned long long)r->file_offset,
              (unsigned long long)want_offset);
        CHECK(r->dev == whole->dev && r->ino == whole->ino && r->main_executable, "same file");
        printf("  made writable: prot %u (was %lu)\n", r->prot, (unsigned long)old);
    }
    psum_os_region_list_free(&after);
    done(t, &before);
}

static void reads_never_fault(void)
{
    psum_os_target *t;
    CHECK(psum_os_target_open(0, &t) == 0, "open");
    static uint8_t buf[3 * PAGE];
    uintptr_t fn = marker_address();
    CHECK(psum_os_read(t, fn, buf, 64) == 0 && memcmp(buf, (const void *)fn, 64) == 0, "read own code");
    CHECK(psum_os_read(t, fn, buf, 0) == 0, "empty read");

    uint8_t *mem = VirtualAlloc(NULL, 3 * PAGE, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    memset(mem, 0x5A, 3 * PAGE);
    CHECK(psum_os_read(t, (uintptr_t)mem, buf, 3 * PAGE) == 0 && buf[2 * PAGE] == 0x5A, "read private memory");
    CHECK(VirtualFree(mem + PAGE, PAGE, MEM_DECOMMIT), "decommit the middle page");
    CHECK(psum_os_read(t, (uintptr_t)mem, buf, 3 * PAGE) == PROCSUM_EFAULT, "across a hole: EFAULT");
    DWORD old;
    VirtualProtect(mem + 2 * PAGE, PAGE, PAGE_NOACCESS, &old);
    CHECK(psum_os_read(t, (uintptr_t)mem + 2 * PAGE, buf, PAGE) == PROCSUM_EFAULT, "no access: EFAULT");
    VirtualFree(mem, 0, MEM_RELEASE);
    CHECK(psum_os_read(t, (uintptr_t)mem, buf, PAGE) == PROCSUM_EFAULT, "released: EFAULT");
    CHECK(psum_os_read(t, 0, buf, PAGE) == PROCSUM_EFAULT, "address 0: EFAULT");
    CHECK(psum_os_read(t, UINTPTR_MAX - 10, buf, 64) == PROCSUM_EFAULT, "wrapping range: EFAULT");
    psum_os_target_close(t);
}

/* A DLL built with the tests, found next to this program. */
static HMODULE load_test_dll(const wchar_t *name)
{
    wchar_t path[MAX_PATH];
    DWORD n = GetModuleFileNameW(NULL, path, MAX_PATH);
    while (n > 0 && path[n - 1] != L'\\')
        n--;
    path[n] = L'\0';
    wcscat(path, name);
    return LoadLibraryW(path);
}

static HMODULE load_loop_dll(void)
{
    return load_test_dll(L"psum_loopdll.dll");
}

/* A module listed, then unloaded: reading where it was gives EFAULT, never a crash. */
static void unloaded_module(void)
{
    HMODULE dll = load_loop_dll();
    CHECK(dll != NULL, "load psum_loopdll.dll");
    if (!dll)
        return;
    psum_os_target *t;
    psum_os_region_list l;
    if (!list_self(&t, &l)) {
        FreeLibrary(dll);
        return;
    }
    const psum_os_region *r = NULL;
    for (size_t i = 0; i < l.count && !r; i++)
        if (l.items[i].start >= (uintptr_t)dll && ends_with_ci(l.items[i].path, "\\psum_loopdll.dll"))
            r = &l.items[i];
    CHECK(r != NULL, "the DLL's code is listed");
    if (r) {
        uintptr_t start = r->start;
        static uint8_t buf[PAGE];
        CHECK(r->prot == (PSUM_PROT_R | PSUM_PROT_X) && !r->main_executable, "a library's code");
        CHECK(psum_os_read(t, start, buf, PAGE) == 0, "read while loaded");
        CHECK(FreeLibrary(dll), "unload");
        dll = NULL;
        CHECK(GetModuleHandleW(L"psum_loopdll.dll") == NULL, "really unloaded");
        CHECK(psum_os_read(t, start, buf, PAGE) == PROCSUM_EFAULT, "read after unload: EFAULT");
        psum_os_region_list l2 = {0};
        CHECK(psum_os_list_regions(t, &l2) == 0 && region_at(&l2, start) == NULL, "gone from the list");
        psum_os_region_list_free(&l2);
    }
    if (dll)
        FreeLibrary(dll);
    done(t, &l);
}

typedef struct churn {
    volatile LONG stop;
    long loads;
} churn;

static DWORD WINAPI churn_loop(void *p)
{
    churn *c = p;
    while (!InterlockedCompareExchange(&c->stop, 0, 0)) {
        HMODULE h = load_loop_dll();
        if (!h)
            break;
        /*
         * Mostly loaded and freed at once, the tightest race; every 16th time
         * kept for 20 ms, so that listings surely see it loaded too, however
         * the two threads happen to be scheduled.
         */
        if (c->loads % 16 == 15)
            Sleep(20);
        FreeLibrary(h);
        c->loads++;
    }
    return 0;
}

/* A page handed over by psum_os_use_pages: kept, and whether it was the module's own memory. */
typedef struct handed {
    uintptr_t addr;
    uint8_t *out;
    long in_place;
} handed;

static int keep_page(void *ctx, const uint8_t *bytes)
{
    handed *h = ctx;
    h->in_place += (uintptr_t)bytes == h->addr;
    memcpy(h->out, bytes, PAGE);
    return 0;
}

/*
 * Listing and reading while another thread loads and unloads a DLL: every
 * read of the DLL's code either fails with EFAULT or gives the same bytes as
 * every other read at that address (never a half-mapped or foreign image).
 * Read with psum_os_read (a copy of a pinned module) or, in_place, with
 * psum_os_use_pages, which hands over the module's own pages under the
 * loader's lock while FreeLibrary runs on the other thread.
 */
static void churn_reads(bool in_place)
{
    enum { SLOTS = 8 };
    struct {
        uintptr_t addr;
        uint8_t bytes[PAGE];
    } *seen = calloc(SLOTS, sizeof(*seen));
    static uint8_t buf[PAGE], scratch[PAGE];
    psum_os_target *t;
    CHECK(seen && psum_os_target_open(0, &t) == 0, "open");
    if (!seen)
        return;
    churn c = {0};
    HANDLE th = CreateThread(NULL, 0, churn_loop, &c, 0, NULL);
    long listed = 0, read_ok = 0, gone = 0, differ = 0, passes = 0, handed_in_place = 0;
    int other_err = 0;
    /* At least a second, and until the DLL's code was caught loaded a few times (10 s at most). */
    uint64_t started = psum_os_monotonic_ns();
    for (;;) {
        uint64_t elapsed = psum_os_monotonic_ns() - started;
        if (elapsed >= 10000000000u || (elapsed >= 1000000000u && read_ok >= 3))
            break;
        psum_os_region_list l = {0};
        int err = psum_os_list_regions(t, &l);
        if (err) {
            other_err = err;
            break;
        }
        passes++;
        for (size_t i = 0; i < l.count; i++) {
            const psum_os_region *r = &l.items[i];
            if (!(r->prot & PSUM_PROT_R) || !(r->prot & PSUM_PROT_X) || !ends_with_ci(r->path, "\\psum_loopdll.dll"))
                continue;
            listed++;
            for (uintptr_t a = r->start; a < r->end; a += PAGE) {
                if (in_place) {
                    handed h = {.addr = a, .out = buf};
                    err = psum_os_use_pages(t, r, a, 1, NULL, scratch, keep_page, &h);
                    handed_in_place += h.in_place;
                } else {
                    err = psum_os_read(t, a, buf, PAGE);
                }
                if (err == PROCSUM_EFAULT) {
                    gone++;
                    continue;
                }
                if (err) {
                    other_err = err;
                    continue;
                }
                read_ok++;
                int k = 0;
                while (k < SLOTS && seen[k].addr && seen[k].addr != a)
                    k++;
                if (k == SLOTS)
                    continue;
                if (!seen[k].addr) {
                    seen[k].addr = a;
                    memcpy(seen[k].bytes, buf, PAGE);
                } else if (memcmp(seen[k].bytes, buf, PAGE) != 0) {
                    differ++;
                }
            }
        }
        psum_os_region_list_free(&l);
    }
    InterlockedExchange(&c.stop, 1);
    WaitForSingleObject(th, INFINITE);
    CloseHandle(th);
    printf("  %ld loads, %ld listings, DLL code listed %ld times: %ld pages read (%ld in place), %ld gone\n", c.loads,
           passes, listed, read_ok, handed_in_place, gone);
    CHECK(other_err == 0, "no other error: %d", other_err);
    CHECK(c.loads > 10 && passes > 10, "both loops ran");
    CHECK(listed > 0 && read_ok + gone > 0, "the DLL's code was listed and read, or found gone");
    CHECK(differ == 0, "never different bytes at one address: %ld", differ);
    if (in_place)
        CHECK(handed_in_place == read_ok && read_ok > 0, "every page read was the module's own: %ld of %ld",
              handed_in_place, read_ok);
    psum_os_target_close(t);
    free(seen);
}

static void module_churn(void)
{
    churn_reads(false);
}

static void module_churn_in_place(void)
{
    churn_reads(true);
}

/* Reads a byte of every page handed over, to fault on one taken away. */
static int touch_pages(void *ctx, const uint8_t *bytes)
{
    size_t *n = ctx;
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < *n; i++)
        sink ^= bytes[i * PAGE];
    (void)sink;
    return 7;
}

/*
 * The fault guard: a page taken away under an in-place read ends the read
 * with EFAULT, not the process; the thread goes on and guards again; what
 * use returns comes back when nothing faults.
 */
static void fault_guard(void)
{
    uint8_t *mem = VirtualAlloc(NULL, 4 * PAGE, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    CHECK(mem != NULL, "allocate");
    if (!mem)
        return;
    memset(mem, 1, 4 * PAGE);
    size_t n = 4;
    CHECK(psum_win_guarded_use((uintptr_t)mem, (uintptr_t)mem + 4 * PAGE, touch_pages, &n, mem) == 7,
          "use's own result");
    DWORD old;
    CHECK(VirtualProtect(mem + 2 * PAGE, PAGE, PAGE_NOACCESS, &old), "take a page away");
    for (int i = 0; i < 3; i++)
        CHECK(psum_win_guarded_use((uintptr_t)mem, (uintptr_t)mem + 4 * PAGE, touch_pages, &n, mem) ==
                  PROCSUM_EFAULT,
              "a fault in the guarded range: EFAULT (%d)", i);
    CHECK(VirtualProtect(mem + 2 * PAGE, PAGE, PAGE_READWRITE | PAGE_GUARD, &old), "a guard page");
    CHECK(psum_win_guarded_use((uintptr_t)mem, (uintptr_t)mem + 4 * PAGE, touch_pages, &n, mem) == PROCSUM_EFAULT,
          "a guard page: EFAULT");
    CHECK(VirtualProtect(mem + 2 * PAGE, PAGE, PAGE_READWRITE, &old), "give it back");
    n = 2;
    CHECK(psum_win_guarded_use((uintptr_t)mem, (uintptr_t)mem + 2 * PAGE, touch_pages, &n, mem) == 7,
          "guarded again after faults");
    VirtualFree(mem, 0, MEM_RELEASE);
}

static void residency(void)
{
    psum_os_target *t;
    CHECK(psum_os_target_open(0, &t) == 0, "open");
    bool res[16];
    uintptr_t code = marker_address() & ~(uintptr_t)(PAGE - 1);
    CHECK(psum_os_resident(t, code, 1, res) == 0 && res[0], "running code is resident");
    uint8_t *mem = VirtualAlloc(NULL, 16 * PAGE, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    mem[3 * PAGE] = 1;
    CHECK(psum_os_resident(t, (uintptr_t)mem, 16, res) == 0, "query 16 pages");
    CHECK(res[3], "a touched page is resident");
    int untouched = 0;
    for (int i = 0; i < 16; i++)
        untouched += i != 3 && !res[i];
    printf("  untouched pages not resident: %d of 15\n", untouched);
    CHECK(untouched == 15, "untouched committed pages are not resident");
    CHECK(psum_os_resident(t, code + 1, 1, res) == PROCSUM_EINVAL, "unaligned: EINVAL");
    VirtualFree(mem, 0, MEM_RELEASE);
    psum_os_target_close(t);
}

/* Another process (this program started with --child) as a target, then gone. */
static void other_process(void)
{
    wchar_t exe[MAX_PATH], cmd[MAX_PATH + 32];
    GetModuleFileNameW(NULL, exe, MAX_PATH);
    swprintf(cmd, sizeof(cmd) / sizeof(cmd[0]), L"\"%ls\" --child", exe);
    STARTUPINFOW si = {.cb = sizeof(si)};
    PROCESS_INFORMATION pi;
    CHECK(CreateProcessW(exe, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi), "start the child");
    /* Wait until its loader is done: it creates nothing, so poll its module list through the backend. */
    psum_os_target *t = NULL;
    int err = psum_os_target_open((long)pi.dwProcessId, &t);
    CHECK(err == 0, "open the child: %d", err);
    psum_os_region_list l = {0};
    bool ready = false;
    for (int i = 0; i < 200 && !err && !ready; i++) {
        Sleep(20);
        err = psum_os_list_regions(t, &l);
        for (size_t k = 0; k < l.count && !ready; k++)
            ready = ends_with_ci(l.items[k].path, "\\kernel32.dll");
    }
    CHECK(err == 0 && ready, "list the child: %d", err);
    if (ready) {
        check_list_shape(&l, "child");
        char exe8[4 * MAX_PATH];
        WideCharToMultiByte(CP_UTF8, 0, exe, -1, exe8, sizeof(exe8), NULL, NULL);
        const psum_os_region *main_code = NULL;
        for (size_t k = 0; k < l.count && !main_code; k++)
            if (l.items[k].main_executable && (l.items[k].prot & PSUM_PROT_X))
                main_code = &l.items[k];
        CHECK(main_code && _stricmp(main_code->path, exe8) == 0, "the child's program is this one");
        const psum_os_region *here = region_at(&l, marker_address());
        if (here && here->main_executable) {
            /* Same image at the same address: the same code. */
            static uint8_t buf[64];
            CHECK(psum_os_read(t, marker_address(), buf, sizeof(buf)) == 0 &&
                      memcmp(buf, (const void *)marker_address(), sizeof(buf)) == 0,
                  "read the child's code");
        }
        bool res[1];
        err = psum_os_resident(t, main_code ? main_code->start : 0, 1, res);
        /* Wine answers working-set queries for the calling process only. */
        if (err != 0 && running_on_wine())
            printf("  residency in another process: %s (Wine)\n", procsum_err_name(err));
        else
            CHECK(err == 0, "residency in the child: %s", procsum_err_name(err));
    }
    TerminateProcess(pi.hProcess, 0);
    WaitForSingleObject(pi.hProcess, 5000);
    if (t) {
        static uint8_t buf[64];
        CHECK(psum_os_list_regions(t, &l) == PROCSUM_ESRCH, "list after exit: ESRCH");
        CHECK(psum_os_read(t, marker_address(), buf, sizeof(buf)) == PROCSUM_ESRCH, "read after exit: ESRCH");
    }
    psum_os_region_list_free(&l);
    psum_os_target_close(t);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    psum_os_target *none = NULL;
    CHECK(psum_os_target_open(0x7FFFFFF0L, &none) == PROCSUM_ESRCH && none == NULL, "no such process: ESRCH");
    CHECK(psum_os_target_open(-1, &none) == PROCSUM_EINVAL, "negative pid: EINVAL");
}

typedef struct thread_arg {
    psum_os_monitor *mon;
    volatile LONG flag;
    psum_os_thread *self;
    volatile LONG saw_self;
    unsigned delay_ms;
} thread_arg;

static void setter(void *p)
{
    thread_arg *a = p;
    Sleep(a->delay_ms);
    psum_os_monitor_lock(a->mon);
    a->flag = 1;
    psum_os_monitor_wake_all(a->mon);
    psum_os_monitor_unlock(a->mon);
}

static void self_checker(void *p)
{
    thread_arg *a = p;
    while (!a->self)
        Sleep(1);
    InterlockedExchange(&a->saw_self, psum_os_thread_is_current(a->self) ? 1 : 2);
}

static void threads_events_clocks(void)
{
    psum_os_monitor *mon;
    CHECK(psum_os_monitor_create(&mon) == 0, "monitor");
    uint64_t t0 = psum_os_monotonic_ns();
    psum_os_monitor_lock(mon);
    psum_os_monitor_wait_until(mon, t0 + 50000000u);
    psum_os_monitor_unlock(mon);
    uint64_t waited = psum_os_monotonic_ns() - t0;
    CHECK(waited >= 40000000u && waited < 2000000000u, "waited %llu ns for 50 ms", (unsigned long long)waited);

    thread_arg a = {.mon = mon, .delay_ms = 30};
    psum_os_thread *th;
    t0 = psum_os_monotonic_ns();
    CHECK(psum_os_thread_start(&th, setter, &a) == 0, "start a thread");
    psum_os_monitor_lock(mon);
    while (!a.flag && psum_os_monotonic_ns() < t0 + 10000000000u)
        psum_os_monitor_wait_until(mon, t0 + 10000000000u);
    psum_os_monitor_unlock(mon);
    waited = psum_os_monotonic_ns() - t0;
    CHECK(a.flag == 1, "woken by the other thread");
    CHECK(waited < 1000000000u, "promptly: %llu ns", (unsigned long long)waited);
    CHECK(psum_os_thread_join(th) == 0, "join");
    psum_os_monitor_destroy(mon);
    psum_os_monitor_destroy(NULL);

    thread_arg b = {0};
    CHECK(psum_os_thread_start(&b.self, self_checker, &b) == 0, "start another");
    CHECK(!psum_os_thread_is_current(b.self), "not current here");
    CHECK(psum_os_thread_join(b.self) == 0, "join it");
    CHECK(b.saw_self == 1, "current inside itself");
    CHECK(!psum_os_thread_is_current(NULL), "NULL is nobody");
    psum_os_thread_lower_priority();
    SetThreadPriority(GetCurrentThread(), THREAD_PRIORITY_NORMAL);

    uint64_t m1 = psum_os_monotonic_ns(), m2 = psum_os_monotonic_ns();
    CHECK(m2 >= m1 && m1 > 0, "monotonic");
    int64_t sec;
    long nsec;
    psum_os_wall_time(&sec, &nsec);
    int64_t now = (int64_t)time(NULL);
    CHECK(sec >= now - 5 && sec <= now + 5 && nsec >= 0 && nsec < 1000000000, "wall clock %lld vs %lld",
          (long long)sec, (long long)now);
    uint64_t c0 = psum_os_thread_cpu_ns();
    volatile uint64_t x = 0;
    uint64_t spin_until = psum_os_monotonic_ns() + 100000000u;
    while (psum_os_monotonic_ns() < spin_until)
        x++;
    uint64_t c1 = psum_os_thread_cpu_ns();
    CHECK(c1 > c0, "thread CPU time grows: %llu -> %llu", (unsigned long long)c0, (unsigned long long)c1);
}

static void error_codes(void)
{
    static const struct {
        DWORD win;
        int want;
    } map[] = {
        {ERROR_ACCESS_DENIED, PROCSUM_EACCES},    {ERROR_PRIVILEGE_NOT_HELD, PROCSUM_EPERM},
        {ERROR_FILE_NOT_FOUND, PROCSUM_ENOENT},   {ERROR_NOT_ENOUGH_MEMORY, PROCSUM_ENOMEM},
        {ERROR_PARTIAL_COPY, PROCSUM_EFAULT},     {ERROR_NOACCESS, PROCSUM_EFAULT},
        {ERROR_INVALID_PARAMETER, PROCSUM_EINVAL}, {ERROR_BUSY, PROCSUM_EBUSY},
        {ERROR_CALL_NOT_IMPLEMENTED, PROCSUM_ENOSYS}, {ERROR_INSUFFICIENT_BUFFER, PROCSUM_ERANGE},
        {ERROR_NO_SYSTEM_RESOURCES, PROCSUM_EAGAIN}, {ERROR_BAD_EXE_FORMAT, PROCSUM_EBADMSG},
        {ERROR_OPERATION_ABORTED, PROCSUM_ECANCELED}, {ERROR_GEN_FAILURE, PROCSUM_EIO},
        {ERROR_SUCCESS, PROCSUM_EIO},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        int got = psum_win_error(map[i].win);
        CHECK(got == map[i].want, "Win32 %lu -> %d, want %d", (unsigned long)map[i].win, got, map[i].want);
        CHECK(strcmp(procsum_strerror(got), "unknown error") != 0, "explained: %d", got);
    }
    SetLastError(ERROR_ACCESS_DENIED);
    CHECK(psum_os_last_error() == PROCSUM_EACCES, "last error");
}

/* ---- PE parser on made-up headers ---- */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

typedef struct fake_section {
    uint32_t vsize, va, raw_size, raw_ptr, flags;
} fake_section;

/* A PE32+ header with these sections; returns its length. */
static size_t fake_pe(uint8_t *buf, size_t cap, uint32_t salign, uint32_t entry, const fake_section *s, size_t n)
{
    memset(buf, 0, cap);
    put16(buf, 0x5A4D);
    put32(buf + 0x3C, 0x80);
    put32(buf + 0x80, 0x00004550);
    uint8_t *fh = buf + 0x84;
    put16(fh, 0x8664);
    put16(fh + 2, (uint16_t)n);
    put16(fh + 16, 240);
    uint8_t *oh = fh + 20;
    put16(oh, 0x20b);
    put32(oh + 16, entry);
    put32(oh + 24, 0x40000000u); /* ImageBase, low half */
    put32(oh + 32, salign);
    put32(oh + 56, 0x20000);
    put32(oh + 108, 16);                   /* NumberOfRvaAndSizes */
    put32(oh + 112 + 5 * 8, 0x7000);       /* the base relocation directory */
    put32(oh + 112 + 5 * 8 + 4, 0x40);
    uint8_t *sec = oh + 240;
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = sec + 40 * i;
        memcpy(e, ".sec", 4);
        put32(e + 8, s[i].vsize);
        put32(e + 12, s[i].va);
        put32(e + 16, s[i].raw_size);
        put32(e + 20, s[i].raw_ptr);
        put32(e + 36, s[i].flags);
    }
    return (size_t)(sec - buf) + 40 * n;
}

static void pe_parser(void)
{
    static uint8_t buf[8192];
    const uint32_t X = 0x20000000u | 0x40000000u, RO = 0x40000000u, RW = 0xC0000000u;
    psum_pe_image img;
    size_t need;

    /* .text executable, .rdata holding the entry point, .data not, .zero with VirtualSize 0. */
    fake_section s1[] = {
        {0x1800, 0x1000, 0x1a00, 0x400, X},
        {0x0100, 0x3000, 0x0200, 0x1e00, RO},
        {0x0300, 0x4000, 0x0400, 0x2000, RW},
        {0x0000, 0x5000, 0x0200, 0x2400, X},
    };
    size_t len = fake_pe(buf, sizeof(buf), 0x1000, 0x3010, s1, 4);
    CHECK(psum_pe_parse(buf, len, &img, &need) == 0, "parse");
    CHECK(img.range_count == 3, "three ranges: %zu", img.range_count);
    if (img.range_count == 3) {
        CHECK(img.ranges[0].rva_start == 0x1000 && img.ranges[0].rva_end == 0x3000 &&
                  img.ranges[0].file_offset == 0x400,
              ".text rounded out to pages, at PointerToRawData");
        CHECK(img.ranges[1].rva_start == 0x3000 && img.ranges[1].rva_end == 0x4000 &&
                  img.ranges[1].file_offset == 0x1e00,
              "the entry point's section although not executable");
        CHECK(img.ranges[2].rva_start == 0x5000 && img.ranges[2].rva_end == 0x6000 &&
                  img.ranges[2].file_offset == 0x2400,
              "VirtualSize 0 falls back to SizeOfRawData");
    }
    CHECK(img.size_of_image == 0x20000 && img.entry_rva == 0x3010 && img.nt_offset == 0x80, "header fields");
    CHECK(img.section_count == 4 && img.reloc_rva == 0x7000 && img.reloc_size == 0x40, "sections and .reloc");
    psum_pe_view v;
    CHECK(psum_pe_view_at(&img, 0x400, &v) && v.raw_ptr == 0x400 && v.raw_len == 0x1a00 && v.va == 0x1000,
          ".text's first page: its raw data");
    CHECK(psum_pe_view_at(&img, 0x1400, &v) && v.raw_ptr == 0x400 && v.raw_len == 0x1a00,
          ".text's last page: raw data to 0x1e00, zeros after, not .rdata's bytes");
    CHECK(!psum_pe_view_at(&img, 0x100, &v), "the headers are in no section");
    psum_pe_free(&img);

    /*
     * .text's VirtualSize reaches two pages past its raw data, whose file
     * offsets hold .data: a page there is zeros, a page of .data its bytes.
     * .big has more raw data than its pages hold: the loader takes a page.
     */
    fake_section s3[] = {
        {0x2800, 0x1000, 0x1000, 0x400, X},
        {0x0200, 0x4000, 0x0200, 0x1400, RW},
        {0x0100, 0x5000, 0x2000, 0x3400, X},
    };
    len = fake_pe(buf, sizeof(buf), 0x1000, 0, s3, 3);
    CHECK(psum_pe_parse(buf, len, &img, &need) == 0, "parse");
    CHECK(psum_pe_view_at(&img, 0x1400, &v) && v.raw_ptr == 0x1400 && v.va == 0x4000, "file bytes win");
    CHECK(psum_pe_view_at(&img, 0x2400, &v) && v.raw_ptr == 0x400 && v.raw_len == 0x1000,
          "a page past .text's raw data is .text's, all zeros");
    CHECK(psum_pe_view_at(&img, 0x3400, &v) && v.raw_ptr == 0x3400 && v.raw_len == 0x1000,
          "no more raw data than the section's pages: 0x%llx", (unsigned long long)v.raw_len);
    psum_pe_free(&img);

    /* Base relocations: each applied where it lies wholly in the buffer, one across its edge too. */
    static const uint8_t relocs[] = {
        0x00, 0x10, 0x00, 0x00, 20, 0, 0, 0, /* page 0x1000, 20 bytes */
        0x10, 0xA0, 0x20, 0x30, 0xFC, 0xAF,  /* DIR64 at 0x1010, HIGHLOW at 0x1020, DIR64 at 0x1ffc */
        0x30, 0x10, 0x40, 0x20, 0x00, 0x00,  /* HIGH at 0x1030, LOW at 0x1040, padding */
    };
    static uint8_t code[PAGE];
    memset(code, 0, sizeof(code));
    code[0x10] = 0xF0;
    code[0x20] = 0xF0;
    const uint64_t delta = 0x0000000123450010ull;
    psum_pe_relocate(relocs, sizeof(relocs), 0x1000, code, PAGE, delta);
    uint64_t q = 0;
    memcpy(&q, code + 0x10, 8);
    CHECK(q == 0xF0 + delta, "DIR64: 0x%llx", (unsigned long long)q);
    uint32_t d = 0;
    memcpy(&d, code + 0x20, 4);
    CHECK(d == (uint32_t)(0xF0 + delta), "HIGHLOW: 0x%x", (unsigned)d);
    uint16_t h = 0, lo = 0;
    memcpy(&h, code + 0x30, 2);
    memcpy(&lo, code + 0x40, 2);
    CHECK(h == (uint16_t)(delta >> 16) && lo == (uint16_t)delta, "HIGH 0x%x, LOW 0x%x", h, lo);
    CHECK(code[0xffc] == 0 && code[0xfff] == 0, "a fixup across the end is left to a wider read");
    uint8_t edge[16] = {0};
    psum_pe_relocate(relocs, sizeof(relocs), 0x1ff8, edge, sizeof(edge), delta);
    memcpy(&q, edge + 4, 8);
    CHECK(q == delta, "the same fixup in a buffer that holds it: 0x%llx", (unsigned long long)q);
    uint8_t none[16] = {0};
    psum_pe_relocate(relocs, sizeof(relocs), 0x3000, none, sizeof(none), delta);
    static const uint8_t zero16[16];
    CHECK(memcmp(none, zero16, 16) == 0, "no fixup outside the buffer's RVAs");

    /* Truncated: asks for more. */
    CHECK(psum_pe_parse(buf, len - 1, &img, &need) == PROCSUM_ERANGE && need == len, "needs %zu", len);
    CHECK(psum_pe_parse(buf, 100, &img, &need) == PROCSUM_ERANGE && need > 100, "needs the optional header");
    /* Not PE. */
    buf[0] = 'X';
    CHECK(psum_pe_parse(buf, len, &img, &need) == PROCSUM_EBADMSG, "no MZ");
    buf[0] = 'M';
    put32(buf + 0x80, 0x12345678);
    CHECK(psum_pe_parse(buf, len, &img, &need) == PROCSUM_EBADMSG, "no PE signature");

    /* SectionAlignment below a page: rounding makes neighbours overlap; merged, offsets are RVAs. */
    fake_section s2[] = {
        {0x0300, 0x0400, 0x0300, 0x0400, X},
        {0x0200, 0x0800, 0x0200, 0x0800, X},
        {0x0600, 0x1200, 0x0600, 0x1200, X},
        {0x0100, 0x2a00, 0x0100, 0x2a00, RW},
    };
    len = fake_pe(buf, sizeof(buf), 0x200, 0, s2, 4);
    CHECK(psum_pe_parse(buf, len, &img, &need) == 0, "parse low alignment");
    CHECK(img.range_count == 2, "two ranges once merged: %zu", img.range_count);
    if (img.range_count == 2) {
        CHECK(img.ranges[0].rva_start == 0 && img.ranges[0].rva_end == 0x1000 && img.ranges[0].file_offset == 0,
              "merged range %x-%x", img.ranges[0].rva_start, img.ranges[0].rva_end);
        CHECK(img.ranges[1].rva_start == 0x1000 && img.ranges[1].rva_end == 0x2000 &&
                  img.ranges[1].file_offset == 0x1000,
              "touching range %x-%x kept apart, file offset = RVA", img.ranges[1].rva_start, img.ranges[1].rva_end);
    }
    psum_pe_free(&img);

    /* Bad SectionAlignment. */
    len = fake_pe(buf, sizeof(buf), 0x1001, 0, s1, 1);
    CHECK(psum_pe_parse(buf, len, &img, &need) == PROCSUM_EBADMSG, "SectionAlignment not a power of two");

    /* The real thing: this program's own headers, as mapped. */
    const uint8_t *self = (const uint8_t *)GetModuleHandleW(NULL);
    CHECK(psum_pe_parse(self, PAGE, &img, &need) == 0, "parse this program");
    bool has_marker = false;
    for (size_t i = 0; i < img.range_count; i++)
        has_marker |= marker_address() >= (uintptr_t)self + img.ranges[i].rva_start &&
                      marker_address() < (uintptr_t)self + img.ranges[i].rva_end;
    CHECK(has_marker, "its code ranges hold the marker function");
    psum_pe_free(&img);
}

/* MinGW's pseudo-relocation list: found after its header among other data, each entry applied inside its window. */
static void pe_pseudo_relocations(void)
{
    psum_pe_image img = {.size_of_image = 0x10000, .iat_rva = 0x8000, .iat_size = 0x100, .pe32plus = true};
    static const uint32_t words[] = {
        0, 0, 1, 7,                /* a header whose first entry cannot be one: not the list */
        0xdead, 0, 0, 1,           /* the list: its header, */
        0x8008, 0x1004, 32,        /* a 32-bit field at 0x1004 through the slot at 0x8008, */
        0x8010, 0x100c, 64,        /* a 64-bit one at 0x100c, */
        0x8014, 0x1020, 32,        /* a misaligned slot: the list has ended */
        0x8018, 0x1030, 32,
    };
    uint8_t data[sizeof(words)];
    for (size_t i = 0; i < sizeof(words) / 4; i++)
        put32(data + 4 * i, words[i]);
    psum_pe_pseudo *list = NULL;
    size_t n = 0;
    CHECK(psum_pe_pseudo_find(&img, data, sizeof(data), 0x4000, &list, &n) == 0 && n == 2, "two entries: %zu", n);
    if (n == 2) {
        CHECK(list[0].sym == 0x8008 && list[0].target == 0x1004 && list[0].bytes == 4, "the first entry");
        CHECK(list[1].sym == 0x8010 && list[1].target == 0x100c && list[1].bytes == 8, "the second entry");
        list[0].add = (uint64_t)-0x10; /* a narrow field wraps as the runtime's sign-extended sum does */
        list[1].add = 0x100000000ull;
        uint8_t buf[16];
        memset(buf, 0, sizeof(buf));
        put32(buf + 4, 8);
        psum_pe_pseudo_apply(list, n, 0x1000, buf, sizeof(buf));
        uint32_t d = 0;
        uint64_t q = 0;
        memcpy(&d, buf + 4, 4);
        memcpy(&q, buf + 8, 8);
        CHECK(d == 0xfffffff8u && q == 0, "the 32-bit field becomes 0x%x; the 64-bit one is cut by the window", d);
        memset(buf, 0, sizeof(buf));
        psum_pe_pseudo_apply(list, n, 0x100c, buf, sizeof(buf));
        memcpy(&q, buf, 8);
        CHECK(q == 0x100000000ull && buf[8] == 0, "the 64-bit field in a window that holds it: 0x%llx",
              (unsigned long long)q);
    }
    free(list);
    /* No header at all: no list. */
    memset(data, 0xAB, sizeof(data));
    CHECK(psum_pe_pseudo_find(&img, data, sizeof(data), 0x4000, &list, &n) == 0 && n == 0 && list == NULL, "none");
}

/*
 * The export table names code: psum_loop_value, exported by psum_loopdll.dll,
 * is the symbol at its own file offset (through the same open file and cache
 * a report uses), and the byte 3 past it is psum_loop_value+3. A synthetic
 * directory: a forwarder (its RVA inside the directory) and names outside
 * it are skipped.
 */
static int count_export(void *ctx, uint32_t rva, const char *name, size_t len)
{
    uint32_t *seen = ctx;
    if (len == 3 && memcmp(name, "one", 3) == 0 && rva == 0x2000)
        seen[0]++;
    else
        seen[1]++;
    return 0;
}

static void pe_exports(void)
{
    /* At RVA 0x1000: header; functions at +40 (2); names at +48 (3); ordinals at +60; names from +70. */
    uint8_t dir[128] = {0};
    const uint32_t at = 0x1000;
    put32(dir + 20, 2);
    put32(dir + 24, 3);
    put32(dir + 28, at + 40);
    put32(dir + 32, at + 48);
    put32(dir + 36, at + 60);
    put32(dir + 40, 0x2000);   /* function 0: code */
    put32(dir + 44, at + 100); /* function 1: a forwarder */
    put32(dir + 48, at + 70);  /* "one" -> function 0 */
    put32(dir + 52, at + 80);  /* "fwd" -> function 1 */
    put32(dir + 56, 0x9000);   /* a name outside the directory */
    dir[62] = 1;
    memcpy(dir + 70, "one", 4);
    memcpy(dir + 80, "fwd", 4);
    memcpy(dir + 100, "OTHER.dll.f", 12);
    uint32_t seen[2] = {0, 0};
    CHECK(psum_pe_exports(dir, sizeof(dir), at, count_export, seen) == 0, "walk the exports");
    CHECK(seen[0] == 1 && seen[1] == 0, "one export named, forwarder and bad name skipped (%u, %u)", seen[0], seen[1]);
    CHECK(psum_pe_exports(dir, 39, at, count_export, seen) == PROCSUM_EBADMSG, "a cut header is refused");

    HMODULE dll = load_loop_dll();
    CHECK(dll != NULL, "load psum_loopdll.dll");
    if (!dll)
        return;
    uintptr_t fn = (uintptr_t)GetProcAddress(dll, "psum_loop_value");
    psum_os_target *t;
    psum_os_region_list l;
    if (!list_self(&t, &l)) {
        FreeLibrary(dll);
        return;
    }
    const psum_os_region *r = region_at(&l, fn);
    psum_os_file *f = NULL;
    psum_symbols *syms = NULL;
    CHECK(r != NULL && psum_os_file_open_mapped(t, r, &f) == 0, "open the DLL's file");
    CHECK(psum_symbols_new(&syms, psum_os_process_id()) == 0, "a symbol cache");
    if (r && f && syms) {
        uint64_t off = r->file_offset + (fn - r->start);
        psum_symbol_hit hit;
        CHECK(psum_symbols_find(syms, f, r->dev, r->ino, off + 3, &hit), "a symbol holds the function's byte 3");
        CHECK(strcmp(hit.name, "psum_loop_value") == 0 && hit.file_offset == off, "it is psum_loop_value at 0x%llx",
              (unsigned long long)off);
        CHECK(hit.machine == PSUM_MACHINE_X86_64, "x86-64 code");
    }
    psum_symbols_free(syms);
    psum_os_file_close(f);
    done(t, &l);
    FreeLibrary(dll);
}

/*
 * A module of this process that the loader relocated (psum_clashdll.dll asks
 * for the program's own base): its file, opened as mapped, reads as the
 * loader laid it out, the absolute address in its .text included. The
 * layout is made at the first read; a file opened only for its state never
 * reads it.
 */
static void own_relocated_module_reads_as_loaded(void)
{
    HMODULE dll = load_test_dll(L"psum_clashdll.dll");
    CHECK(dll != NULL, "load psum_clashdll.dll");
    if (!dll)
        return;
    uintptr_t fn = (uintptr_t)GetProcAddress(dll, "psum_clash_value");
    CHECK((uintptr_t)dll != 0x140000000u, "the loader moved it (to %p)", (void *)dll);
    psum_os_target *t;
    psum_os_region_list l;
    if (!fn || !list_self(&t, &l)) {
        FreeLibrary(dll);
        return;
    }
    const psum_os_region *r = region_at(&l, fn);
    psum_os_file *f = NULL;
    CHECK(r != NULL && psum_os_file_open_mapped(t, r, &f) == 0, "open the DLL's file");
    psum_os_file_state st;
    CHECK(f && psum_os_file_state_of(f, &st) == 0 && st.size > 0, "its state, before any read");
    if (r && f) {
        uintptr_t page = fn & ~(uintptr_t)(PAGE - 1);
        const uint8_t *mem = (const uint8_t *)page;
        static uint8_t file[PAGE];
        size_t got = 0;
        CHECK(psum_os_file_read(f, r->file_offset + (page - r->start), file, PAGE, &got) == 0, "read the page");
        size_t at = PAGE;
        for (size_t i = 0; i + 8 <= PAGE; i += 8) {
            uint64_t v;
            memcpy(&v, mem + i, 8);
            if (v == (uint64_t)fn)
                at = i;
        }
        CHECK(at < PAGE, "the page holds the function's address");
        CHECK(memcmp(file, mem, PAGE) == 0, "the file's page, relocated, is the page in memory");
    }
    psum_os_file_close(f);
    done(t, &l);
    FreeLibrary(dll);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--child") == 0) {
        Sleep(60000);
        return 0;
    }
    CHECK(psum_test_marker(1) == 10, "marker runs");
    RUN(regions_shape_and_modules);
    RUN(file_offsets_match_the_file);
    RUN(prot_classification);
    RUN(private_memory_classes);
    RUN(split_by_protection);
    RUN(reads_never_fault);
    RUN(unloaded_module);
    RUN(module_churn);
    RUN(module_churn_in_place);
    RUN(fault_guard);
    RUN(residency);
    RUN(own_relocated_module_reads_as_loaded);
    RUN(other_process);
    RUN(threads_events_clocks);
    RUN(error_codes);
    RUN(pe_parser);
    RUN(pe_pseudo_relocations);
    RUN(pe_exports);
    return check_summary("test_backend");
}
