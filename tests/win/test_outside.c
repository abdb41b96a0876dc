/*
 * Another process checked from outside, on Windows: psum_target.exe, whose
 * .text MinGW's runtime pseudo-relocation really rewrites at start-up
 * (checked first: the bytes in memory differ from the file's, and the
 * list's entry points there), and which loads a DLL that the loader must
 * relocate (a fixup in its .text). procsum.exe verify finds it clean (exit 0);
 * one bit flipped with WriteProcessMemory in the same page is found (exit
 * 5, the byte's file offset, verdict bitflip); procsum.exe watch finds such
 * a flip and ends cleanly when the process exits; a checker started on the
 * process (options.pid) reports the flip within two passes after it and
 * says PROCSUM_ESRCH once the process is gone; watch --all picks the
 * process up; verify of a process that is
 * gone exits 4, and verify --all lists the target as clean (and alerts, if
 * any, only for test programs that change their own code).
 */
#include <windows.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "check.h"
#include "os/win/pe.h"
#include "procsum.h"

#define PAGE 4096u
/* Guards against a hang only: no test asserts a duration. */
#define HANG_GUARD_MS 60000u
#define POLL_MS 20u
#define SCN_MEM_EXECUTE 0x20000000u
#define SCN_MEM_WRITE 0x80000000u

static wchar_t target_exe[MAX_PATH], procsum_exe[MAX_PATH];

/* ---- the target ---- */

typedef struct target {
    PROCESS_INFORMATION pi;
    HANDLE to_child;   /* its standard input: closing it ends the process */
    HANDLE from_child; /* its standard output, for what it says after "ready" */
    uintptr_t fn, base; /* psum_read_shared and the image's base, as it printed them */
    uintptr_t clash;    /* where psum_clashdll.dll was loaded */
} target;

/* Reads one line (up to '\n') from h into buf; false at the end or on error. */
static bool read_line(HANDLE h, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        char c;
        DWORD got = 0;
        if (!ReadFile(h, &c, 1, &got, NULL) || got == 0)
            break;
        if (c == '\n') {
            buf[n] = '\0';
            return true;
        }
        buf[n++] = c;
    }
    buf[n] = '\0';
    return n > 0;
}

/* A pipe whose one end (the child's) is inheritable. */
static bool child_pipe(HANDLE *read_end, HANDLE *write_end, bool child_reads)
{
    SECURITY_ATTRIBUTES sa = {.nLength = sizeof(sa), .bInheritHandle = TRUE};
    if (!CreatePipe(read_end, write_end, &sa, 0))
        return false;
    SetHandleInformation(child_reads ? *write_end : *read_end, HANDLE_FLAG_INHERIT, 0);
    return true;
}

static bool start_target(target *t)
{
    memset(t, 0, sizeof(*t));
    HANDLE in_r, in_w, out_r, out_w;
    if (!child_pipe(&in_r, &in_w, true))
        return false;
    if (!child_pipe(&out_r, &out_w, false)) {
        CloseHandle(in_r);
        CloseHandle(in_w);
        return false;
    }
    STARTUPINFOW si = {.cb = sizeof(si), .dwFlags = STARTF_USESTDHANDLES};
    si.hStdInput = in_r;
    si.hStdOutput = out_w;
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    wchar_t cmd[MAX_PATH + 8];
    swprintf(cmd, sizeof(cmd) / sizeof(cmd[0]), L"\"%ls\"", target_exe);
    BOOL ok = CreateProcessW(target_exe, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &t->pi);
    CloseHandle(in_r);
    CloseHandle(out_w);
    char line[128] = "";
    unsigned long long fn = 0, base = 0, clash = 0;
    int value = 0;
    bool ready = ok && read_line(out_r, line, sizeof(line)) &&
                 sscanf(line, "ready %llx %llx %d %llx", &fn, &base, &value, &clash) == 4;
    t->from_child = out_r;
    t->to_child = in_w;
    t->fn = (uintptr_t)fn;
    t->base = (uintptr_t)base;
    t->clash = (uintptr_t)clash;
    CHECK(ready && value == 4242, "psum_target.exe started and read the DLL's variable (line '%s')", line);
    if (!ready && ok) {
        TerminateProcess(t->pi.hProcess, 1);
        WaitForSingleObject(t->pi.hProcess, HANG_GUARD_MS);
    }
    if (!ready) {
        CloseHandle(out_r);
        t->from_child = NULL;
    }
    return ready;
}

