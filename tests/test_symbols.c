/*
 * Reports name the function and the instructions of a change. A library of
 * the suite's own (symbols_lib.c: functions of fixed bytes) is loaded, a
 * known byte of one of its functions is changed in this live process, and
 * the report must say exactly "psym_target+0xN" and the instructions there
 * before and after: a bit flipped (found by a running checker), an inline
 * hook (a jmp rel32 to another function of the library, named
 * module+offset; a movabs/jmp to anonymous code), and an int3 under a
 * tracer: a breakpoint at an instruction's start, a write inside one.
 * libelf and Capstone are mapped only once a report needs them.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procsum.h"
#include "test_util.h"
#include "truth_util.h"

#define PAGE ((uintptr_t)PROCSUM_PAGE_SIZE)

static void *lib;
static uintptr_t target, hook;
static char lib_path[PATH_MAX];

/* Loads the library and runs its functions once (their page is then in memory). */
static void load(void)
{
    lib = dlopen(SYMBOLS_LIB, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(lib, "dlopen(%s): %s", SYMBOLS_LIB, dlerror());
    target = (uintptr_t)dlsym(lib, "psym_target");
    hook = (uintptr_t)dlsym(lib, "psym_hook");
    cr_assert(target && hook);
    int (*volatile fn)(int) = (int (*)(int))target;
    cr_assert_eq(fn(1), 0x12345679);
    fn = (int (*)(int))hook;
    cr_assert_eq(fn(0), 42);
    uint64_t off;
    char err[TRUTH_ERR];
    cr_assert_eq(truth_file_offset((const void *)target, &off, lib_path, sizeof(lib_path), err), 0, "%s", err);
}

TestSuite(symbols, .init = load, .timeout = 60);

/* Writes n bytes over code at addr: mprotect rwx, copy, back to r-x (the process's own copy of the page). */
static void write_code(uintptr_t addr, const void *bytes, size_t n)
{
    uintptr_t page = addr & ~(PAGE - 1);
    size_t len = (addr + n + PAGE - 1 - page) & ~(PAGE - 1);
    cr_assert_eq(mprotect((void *)page, len, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
    memcpy((void *)addr, bytes, n);
    cr_assert_eq(mprotect((void *)page, len, PROT_READ | PROT_EXEC), 0);
}

/* ---- a bit flipped under a running checker ------------------------------- */

static atomic_int seen;
static char seen_symbol[128], seen_old[256], seen_new[256];
static procsum_cause seen_cause;

static void copy_text(char *out, size_t cap, const char *s)
{
    snprintf(out, cap, "%s", s ? s : "(null)");
}

static atomic_int elsewhere; /* reports but the library's one change and the sandbox's jump over main */

static void on_report(const procsum_mismatch *m, void *userdata)
{
    (void)userdata;
    if (test_is_sandbox_patch(m))
        return;
    if (m->kind != PROCSUM_REPORT_CHANGED || strcmp(m->region->source, lib_path) != 0 || atomic_load(&seen)) {
        atomic_fetch_add(&elsewhere, 1);
        return;
    }
    const procsum_page_change *pc = &m->page_changes[0];
    copy_text(seen_symbol, sizeof(seen_symbol), pc->symbol);
    copy_text(seen_old, sizeof(seen_old), pc->old_insn);
    copy_text(seen_new, sizeof(seen_new), pc->new_insn);
    seen_cause = pc->cause;
    atomic_store(&seen, 1);
}

Test(symbols, bit_flip_names_function_and_instructions)
{
    cr_assert_not(test_mapped("libelf"), "libelf is mapped before any report");
    cr_assert_not(test_mapped("libcapstone"), "Capstone is mapped before any report");
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = 10;
    procsum_checker *c;
    cr_assert_eq(procsum_start(&o, on_report, NULL, &c), 0);
    /* b8 (mov eax, imm32) becomes b9 (mov ecx, imm32). */
    uint8_t b = *(const uint8_t *)(target + 1) ^ 0x01;
    write_code(target + 1, &b, 1);
    for (int i = 0; i < 30000 && !atomic_load(&seen); i++)
        usleep(1000);
    cr_assert_eq(procsum_stop(c), 0);
    cr_assert(atomic_load(&seen), "no report about %s", lib_path);
    cr_expect_eq(atomic_load(&elsewhere), 0, "a report other than the library's one change");
    cr_expect_str_eq(seen_symbol, "psym_target+0x1");
    cr_expect_str_eq(seen_old, "mov eax, 0x12345678");
    cr_expect_str_eq(seen_new, "mov ecx, 0x12345678");
    cr_expect_eq(seen_cause, PROCSUM_CAUSE_WRITE);
    cr_expect(test_mapped("libelf"), "the report named a function without libelf?");
    cr_expect(test_mapped("libcapstone"), "the report decoded instructions without Capstone?");
}

/* ---- verified against the file: hooks and int3s -------------------------- */

/* The one changed page of the library, verified now; its strings copied into *out's buffers. */
typedef struct found {
    char symbol[128], old_insn[256], new_insn[256];
    procsum_cause cause;
} found;

static void verify_library(found *out)
{
    procsum_options o;
    procsum_options_init(&o);
    procsum_verify_result r;
    cr_assert_eq(procsum_verify(&o, &r), 0);
    int n = 0;
    uintptr_t main_page = (uintptr_t)&main & ~(PAGE - 1);
    for (size_t i = 0; i < r.change_count; i++) {
        if (strcmp(r.regions[r.changes[i].region].source, lib_path) != 0) {
            /* Elsewhere only main's page, where Criterion's sandbox wrote its jump, differs from its file. */
            cr_expect(r.regions[r.changes[i].region].main_executable && r.changes[i].page.addr == main_page,
                      "a page of %s differs from its file at %#lx", r.regions[r.changes[i].region].source,
                      (unsigned long)r.changes[i].page.addr);
            continue;
        }
        const procsum_page_change *pc = &r.changes[i].page;
        copy_text(out->symbol, sizeof(out->symbol), pc->symbol);
        copy_text(out->old_insn, sizeof(out->old_insn), pc->old_insn);
        copy_text(out->new_insn, sizeof(out->new_insn), pc->new_insn);
        out->cause = pc->cause;
        n++;
    }
    procsum_verify_result_free(&r);
    cr_assert_eq(n, 1, "%d changed pages of %s", n, lib_path);
}

Test(symbols, hook_jump_names_its_target_module_and_offset)
{
    uint8_t jmp[5] = {0xe9};
    int32_t rel = (int32_t)(hook - (target + 5));
    memcpy(jmp + 1, &rel, 4);
    write_code(target, jmp, sizeof(jmp));
    uint64_t hook_off;
    char err[TRUTH_ERR];
    cr_assert_eq(truth_file_offset((const void *)hook, &hook_off, NULL, 0, err), 0, "%s", err);
    const char *base = strrchr(lib_path, '/') + 1;
    char want[PATH_MAX + 64];
    snprintf(want, sizeof(want), "jmp %s+0x%llx", base, (unsigned long long)hook_off);
    found f;
    verify_library(&f);
    cr_expect_str_eq(f.symbol, "psym_target+0x0");
    cr_expect_str_eq(f.old_insn, "push rbp; mov eax, 0x12345678");
    cr_expect_str_eq(f.new_insn, want);
}

Test(symbols, hook_into_anonymous_code_says_so)
{
    uint8_t *code = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(code, MAP_FAILED);
    code[0] = 0xc3;
    cr_assert_eq(mprotect(code, PAGE, PROT_READ | PROT_EXEC), 0);
    /* movabs rax, code; jmp rax */
    uint8_t patch[12] = {0x48, 0xb8};
    uint64_t to = (uint64_t)(uintptr_t)code;
    memcpy(patch + 2, &to, 8);
    patch[10] = 0xff;
    patch[11] = 0xe0;
    write_code(target, patch, sizeof(patch));
    char want[256];
    snprintf(want, sizeof(want), "movabs rax, 0x%llx; jmp rax -> 0x%llx (anonymous memory)", (unsigned long long)to,
             (unsigned long long)to);
    found f;
    verify_library(&f);
    cr_expect_str_eq(f.symbol, "psym_target+0x0");
    cr_expect_str_eq(f.old_insn, "push rbp; mov eax, 0x12345678; add eax, edi; nop dword ptr [rax + rax]");
    cr_expect_str_eq(f.new_insn, want);
    munmap(code, PAGE);
}

/* The absolute hook of hooking libraries: "jmp qword ptr [rip]" over the 8 bytes of its target. */
Test(symbols, hook_through_an_inline_pointer_names_its_target)
{
    uint8_t *code = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(code, MAP_FAILED);
    code[0] = 0xc3;
    cr_assert_eq(mprotect(code, PAGE, PROT_READ | PROT_EXEC), 0);
    uint8_t patch[14] = {0xff, 0x25, 0, 0, 0, 0};
    uint64_t to = (uint64_t)(uintptr_t)code;
    memcpy(patch + 6, &to, 8);
    write_code(target, patch, sizeof(patch));
    char want[256];
    snprintf(want, sizeof(want), "jmp qword ptr [rip] -> 0x%llx (anonymous memory)", (unsigned long long)to);
    found f;
    verify_library(&f);
    cr_expect_str_eq(f.symbol, "psym_target+0x0");
    cr_expect_str_eq(f.new_insn, want, "the pointer is the target, not instructions");
    munmap(code, PAGE);
}

/* A tracer attached to this process (PTRACE_SEIZE: it is not stopped), as a debugger would be; its pid. */
static pid_t attach_tracer(void)
{
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0); /* for Yama; harmless without it */
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char ok = ptrace(PTRACE_SEIZE, parent, NULL, NULL) == 0 ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char ok = 0;
    cr_assert_eq(read(ready[0], &ok, 1), 1);
    close(ready[0]);
    close(ready[1]);
    cr_assert_eq(ok, 'y', "the tracer could not attach (ptrace not permitted?)");
    return pid;
}

static void detach_tracer(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

Test(symbols, int3_at_an_instruction_start_is_a_breakpoint)
{
    pid_t tracer = attach_tracer();
    uint8_t int3 = 0xcc;
    write_code(target + 6, &int3, 1); /* over "add eax, edi" */
    found f;
    verify_library(&f);
    detach_tracer(tracer);
    cr_expect_eq(f.cause, PROCSUM_CAUSE_BREAKPOINT, "cause %s", procsum_cause_name(f.cause));
    cr_expect_str_eq(f.symbol, "psym_target+0x6");
    cr_expect_str_eq(f.old_insn, "add eax, edi");
    cr_expect_str_eq(f.new_insn, "int3");
}

Test(symbols, int3_inside_an_instruction_is_a_write)
{
    pid_t tracer = attach_tracer();
    uint8_t int3 = 0xcc;
    write_code(target + 3, &int3, 1); /* inside "mov eax, 0x12345678": its immediate's second byte */
    found f;
    verify_library(&f);
    detach_tracer(tracer);
    cr_expect_eq(f.cause, PROCSUM_CAUSE_WRITE, "cause %s", procsum_cause_name(f.cause));
    cr_expect_str_eq(f.symbol, "psym_target+0x3");
    cr_expect_str_eq(f.old_insn, "mov eax, 0x12345678");
    cr_expect_str_eq(f.new_insn, "mov eax, 0x1234cc78");
}

/* Two breakpoints on instructions 5 bytes apart share a run of changed bytes: still a debugger's. */
Test(symbols, int3s_at_two_close_instruction_starts_are_breakpoints)
{
    pid_t tracer = attach_tracer();
    uint8_t int3 = 0xcc;
    write_code(target + 1, &int3, 1); /* over "mov eax, 0x12345678" */
    write_code(target + 6, &int3, 1); /* over "add eax, edi" */
    found f;
    verify_library(&f);
    detach_tracer(tracer);
    cr_expect_eq(f.cause, PROCSUM_CAUSE_BREAKPOINT, "cause %s", procsum_cause_name(f.cause));
    cr_expect_str_eq(f.symbol, "psym_target+0x1");
}

Test(symbols, int3s_close_together_one_inside_an_instruction_are_a_write)
{
    pid_t tracer = attach_tracer();
    uint8_t int3 = 0xcc;
    write_code(target + 1, &int3, 1); /* an instruction's start */
    write_code(target + 3, &int3, 1); /* inside "mov eax, 0x12345678" */
    found f;
    verify_library(&f);
    detach_tracer(tracer);
    cr_expect_eq(f.cause, PROCSUM_CAUSE_WRITE, "cause %s", procsum_cause_name(f.cause));
}