/* Ends the target the ordinary way (its standard input closes) and waits for it. */
static void end_target(target *t)
{
    if (t->to_child) {
        CloseHandle(t->to_child);
        t->to_child = NULL;
    }
    if (WaitForSingleObject(t->pi.hProcess, HANG_GUARD_MS) != WAIT_OBJECT_0)
        TerminateProcess(t->pi.hProcess, 1);
}

static void close_target(target *t)
{
    end_target(t);
    if (t->from_child)
        CloseHandle(t->from_child);
    CloseHandle(t->pi.hProcess);
    CloseHandle(t->pi.hThread);
}

/* Flips bit 0 of the byte at addr in the target, as a debugger writes code. */
static bool flip_bit(const target *t, uintptr_t addr)
{
    uint8_t b = 0;
    SIZE_T n = 0;
    if (!ReadProcessMemory(t->pi.hProcess, (LPCVOID)addr, &b, 1, &n) || n != 1)
        return false;
    b ^= 1u;
    DWORD old = 0, ignored;
    if (!VirtualProtectEx(t->pi.hProcess, (LPVOID)addr, 1, PAGE_EXECUTE_READWRITE, &old))
        return false;
    BOOL ok = WriteProcessMemory(t->pi.hProcess, (LPVOID)addr, &b, 1, &n) && n == 1;
    VirtualProtectEx(t->pi.hProcess, (LPVOID)addr, 1, old, &ignored);
    FlushInstructionCache(t->pi.hProcess, (LPCVOID)addr, 1);
    return ok;
}

/* ---- the target's file ---- */

typedef struct image_file {
    uint8_t *bytes;
    size_t len;
    psum_pe_image img;
} image_file;

static bool load_image(image_file *f)
{
    memset(f, 0, sizeof(*f));
    HANDLE h = CreateFileW(target_exe, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    if (h == INVALID_HANDLE_VALUE)
        return false;
    LARGE_INTEGER size;
    DWORD got = 0;
    bool ok = GetFileSizeEx(h, &size) && size.QuadPart > 0 && size.QuadPart < (64 << 20) &&
              (f->bytes = malloc((size_t)size.QuadPart)) != NULL &&
              ReadFile(h, f->bytes, (DWORD)size.QuadPart, &got, NULL) && got == (DWORD)size.QuadPart;
    CloseHandle(h);
    size_t need = 0;
    f->len = got;
    return ok && psum_pe_parse(f->bytes, f->len, &f->img, &need) == 0;
}

static void free_image(image_file *f)
{
    psum_pe_free(&f->img);
    free(f->bytes);
}

/* The file offset of an RVA in an executable range; false when none holds it. */
static bool code_offset(const psum_pe_image *img, uint32_t rva, uint64_t *out)
{
    for (size_t i = 0; i < img->range_count; i++)
        if (rva >= img->ranges[i].rva_start && rva < img->ranges[i].rva_end) {
            *out = img->ranges[i].file_offset + (rva - img->ranges[i].rva_start);
            return true;
        }
    return false;
}

/* The pseudo-relocation entry whose field lies in [rva, rva + len), from the file's read-only data. */
static bool pseudo_in(const image_file *f, uint32_t rva, uint32_t len, psum_pe_pseudo *out)
{
    bool found = false;
    for (size_t i = 0; i < f->img.section_count && !found; i++) {
        const psum_pe_section *s = &f->img.sections[i];
        if ((s->characteristics & (SCN_MEM_EXECUTE | SCN_MEM_WRITE)) || (uint64_t)s->raw_ptr + s->raw_size > f->len)
            continue;
        psum_pe_pseudo *list = NULL;
        size_t n = 0;
        if (psum_pe_pseudo_find(&f->img, f->bytes + s->raw_ptr, s->raw_size, s->va, &list, &n) != 0)
            continue;
        for (size_t k = 0; k < n && !found; k++)
            if (list[k].target >= rva && list[k].target < rva + len) {
                *out = list[k];
                found = true;
            }
        free(list);
    }
    return found;
}

/* ---- running procsum.exe ---- */

typedef struct run {
    PROCESS_INFORMATION pi;
    HANDLE out;   /* its standard output */
    char *text;   /* all it wrote so far */
    size_t len, cap;
} run;

static bool run_start(run *r, const wchar_t *args)
{
    memset(r, 0, sizeof(*r));
    HANDLE out_w;
    if (!child_pipe(&r->out, &out_w, false))
        return false;
    STARTUPINFOW si = {.cb = sizeof(si), .dwFlags = STARTF_USESTDHANDLES};
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = out_w;
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    wchar_t cmd[2 * MAX_PATH];
    swprintf(cmd, sizeof(cmd) / sizeof(cmd[0]), L"\"%ls\" %ls", procsum_exe, args);
    BOOL ok = CreateProcessW(procsum_exe, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &r->pi);
    CloseHandle(out_w);
    if (!ok)
        CloseHandle(r->out);
    return ok;
}

/* Takes what the command wrote meanwhile, without blocking; false once its output has ended. */
static bool run_poll(run *r)
{
    DWORD avail = 0;
    if (!PeekNamedPipe(r->out, NULL, 0, NULL, &avail, NULL))
        return false; /* broken pipe: it exited and everything was read */
    if (avail == 0)
        return true;
    if (r->len + avail + 1 > r->cap) {
        size_t cap = (r->len + avail + 1) * 2;
        char *grown = realloc(r->text, cap);
        if (!grown)
            return false;
        r->text = grown;
        r->cap = cap;
    }
    DWORD got = 0;
    if (!ReadFile(r->out, r->text + r->len, avail, &got, NULL))
        return false;
    r->len += got;
    r->text[r->len] = '\0';
    return true;
}

/* Waits until the output holds needle (true) or the command ends or the hang guard runs out (false). */
static bool run_wait_for(run *r, const char *needle)
{
    for (unsigned waited = 0; waited < HANG_GUARD_MS; waited += POLL_MS) {
        bool open = run_poll(r);
        if (r->text && strstr(r->text, needle))
            return true;
        if (!open)
            return false;
        Sleep(POLL_MS);
    }
    return false;
}

/* Reads to the end and returns the exit code; -1 when it had to be killed (the hang guard ran out). */
static int run_finish(run *r)
{
    unsigned waited = 0;
    while (run_poll(r) && waited < HANG_GUARD_MS) {
        Sleep(POLL_MS);
        waited += POLL_MS;
    }
    DWORD code = (DWORD)-1;
    if (WaitForSingleObject(r->pi.hProcess, waited < HANG_GUARD_MS ? HANG_GUARD_MS : 0) == WAIT_OBJECT_0)
        GetExitCodeProcess(r->pi.hProcess, &code);
    else
        TerminateProcess(r->pi.hProcess, 1);
    CloseHandle(r->out);
    CloseHandle(r->pi.hProcess);
    CloseHandle(r->pi.hThread);
    if (!r->text)
        r->text = calloc(1, 1);
    return (int)code;
}

/* procsum.exe with these arguments, to its end: its exit code; *text (malloc'ed) what it wrote. */
static int procsum(const wchar_t *args, char **text)
{
    run r;
    if (!run_start(&r, args)) {
        *text = calloc(1, 1);
        return -1;
    }
    int code = run_finish(&r);
    *text = r.text;
    return code;
}

/* The line of text that holds needle, as a string for messages (static). */
static const char *line_with(const char *text, const char *needle)
{
    static char line[1024];
    const char *p = text ? strstr(text, needle) : NULL;
    if (!p)
        return "(none)";
    while (p > text && p[-1] != '\n')
        p--;
    size_t n = strcspn(p, "\r\n");
    snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) - 1 ? n : sizeof(line) - 1), p);
    return line;
}

/* ---- tests ---- */

/* The premise: the runtime really rewrote a field in .text, next to where the flips go. */
static void pseudo_relocation_rewrites_text(void)
{
    target t;
    image_file f;
    if (!start_target(&t))
        return;
    CHECK(load_image(&f), "read and parse psum_target.exe");
    uint32_t fn_rva = (uint32_t)(t.fn - t.base);
    psum_pe_pseudo p = {0};
    bool found = pseudo_in(&f, fn_rva, 16, &p);
    CHECK(found, "the file's pseudo-relocation list has an entry in psum_read_shared (RVA %#x)", (unsigned)fn_rva);
    uint64_t off = 0;
    if (found && code_offset(&f.img, p.target, &off) && off + p.bytes <= f.len) {
        uint8_t now[8] = {0};
        SIZE_T n = 0;
        CHECK(ReadProcessMemory(t.pi.hProcess, (LPCVOID)(t.base + p.target), now, p.bytes, &n) && n == p.bytes,
              "read the field");
        CHECK(p.bytes == 4 && memcmp(now, f.bytes + off, p.bytes) != 0,
              "the runtime rewrote the %u-byte field at RVA %#x in .text (file offset %llu)", p.bytes,
              (unsigned)p.target, (unsigned long long)off);
        CHECK(p.target / PAGE == fn_rva / PAGE, "the field and the function's first byte share a page");
    } else {
        CHECK(false, "the entry's field (RVA %#x) is in an executable section", (unsigned)p.target);
    }
    CHECK(t.clash != 0 && t.clash != 0x140000000u, "psum_clashdll.dll was relocated (at %#llx)",
          (unsigned long long)t.clash);
    free_image(&f);
    close_target(&t);
}

static void verify_clean_then_flip(void)
{
    target t;
    image_file f;
    if (!start_target(&t))
        return;
    CHECK(load_image(&f), "read and parse psum_target.exe");
    wchar_t args[64];
    char *out = NULL;
    swprintf(args, 64, L"verify --json %lu", (unsigned long)t.pi.dwProcessId);
    int code = procsum(args, &out);
    CHECK(code == 0, "verify of the untouched target exits 0, not %d:\n%s", code, out);
    CHECK(strstr(out, "\"procsum.status\":\"clean\"") && !strstr(out, "\"event.kind\":\"alert\""),
          "verify says clean, with no alert:\n%s", out);
    free(out);

    /* The table too, for a person. */
    swprintf(args, 64, L"verify %lu", (unsigned long)t.pi.dwProcessId);
    code = procsum(args, &out);
    CHECK(code == 0 && strstr(out, "clean"), "verify's table says clean, exit 0 (%d):\n%s", code, out);
    free(out);

    uint64_t off = 0;
    CHECK(code_offset(&f.img, (uint32_t)(t.fn - t.base), &off), "the function is in an executable range");
    CHECK(flip_bit(&t, t.fn), "flip bit 0 of the function's first byte");
    swprintf(args, 64, L"verify --json %lu", (unsigned long)t.pi.dwProcessId);
    code = procsum(args, &out);
    char want[64];
    snprintf(want, sizeof(want), "\"procsum.file_offset\":%llu,", (unsigned long long)off);
    const char *alert = line_with(out, "\"event.kind\":\"alert\"");
    CHECK(code == 5, "verify of the flipped target exits 5, not %d:\n%s", code, out);
    CHECK(strstr(alert, want) != NULL, "the alert names file offset %llu: %s", (unsigned long long)off, alert);
    CHECK(strstr(alert, "\"procsum.verdict\":\"bitflip\"") && strstr(alert, "\"procsum.changed_bits\":1,"),
          "the alert says bitflip, one bit: %s", alert);
    CHECK(strstr(alert, "\"procsum.xor\":\"01\""), "the alert's mask is bit 0: %s", alert);
    const char *second = strstr(out, "\"event.kind\":\"alert\"");
    CHECK(second && !strstr(second + 1, "\"event.kind\":\"alert\""), "one alert only (the pseudo-relocated field "
                                                                       "is not one):\n%s", out);
    free(out);
    free_image(&f);

    /* Once it is gone: exit 4, the process is not there. */
    DWORD pid = t.pi.dwProcessId;
    close_target(&t);
    swprintf(args, 64, L"verify %lu", (unsigned long)pid);
    code = procsum(args, &out);
    CHECK(code == 4, "verify of an exited process exits 4, not %d:\n%s", code, out);
    free(out);
}

/*
 * Whether every alert in text comes from a test program that changes its own
 * code on purpose (test_detect runs at the same time under `meson test`).
 */
static bool alerts_only_from_tests(const char *text)
{
    for (const char *p = text; (p = strstr(p, "\"event.kind\":\"alert\"")) != NULL; p++)
        if (!strstr(line_with(p, "\"event.kind\":\"alert\""), "\\\\tests\\\\win\\\\test_"))
            return false;
    return true;
}

static void verify_all_lists_target(void)
{
    target t;
    if (!start_target(&t))
        return;
    char *out = NULL;
    int code = procsum(L"verify --all --json", &out);
    char want[64];
    snprintf(want, sizeof(want), "\"process.pid\":%lu,", (unsigned long)t.pi.dwProcessId);
    const char *line = line_with(out, want);
    CHECK(code == 0 || (code == 5 && alerts_only_from_tests(out)),
          "verify --all exits 0, or 5 for test programs that change their own code, not %d:\n%s", code, out);
    CHECK(strstr(line, "\"procsum.status\":\"clean\"") && strstr(line, "psum_target.exe"),
          "verify --all lists the target, clean: %s", line);
    free(out);
    close_target(&t);
}

static void watch_finds_flip_and_ends_with_process(void)
{
    target t;
    image_file f;
    if (!start_target(&t))
        return;
    CHECK(load_image(&f), "read and parse psum_target.exe");
    uint64_t off = 0;
    code_offset(&f.img, (uint32_t)(t.fn - t.base), &off);
    free_image(&f);
    wchar_t args[80];
    swprintf(args, 80, L"watch --json --period 200 %lu", (unsigned long)t.pi.dwProcessId);
    run r;
    if (!run_start(&r, args)) {
        CHECK(false, "start procsum.exe watch");
        close_target(&t);
        return;
    }
    bool watching = run_wait_for(&r, "\"event.action\":\"watching\"");
    CHECK(watching && strstr(line_with(r.text, "\"watching\""), "\"procsum.status\":\"clean\""),
          "watch starts and says clean:\n%s", r.text ? r.text : "");
    CHECK(flip_bit(&t, t.fn), "flip bit 0 of the function's first byte");
    bool found = watching && run_wait_for(&r, "\"event.kind\":\"alert\"");
    const char *alert = line_with(r.text, "\"event.kind\":\"alert\"");
    char want[64];
    snprintf(want, sizeof(want), "\"procsum.file_offset\":%llu,", (unsigned long long)off);
    CHECK(found && strstr(alert, "\"procsum.verdict\":\"bitflip\"") && strstr(alert, want),
          "watch reports the flip at file offset %llu: %s", (unsigned long long)off, alert);
    /* The process ends on its own: watch says so and ends, exit 0. */
    end_target(&t);
    bool exited = run_wait_for(&r, "\"event.action\":\"exited\"");
    int code = run_finish(&r);
    CHECK(exited, "watch says the process exited:\n%s", r.text);
    CHECK(code == 0, "watch ends with exit 0 once its only process is gone, not %d", code);
    free(r.text);
    close_target(&t);
}

/*
 * watch --all picks the target up. Its stop on Ctrl+C or Ctrl+Break is not
 * tested: under Wine GenerateConsoleCtrlEvent fails (ERROR_INVALID_HANDLE)
 * even from a process attached to watch's console; watch is ended here.
 */
static void watch_all_picks_up_target(void)
{
    target t;
    if (!start_target(&t))
        return;
    run r;
    if (!run_start(&r, L"watch --all --json --period 200")) {
        CHECK(false, "start procsum.exe watch --all");
        close_target(&t);
        return;
    }
    char want[64];
    snprintf(want, sizeof(want), "\"process.pid\":%lu,", (unsigned long)t.pi.dwProcessId);
    bool seen = run_wait_for(&r, want);
    CHECK(seen && strstr(line_with(r.text, want), "\"event.action\":\"watching\"") &&
              strstr(line_with(r.text, want), "\"procsum.status\":\"clean\""),
          "watch --all watches the target, clean: %s", line_with(r.text, want));
    TerminateProcess(r.pi.hProcess, 0);
    run_finish(&r);
    free(r.text);
    close_target(&t);
}

typedef struct counted {
    CRITICAL_SECTION lock;
    int reports;
    procsum_page_change first;
} counted;

static void on_mismatch(const procsum_mismatch *m, void *userdata)
{
    counted *c = userdata;
    EnterCriticalSection(&c->lock);
    if (c->reports++ == 0 && m->changed_pages > 0)
        c->first = m->page_changes[0];
    LeaveCriticalSection(&c->lock);
}

/* Polls the checker's stats until done(st) or the hang guard runs out. */
static bool wait_stats(procsum_checker *c, procsum_stats *st, bool (*done)(const procsum_stats *, uint64_t), uint64_t arg)
{
    for (unsigned waited = 0; waited < HANG_GUARD_MS; waited += POLL_MS) {
        procsum_get_stats(c, st);
        if (done(st, arg))
            return true;
        Sleep(POLL_MS);
    }
    return false;
}

static bool passes_reached(const procsum_stats *st, uint64_t n)
{
    return st->passes >= n || st->mismatches > 0;
}

static bool gone(const procsum_stats *st, uint64_t unused)
{
    (void)unused;
    return st->last_error == PROCSUM_ESRCH;
}

/* The library's checker on t's process, a pass every 100 ms, its reports counted in seen (its lock made here). */
static int start_checker_on(const target *t, counted *seen, procsum_checker **c)
{
    InitializeCriticalSection(&seen->lock);
    procsum_options o;
    procsum_options_init(&o);
    o.pid = (long)t->pi.dwProcessId;
    o.check_period_ms = 100;
    *c = NULL;
    int err = procsum_start(&o, on_mismatch, seen, c);
    CHECK(err == 0, "procsum_start on the target: %s", procsum_strerror(err));
    return err;
}

/* The library's checker on another process: the flip within two passes after it, the exit as PROCSUM_ESRCH. */
static void checker_on_other_process(void)
{
    target t;
    if (!start_target(&t))
        return;
    counted seen = {0};
    procsum_checker *c;
    int err = start_checker_on(&t, &seen, &c);
    if (err) {
        close_target(&t);
        DeleteCriticalSection(&seen.lock);
        return;
    }
    procsum_stats st;
    CHECK(wait_stats(c, &st, passes_reached, 2) && st.mismatches == 0 && st.last_error == 0,
          "two passes over the untouched target, no report (%llu reports, error %s)",
          (unsigned long long)st.mismatches, procsum_err_name(st.last_error));
    procsum_get_stats(c, &st);
    uint64_t before = st.passes;
    CHECK(flip_bit(&t, t.fn), "flip bit 0 of the function's first byte");
    /* The pass under way may have read the page already; the next one starts after the flip. */
    wait_stats(c, &st, passes_reached, before + 2);
    CHECK(st.mismatches > 0, "reported within two passes after the flip (passes %llu -> %llu)",
          (unsigned long long)before, (unsigned long long)st.passes);
    EnterCriticalSection(&seen.lock);
    CHECK(seen.reports == 1 && seen.first.verdict == PROCSUM_VERDICT_BITFLIP && seen.first.addr == (t.fn & ~(uintptr_t)(PAGE - 1)),
          "one report, a bit flip in the function's page (%d reports, verdict %s)", seen.reports,
          procsum_verdict_name(seen.first.verdict));
    LeaveCriticalSection(&seen.lock);
    end_target(&t);
    CHECK(wait_stats(c, &st, gone, 0), "the checker says PROCSUM_ESRCH once the target exited (last error %s)",
          procsum_err_name(st.last_error));
    procsum_stop(c);
    close_target(&t);
    DeleteCriticalSection(&seen.lock);
}

/*
 * A DLL the other process loads after its checker started gets baselines a
 * few passes later and is defended from then on: a bit flipped in it is
 * reported once, in its page (its mapping is confirmed from what the last
 * listing knew of the module and from its header bytes).
 */
static void checker_defends_dll_loaded_later(void)
{
    target t;
    if (!start_target(&t))
        return;
    counted seen = {0};
    procsum_checker *c;
    int err = start_checker_on(&t, &seen, &c);
    procsum_stats st;
    char line[128] = "";
    unsigned long long fn = 0;
    DWORD put = 0;
    bool loaded = !err && wait_stats(c, &st, passes_reached, 2) && WriteFile(t.to_child, "load\n", 5, &put, NULL) &&
                  read_line(t.from_child, line, sizeof(line)) && sscanf(line, "loaded %llx", &fn) == 1;
    CHECK(loaded, "the target loaded psum_loopdll.dll after two passes ('%s')", line);
    if (loaded) {
        procsum_get_stats(c, &st);
        CHECK(wait_stats(c, &st, passes_reached, st.passes + 5) && st.mismatches == 0,
              "five passes with the DLL, no report (%llu)", (unsigned long long)st.mismatches);
        uint64_t before = st.passes;
        CHECK(flip_bit(&t, (uintptr_t)fn + 1), "flip a bit in the DLL's function");
        wait_stats(c, &st, passes_reached, before + 3);
        EnterCriticalSection(&seen.lock);
        CHECK(seen.reports == 1 && seen.first.verdict == PROCSUM_VERDICT_BITFLIP &&
                  seen.first.addr == ((uintptr_t)fn & ~(uintptr_t)(PAGE - 1)),
              "one report, a bit flip in the DLL's page (%d reports, verdict %s)", seen.reports,
              procsum_verdict_name(seen.first.verdict));
        LeaveCriticalSection(&seen.lock);
    }
    if (!err)
        procsum_stop(c);
    close_target(&t);
    DeleteCriticalSection(&seen.lock);
}

/* Next to this program: psum_target.exe; two directories up: tools\procsum.exe. */
static bool find_programs(void)
{
    wchar_t self[MAX_PATH];
    DWORD n = GetModuleFileNameW(NULL, self, MAX_PATH);
    if (n == 0 || n >= MAX_PATH)
        return false;
    wchar_t *slash = wcsrchr(self, L'\\');
    if (!slash)
        return false;
    *slash = L'\0';
    swprintf(target_exe, MAX_PATH, L"%ls\\psum_target.exe", self);
    swprintf(procsum_exe, MAX_PATH, L"%ls\\..\\..\\tools\\procsum.exe", self);
    return GetFileAttributesW(target_exe) != INVALID_FILE_ATTRIBUTES &&
           GetFileAttributesW(procsum_exe) != INVALID_FILE_ATTRIBUTES;
}

int main(void)
{
    CHECK(find_programs(), "psum_target.exe next to this program and tools\\procsum.exe in the build");
    if (check_failed)
        return check_summary("test_outside");
    RUN(pseudo_relocation_rewrites_text);
    RUN(verify_clean_then_flip);
    RUN(verify_all_lists_target);
    RUN(watch_finds_flip_and_ends_with_process);
    RUN(checker_on_other_process);
    RUN(checker_defends_dll_loaded_later);
    RUN(watch_all_picks_up_target);
    return check_summary("test_outside");
}
