/*
 * psum_os_use_pages on Linux: the pages of loader-mapped objects are handed
 * over in place, everything else as a copy, and bytes that are no longer
 * the listed region's (unloaded, another part of the file at that address
 * now, another file) are refused instead of being read. And psum_os_read
 * where a sandbox refuses process_vm_readv.
 */
#include <criterion/criterion.h>

#include <dlfcn.h>
#include <inttypes.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include "os/linux/fault_guard.h"
#include "os/linux/procmap.h"
#include "os/linux/target.h"
#include "os/os.h"
#include "stress_libs.h"
#include "test_util.h"

#define PAGE PROCSUM_PAGE_SIZE

typedef struct seen {
    int calls;
    const uint8_t *bytes;
    uint8_t first[16];
    int result; /* what the callback returns */
} seen;

static int look(void *ctx, const uint8_t *bytes)
{
    seen *s = ctx;
    s->calls++;
    s->bytes = bytes;
    memcpy(s->first, bytes, sizeof(s->first));
    return s->result;
}

/* Reads one byte of every page it is given (as hashing would), after look. */
static size_t pages_given;
static int read_all(void *ctx, const uint8_t *bytes)
{
    int err = look(ctx, bytes);
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < pages_given; i++)
        sum += bytes[i * PAGE + 100];
    (void)sum;
    return err;
}

static psum_os_target *self_target(void)
{
    psum_os_target *t = NULL;
    cr_assert_eq(psum_os_target_open(0, &t), 0);
    return t;
}

/* Copies the first readable, executable region whose path contains `needle` (anonymous ones: "[anon]"). */
static bool find_code_region(psum_os_target *t, const char *needle, psum_os_region *out)
{
    psum_os_region_list list = {0};
    cr_assert_eq(psum_os_list_regions(t, &list), 0);
    bool found = false;
    for (size_t i = 0; i < list.count && !found; i++) {
        const psum_os_region *r = &list.items[i];
        bool code = (r->prot & PSUM_PROT_R) && (r->prot & PSUM_PROT_X) && !(r->prot & PSUM_PROT_W);
        bool anon_wanted = strcmp(needle, "[anon]") == 0;
        bool match = anon_wanted ? r->kind == PROCSUM_REGION_ANON : r->path && strstr(r->path, needle) != NULL;
        if (code && match) {
            *out = *r;
            out->path = strdup(r->path ? r->path : "");
            cr_assert_not_null(out->path);
            found = true;
        }
    }
    psum_os_region_list_free(&list);
    return found;
}

/* Tests on libc's first code region: `target` is the calling process, `libc` that region. */
static psum_os_target *target;
static psum_os_region libc;
static uint8_t page_buf[2 * PAGE];

static void open_libc(void)
{
    target = self_target();
    cr_assert(find_code_region(target, "libc.so", &libc), "libc's code is listed");
    cr_assert_geq(libc.end - libc.start, 2 * PAGE);
}

static void close_libc(void)
{
    free(libc.path);
    psum_os_target_close(target);
}

Test(loader, library_pages_are_used_in_place, .init = open_libc, .fini = close_libc)
{
    seen s = {0};
    cr_assert_eq(psum_os_use_pages(target, &libc, libc.start, 2, NULL, page_buf, look, &s), 0);
    cr_assert_eq(s.calls, 1);
    cr_assert_eq((uintptr_t)s.bytes, libc.start, "libc's pages are handed over where they are mapped");
    cr_assert_eq(memcmp(s.first, (const void *)libc.start, sizeof(s.first)), 0);
}

Test(loader, anonymous_pages_are_copied)
{
    void *code = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(code, MAP_FAILED);
    memset(code, 0xc3, PAGE);
    cr_assert_eq(mprotect(code, PAGE, PROT_READ | PROT_EXEC), 0);
    psum_os_target *t = self_target();
    psum_os_region r = {.start = (uintptr_t)code, .end = (uintptr_t)code + PAGE,
                        .prot = PSUM_PROT_R | PSUM_PROT_X, .kind = PROCSUM_REGION_ANON};
    static uint8_t buf[PAGE];
    seen s = {0};
    cr_assert_eq(psum_os_use_pages(t, &r, r.start, 1, NULL, buf, look, &s), 0);
    cr_assert_eq(s.calls, 1);
    cr_assert_eq(s.bytes, buf, "anonymous code can vanish at any time: it is copied first");
    cr_assert_eq(s.first[0], 0xc3);
    /* Unmapped since it was listed: refused, never read. */
    cr_assert_eq(munmap(code, PAGE), 0);
    s.calls = 0;
    cr_assert_eq(psum_os_use_pages(t, &r, r.start, 1, NULL, buf, look, &s), PROCSUM_EFAULT);
    cr_assert_eq(s.calls, 0);
    psum_os_target_close(t);
}

Test(loader, pages_not_wanted_are_not_copied)
{
    uint8_t *code = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(code, MAP_FAILED);
    memset(code, 0x11, PAGE);
    memset(code + 2 * PAGE, 0x33, PAGE);
    cr_assert_eq(mprotect(code, 3 * PAGE, PROT_READ | PROT_EXEC), 0);
    /* The middle page goes away: reading it would fail the whole copy. */
    cr_assert_eq(munmap(code + PAGE, PAGE), 0);
    psum_os_target *t = self_target();
    psum_os_region r = {.start = (uintptr_t)code, .end = (uintptr_t)code + 3 * PAGE,
                        .prot = PSUM_PROT_R | PSUM_PROT_X, .kind = PROCSUM_REGION_ANON};
    static uint8_t buf[3 * PAGE];
    memset(buf, 0, sizeof(buf));
    const bool want[3] = {true, false, true};
    seen s = {0};
    cr_assert_eq(psum_os_use_pages(t, &r, r.start, 3, want, buf, look, &s), 0);
    cr_assert_eq(s.calls, 1);
    cr_assert_eq(buf[0], 0x11);
    cr_assert_eq(buf[PAGE], 0, "the page not wanted is left alone");
    cr_assert_eq(buf[2 * PAGE], 0x33);
    /* Wanting every page reaches the hole and fails, without calling back. */
    s.calls = 0;
    cr_assert_eq(psum_os_use_pages(t, &r, r.start, 3, NULL, buf, look, &s), PROCSUM_EFAULT);
    cr_assert_eq(s.calls, 0);
    munmap(code, 3 * PAGE);
    psum_os_target_close(t);
}

Test(loader, the_callbacks_result_is_returned, .init = open_libc, .fini = close_libc)
{
    seen s = {.result = PROCSUM_ENOMEM};
    cr_assert_eq(psum_os_use_pages(target, &libc, libc.start, 1, NULL, page_buf, look, &s), PROCSUM_ENOMEM);
    cr_assert_eq(s.calls, 1);
}

/*
 * What a region listed before its library was unloaded and loaded again at
 * another base looks like when the new mapping covers its address: the same
 * file, another offset at that address.
 */
Test(loader, another_offset_of_the_same_file_is_refused, .init = open_libc, .fini = close_libc)
{
    seen s = {0};
    psum_os_region moved = libc;
    moved.file_offset += PAGE;
    cr_assert_eq(psum_os_use_pages(target, &moved, libc.start, 1, NULL, page_buf, look, &s), PROCSUM_EFAULT);
    cr_assert_eq(s.calls, 0, "another part of the file is not the listed region's content");
    /* The same region as listed still reads, so the refusal was the offset's doing. */
    cr_assert_eq(psum_os_use_pages(target, &libc, libc.start + PAGE, 1, NULL, page_buf, look, &s), 0);
    cr_assert_eq(s.calls, 1);
}

/* Loads and unloads a library: the loader's counters move, so the listing no longer vouches for what is mapped. */
static void move_loader_counters(void)
{
    void *h = dlopen(STRESS_LIB_1, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(h, "%s", dlerror());
    cr_assert_eq(dlclose(h), 0);
}

Test(loader, another_file_at_the_address_is_refused, .init = open_libc, .fini = close_libc)
{
    move_loader_counters();
    seen s = {0};
    psum_os_region other = libc;
    other.ino ^= 1;
    other.path = "/nonexistent/libother.so";
    cr_assert_eq(psum_os_use_pages(target, &other, libc.start, 1, NULL, page_buf, look, &s), PROCSUM_EFAULT);
    cr_assert_eq(s.calls, 0);
}

Test(loader, an_unloaded_library_is_refused)
{
    const char *path = STRESS_LIB_0;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(h, "%s", dlerror());
    psum_os_target *t = self_target();
    psum_os_region r;
    cr_assert(find_code_region(t, "libprocsum_stress_a", &r));
    static uint8_t buf[PAGE];
    seen s = {0};
    cr_assert_eq(psum_os_use_pages(t, &r, r.start, 1, NULL, buf, look, &s), 0, "read while loaded");
    cr_assert_eq((uintptr_t)s.bytes, r.start);
    cr_assert_eq(dlclose(h), 0);
    /* Keep the address taken by something else, as a later mmap or dlopen would. */
    void *filler = mmap((void *)r.start, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                        -1, 0);
    s.calls = 0;
    cr_assert_eq(psum_os_use_pages(t, &r, r.start, 1, NULL, buf, look, &s), PROCSUM_EFAULT);
    cr_assert_eq(s.calls, 0, "the unloaded library's address is not read as the library");
    if (filler != MAP_FAILED)
        munmap(filler, PAGE);
    free(r.path);
    psum_os_target_close(t);
}

static bool lists_start(const psum_os_region_list *list, uintptr_t start)
{
    for (size_t i = 0; i < list->count; i++)
        if (list->items[i].start == start)
            return true;
    return false;
}

/* Listing again with nothing changed keeps the list; any change to the mappings shows. */
Test(loader, a_second_listing_sees_what_changed)
{
    psum_os_target *t = self_target();
    psum_os_region_list list = {0};
    cr_assert_eq(psum_os_list_regions(t, &list), 0);
    size_t before = list.count;
    cr_assert_eq(psum_os_list_regions(t, &list), 0);
    cr_assert_eq(list.count, before, "nothing changed: the same regions");
    uint8_t *m = mmap(NULL, 3 * PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(m, MAP_FAILED);
    cr_assert_eq(psum_os_list_regions(t, &list), 0);
    cr_assert(lists_start(&list, (uintptr_t)m), "a new mapping is listed");
    /* A protection change alone is a change too. */
    cr_assert_eq(mprotect(m + PAGE, PAGE, PROT_READ), 0);
    cr_assert_eq(psum_os_list_regions(t, &list), 0);
    cr_assert(lists_start(&list, (uintptr_t)m + PAGE), "the reprotected page is a region of its own");
    cr_assert_eq(munmap(m, 3 * PAGE), 0);
    cr_assert_eq(psum_os_list_regions(t, &list), 0);
    cr_assert_not(lists_start(&list, (uintptr_t)m), "an unmapped range is gone");
    /* Another list is filled in full, not taken for the first one. */
    psum_os_region_list other = {0};
    cr_assert_eq(psum_os_list_regions(t, &other), 0);
    cr_assert_eq(other.count, list.count);
    psum_os_region_list_free(&other);
    psum_os_region_list_free(&list);
    psum_os_target_close(t);
}

/*
 * A library upgraded on disk while it is loaded, as packages do it: the
 * name it was loaded by is a link, which moves to the new version, and the
 * old version is deleted. While no object came or went since the listing,
 * what is mapped is what was listed, and it is still read.
 */
Test(loader, an_upgraded_library_is_still_read)
{
    char dir[] = "/tmp/psum-upgrade-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char link_name[PATH_MAX], v1[PATH_MAX], v2[PATH_MAX], tmp_link[PATH_MAX];
    snprintf(link_name, sizeof(link_name), "%s/libupgraded.so.1", dir);
    snprintf(v1, sizeof(v1), "%s/libupgraded.so.1.0", dir);
    snprintf(v2, sizeof(v2), "%s/libupgraded.so.1.1", dir);
    snprintf(tmp_link, sizeof(tmp_link), "%s/libupgraded.so.1.tmp", dir);
    char cmd[4 * PATH_MAX];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && cp '%s' '%s'", STRESS_LIB_0, v1, STRESS_LIB_0, v2);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(symlink(v1, link_name), 0);
    void *h = dlopen(link_name, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(h, "%s", dlerror());
    psum_os_target *t = self_target();
    psum_os_region r;
    cr_assert(find_code_region(t, "libupgraded.so.1.0", &r));
    /* The upgrade: the link moves to the new version, the old one goes. */
    cr_assert_eq(symlink(v2, tmp_link), 0);
    cr_assert_eq(rename(tmp_link, link_name), 0);
    cr_assert_eq(unlink(v1), 0);
    static uint8_t buf[PAGE];
    seen s = {0};
    cr_assert_eq(psum_os_use_pages(t, &r, r.start, 1, NULL, buf, look, &s), 0, "still read after the upgrade");
    cr_assert_eq(s.calls, 1);
    cr_assert_eq((uintptr_t)s.bytes, r.start);
    cr_assert_eq(dlclose(h), 0);
    free(r.path);
    psum_os_target_close(t);
    unlink(link_name);
    unlink(v2);
    rmdir(dir);
}

/* ---- faults while reading in place ---------------------------------------- */

/* The library's first code region, from a private copy of a test library the test may truncate. */
typedef struct lib_copy {
    char dir[64], path[128];
    void *handle;
    psum_os_region code;
} lib_copy;

static void lib_copy_open(lib_copy *l, psum_os_target *t)
{
    snprintf(l->dir, sizeof(l->dir), "/tmp/psum-fault-XXXXXX");
    cr_assert_not_null(mkdtemp(l->dir));
    snprintf(l->path, sizeof(l->path), "%s/libfault.so", l->dir);
    char cmd[512];
    int n = snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", STRESS_LIB_3, l->path);
    cr_assert(n > 0 && (size_t)n < sizeof(cmd));
    cr_assert_eq(system(cmd), 0);
    l->handle = dlopen(l->path, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(l->handle, "%s", dlerror());
    cr_assert(find_code_region(t, "libfault.so", &l->code));
    cr_assert_geq(l->code.end - l->code.start, 4 * PAGE, "a library with several code pages");
}

static void lib_copy_close(lib_copy *l)
{
    dlclose(l->handle);
    unlink(l->path);
    rmdir(l->dir);
    free(l->code.path);
}

Test(loader, a_page_the_program_made_inaccessible_is_refused_not_a_crash)
{
    psum_os_target *t = self_target();
    lib_copy l;
    lib_copy_open(&l, t);
    uintptr_t page = l.code.start + PAGE;
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_NONE), 0);
    static uint8_t buf[4 * PAGE];
    seen s = {0};
    pages_given = 4;
    cr_assert_eq(psum_os_use_pages(t, &l.code, l.code.start, 4, NULL, buf, read_all, &s), PROCSUM_EFAULT,
                 "a fault inside the pages read is an error, not a crash");
    /* The page before it was read in place, and the same call works once the page is back. */
    cr_assert_eq(s.calls, 1);
    cr_assert_eq((uintptr_t)s.bytes, l.code.start);
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_EXEC), 0);
    cr_assert_eq(psum_os_use_pages(t, &l.code, l.code.start, 4, NULL, buf, read_all, &s), 0);
    lib_copy_close(&l);
    psum_os_target_close(t);
}

/*
 * Truncates the library's file to `length` (the code's file offset, or 0)
 * and reads one code page at `page` (from the code's start) in a child:
 * truncating the file also throws away the library's relocated data pages,
 * so the library cannot be unloaded cleanly afterwards; the child leaves
 * with _exit. Pages past the end of a file raise SIGBUS when read.
 */
static void truncated_library_is_refused(bool to_nothing)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        alarm(20);
        psum_os_target *t = self_target();
        lib_copy l;
        lib_copy_open(&l, t);
        if (truncate(l.path, to_nothing ? 0 : (off_t)l.code.file_offset) != 0)
            _exit(2);
        static uint8_t buf[PAGE];
        seen s = {0};
        pages_given = 1;
        uintptr_t page = to_nothing ? l.code.start : l.code.end - PAGE;
        int err = psum_os_use_pages(t, &l.code, page, 1, NULL, buf, read_all, &s);
        unlink(l.path);
        rmdir(l.dir);
        _exit(err == PROCSUM_EFAULT ? 0 : 3);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "the child died of signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_assert_eq(WEXITSTATUS(status), 0, "status %d (2: truncate failed, 3: not refused)", WEXITSTATUS(status));
}

/* The file now ends before the code. */
Test(loader, a_truncated_library_file_is_refused_not_a_crash)
{
    truncated_library_is_refused(false);
}

/* The page holding the program headers the loader lists for l (its first mapped page). */
typedef struct header_search {
    const char *path;
    uintptr_t page;
} header_search;

static int find_header_page(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    header_search *h = arg;
    if (!info->dlpi_name || strcmp(info->dlpi_name, h->path) != 0)
        return 0;
    h->page = (uintptr_t)info->dlpi_phdr & ~(uintptr_t)(PAGE - 1);
    return 1;
}

static uintptr_t header_page(const lib_copy *l)
{
    header_search h = {l->path, 0};
    dl_iterate_phdr(find_header_page, &h);
    cr_assert_neq(h.page, 0, "the loader lists %s", l->path);
    cr_assert_lt(h.page, l->code.start, "the headers lie before the code");
    return h.page;
}

/* The loader's listing points into the library's first page: the program may take that page away too. */
Test(loader, a_header_page_the_program_made_inaccessible_is_not_a_crash)
{
    psum_os_target *t = self_target();
    lib_copy l;
    lib_copy_open(&l, t);
    uintptr_t headers = header_page(&l);
    cr_assert_eq(mprotect((void *)headers, PAGE, PROT_NONE), 0);
    static uint8_t buf[4 * PAGE];
    seen s = {0};
    pages_given = 4;
    /* The code pages themselves are still readable: they are copied, since the listing cannot vouch for them. */
    cr_assert_eq(psum_os_use_pages(t, &l.code, l.code.start, 4, NULL, buf, read_all, &s), 0);
    cr_assert_eq(s.bytes, buf, "copied, not read in place");
    cr_assert_eq(memcmp(buf, (const void *)l.code.start, 4 * PAGE), 0, "the code's bytes");
    cr_assert_eq(mprotect((void *)headers, PAGE, PROT_READ), 0);
    lib_copy_close(&l);
    psum_os_target_close(t);
}

/* Now even the first page, with the program headers the loader lists, raises SIGBUS when read. */
Test(loader, a_library_file_truncated_to_nothing_is_refused_not_a_crash)
{
    truncated_library_is_refused(true);
}

/* The guard's handler passes every other fault on: to the handler there before it, or to the default action. */
static void own_handler(int sig)
{
    _exit(sig == SIGSEGV ? 42 : 43);
}

typedef enum before_guard { DEFAULT_ACTION, OWN_HANDLER, IGNORED } before_guard;

/* A child that installs the guard over `before`, then faults (or, with `sent`, is sent SIGSEGV). */
static int child_faults(before_guard before, bool sent)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        alarm(20);
        if (before == OWN_HANDLER)
            signal(SIGSEGV, own_handler);
        if (before == IGNORED)
            signal(SIGSEGV, SIG_IGN);
        if (!psum_linux_fault_guard_ready())
            _exit(10);
        if (sent) {
            raise(SIGSEGV);
            _exit(13); /* ignored, as it was before the guard */
        }
        /* A bug of the program's own, not a guarded read: a write to a page it made inaccessible. */
        static volatile int *nowhere;
        nowhere = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (nowhere == MAP_FAILED)
            _exit(12);
        *nowhere = 1;
        _exit(11);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return status;
}

Test(loader, other_faults_still_reach_the_program)
{
    int status = child_faults(DEFAULT_ACTION, false);
    /*
     * The fault reaches whatever handled SIGSEGV before the guard: in a
     * plain build the default action, which kills with SIGSEGV; in a
     * sanitizer build (PSUM_TEST_SANITIZER, from tests/meson.build)
     * AddressSanitizer's handler, which reports and exits 1, or aborts with
     * abort_on_error=1. Anything else (exit 11: the child went on past the
     * fault) means the guard swallowed or changed it.
     */
#ifdef PSUM_TEST_SANITIZER
    const char *asan = getenv("ASAN_OPTIONS");
    if (asan && strstr(asan, "abort_on_error=1"))
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "the sanitizer aborts (status %#x)", status);
    else
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "the sanitizer exits 1 (status %#x)", status);
#else
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "killed by SIGSEGV (status %#x)", status);
#endif
    status = child_faults(OWN_HANDLER, false);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 42, "the program's own handler runs (status %#x)", status);
    /* Sent rather than caused: the same dispositions as before the guard. */
    status = child_faults(OWN_HANDLER, true);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 42, "own handler, signal sent (status %#x)", status);
    status = child_faults(IGNORED, true);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 13, "an ignored SIGSEGV sent stays ignored (status %#x)",
              status);
}

/* A handler the program installs later, not calling ours, takes the guard away: library code is then copied. */
Test(loader, without_the_guard_library_code_is_copied)
{
    psum_os_target *t = self_target();
    lib_copy l;
    lib_copy_open(&l, t);
    cr_assert(psum_linux_fault_guard_ready());
    signal(SIGSEGV, own_handler);
    psum_linux_fault_guard_recheck();
    cr_assert_not(psum_linux_fault_guard_ready(), "the guard knows its handler is gone");
    static uint8_t buf[4 * PAGE];
    seen s = {0};
    pages_given = 4;
    cr_assert_eq(psum_os_use_pages(t, &l.code, l.code.start, 4, NULL, buf, read_all, &s), 0);
    cr_assert_eq(s.bytes, buf, "copied, not read in place");
    uintptr_t page = l.code.start + PAGE;
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_NONE), 0);
    s.calls = 0;
    cr_assert_eq(psum_os_use_pages(t, &l.code, l.code.start, 4, NULL, buf, read_all, &s), PROCSUM_EFAULT);
    cr_assert_eq(s.calls, 0, "the copy fails before anything is read");
    cr_assert_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_EXEC), 0);
    signal(SIGSEGV, SIG_DFL);
    lib_copy_close(&l);
    psum_os_target_close(t);
}

/* ---- reads when process_vm_readv is refused ------------------------------- */

/* A seccomp filter that makes process_vm_readv fail with `error`, as a sandbox's policy may. */
static void refuse_process_vm_readv(int error)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_readv, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)error & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof(code) / sizeof(code[0]), code};
    cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
    cr_assert_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
    /* The refusal is in place. */
    char a = 1, b = 0;
    struct iovec local = {&b, 1}, remote = {&a, 1};
    errno = 0;
    cr_assert_eq(process_vm_readv(getpid(), &local, 1, &remote, 1, 0), -1);
    cr_assert_eq(errno, error);
}

/* Every refusal falls back to /proc/self/mem, which reads just as safely. */
static void read_despite_refusal(int error)
{
    refuse_process_vm_readv(error);
    psum_os_target *t = self_target();
    uint8_t *want = test_random_bytes(3 * PAGE, (uint64_t)error);
    static uint8_t got[3 * PAGE];
    cr_assert_eq(psum_os_read(t, (uintptr_t)want, got, 3 * PAGE), 0, "read despite %s", strerror(error));
    cr_assert_eq(memcmp(got, want, 3 * PAGE), 0);
    /* Unmapped memory still gives EFAULT, not a crash, the second way too. */
    void *gone = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(gone, MAP_FAILED);
    cr_assert_eq(munmap(gone, PAGE), 0);
    cr_assert_eq(psum_os_read(t, (uintptr_t)gone, got, PAGE), PROCSUM_EFAULT);
    free(want);
    psum_os_target_close(t);
}

Test(loader, read_when_process_vm_readv_is_refused_with_eacces) { read_despite_refusal(EACCES); }
Test(loader, read_when_process_vm_readv_is_refused_with_eperm) { read_despite_refusal(EPERM); }
Test(loader, read_when_process_vm_readv_is_refused_with_enosys) { read_despite_refusal(ENOSYS); }

/* ---- the two ways of listing ---------------------------------------------- */

/* Whether the running kernel has PROCMAP_QUERY (Linux 6.11). */
static bool kernel_has_procmap_query(void)
{
    struct utsname u;
    unsigned major = 0, minor = 0;
    if (uname(&u) != 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
        return false;
    return major > 6 || (major == 6 && minor >= 11);
}

static psum_os_target *target_listing(bool text_only)
{
    psum_os_target *t = NULL;
    cr_assert_eq(psum_os_target_open(0, &t), 0);
    t->maps_text_only = text_only;
    return t;
}

static const psum_os_region *listed_at(const psum_os_region_list *list, uintptr_t start)
{
    for (size_t i = 0; i < list->count; i++)
        if (list->items[i].start == start)
            return &list->items[i];
    return NULL;
}

static void assert_same_region(const psum_os_region *a, const psum_os_region *b)
{
    cr_assert_not_null(b, "%#" PRIxPTR " %s: missing from the other listing", a->start, a->path);
    cr_assert_eq(a->end, b->end, "%s", a->path);
    cr_assert_eq(a->prot, b->prot, "%s", a->path);
    cr_assert_eq(a->kind, b->kind, "%s", a->path);
    cr_assert_str_eq(a->path, b->path);
    cr_assert_eq(a->dev, b->dev, "%s", a->path);
    cr_assert_eq(a->ino, b->ino, "%s", a->path);
    cr_assert_eq(a->file_offset, b->file_offset, "%s", a->path);
    cr_assert_eq(a->main_executable, b->main_executable, "%s", a->path);
    cr_assert_eq(a->file_deleted, b->file_deleted, "%s", a->path);
}

/*
 * PROCMAP_QUERY and the maps text give the same executable regions, field
 * by field (the text's [vsyscall] page is no mapping of the process and
 * the ioctl does not list it); what the ioctl lists besides is in the text.
 */
Test(listing, the_ioctl_and_the_text_agree)
{
    if (!kernel_has_procmap_query())
        cr_skip_test("kernel older than 6.11, no PROCMAP_QUERY: NOT CHECKED");
    psum_os_target *q = target_listing(false), *txt = target_listing(true);
    uint8_t *m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(m, MAP_FAILED);
    psum_os_region_list by_ioctl = {0}, by_text = {0};
    cr_assert_eq(psum_os_list_regions(q, &by_ioctl), 0);
    cr_assert_eq(psum_os_list_regions(txt, &by_text), 0);
    cr_assert_not_null(q->procmap, "the ioctl was tried");
    cr_assert(psum_linux_procmap_may_work(q->procmap), "and it worked");
    cr_assert_gt(txt->last_maps_len, 0u, "the text alone was read");
    cr_assert_eq(q->last_maps_len, 0u, "and not for the ioctl's listing");
    size_t exec_text = 0, exec_ioctl = 0;
    for (size_t i = 0; i < by_text.count; i++) {
        const psum_os_region *r = &by_text.items[i];
        if (!(r->prot & PSUM_PROT_X) || strcmp(r->path, "[vsyscall]") == 0)
            continue;
        exec_text++;
        assert_same_region(r, listed_at(&by_ioctl, r->start));
    }
    for (size_t i = 0; i < by_ioctl.count; i++) {
        exec_ioctl += (by_ioctl.items[i].prot & PSUM_PROT_X) != 0;
        assert_same_region(&by_ioctl.items[i], listed_at(&by_text, by_ioctl.items[i].start));
    }
    cr_assert_eq(exec_ioctl, exec_text);
    cr_assert_gt(exec_text, 3u);
    cr_assert_not_null(listed_at(&by_ioctl, (uintptr_t)m));
    psum_os_region_list_free(&by_ioctl);
    psum_os_region_list_free(&by_text);
    munmap(m, 2 * PAGE);
    psum_os_target_close(q);
    psum_os_target_close(txt);
}

/* A page of a new file at path, mapped readable and executable; NULL where the file system refuses to run code. */
static void *map_file_named(const char *path)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    static char page[PAGE];
    cr_assert_eq(fwrite(page, 1, PAGE, f), (size_t)PAGE);
    cr_assert_eq(fclose(f), 0);
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    void *m = mmap(NULL, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    close(fd);
    return m == MAP_FAILED ? NULL : m;
}

/*
 * The maps text writes a newline in a path as "\012" and a backslash as
 * itself: a path with a newline and one with a backslash, a zero, a one
 * and a two are listed as they are named, the first still after it is
 * deleted, as PROCMAP_QUERY lists them (skip_files and reports see them so
 * on every kernel).
 */
Test(listing, the_text_gives_paths_with_newlines_and_backslashes_exactly)
{
    char dir[] = "/tmp/psum-names-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char newline[64], backslash[64];
    snprintf(newline, sizeof(newline), "%s/a\nb.so", dir);
    snprintf(backslash, sizeof(backslash), "%s/a\\012b.so", dir);
    void *n = map_file_named(newline), *b = map_file_named(backslash);
    if (!n || !b) {
        unlink(newline);
        unlink(backslash);
        rmdir(dir);
        cr_skip_test("%s does not map files executable: NOT CHECKED", dir);
    }
    psum_os_target *txt = target_listing(true);
    psum_os_region_list list = {0};
    for (int deleted = 0; deleted < 2; deleted++) {
        cr_assert_eq(psum_os_list_regions(txt, &list), 0);
        cr_assert_gt(txt->last_maps_len, 0u, "the text was read");
        const psum_os_region *rn = listed_at(&list, (uintptr_t)n), *rb = listed_at(&list, (uintptr_t)b);
        cr_assert_not_null(rn);
        cr_assert_not_null(rb);
        cr_assert_str_eq(rn->path, newline);
        cr_assert_eq(rn->file_deleted, deleted == 1);
        cr_assert_str_eq(rb->path, backslash);
        cr_assert_not(rb->file_deleted);
        unlink(newline);
    }
    psum_os_region_list_free(&list);
    psum_os_target_close(txt);
    munmap(n, PAGE);
    munmap(b, PAGE);
    unlink(backslash);
    rmdir(dir);
}

/*
 * A page made writable for a moment is not executable, but a baseline may
 * be held for it: the ioctl's listing keeps showing what is mapped where
 * its last listing had something, until it is unmapped.
 */
Test(listing, the_ioctl_keeps_showing_what_stopped_being_executable)
{
    if (!kernel_has_procmap_query())
        cr_skip_test("kernel older than 6.11, no PROCMAP_QUERY: NOT CHECKED");
    psum_os_target *q = target_listing(false);
    uint8_t *m = mmap(NULL, 3 * PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(m, MAP_FAILED);
    psum_os_region_list list = {0};
    cr_assert_eq(psum_os_list_regions(q, &list), 0);
    const psum_os_region *r = listed_at(&list, (uintptr_t)m);
    cr_assert_not_null(r);
    cr_assert_eq(r->end, (uintptr_t)m + 3 * PAGE);
    cr_assert_eq(mprotect(m + PAGE, PAGE, PROT_READ | PROT_WRITE), 0);
    for (int pass = 0; pass < 2; pass++) {
        cr_assert_eq(psum_os_list_regions(q, &list), 0);
        r = listed_at(&list, (uintptr_t)m + PAGE);
        cr_assert_not_null(r, "pass %d: the writable page is listed", pass);
        cr_assert_eq(r->prot, PSUM_PROT_R | PSUM_PROT_W);
        cr_assert_eq(r->end, (uintptr_t)m + 2 * PAGE);
        cr_assert_not_null(listed_at(&list, (uintptr_t)m + 2 * PAGE), "pass %d: and the executable rest", pass);
    }
    /* Never executable, never next to a listing: left out. */
    uint8_t *data = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(data, MAP_FAILED);
    cr_assert_eq(psum_os_list_regions(q, &list), 0);
    bool covered = false;
    for (size_t i = 0; i < list.count; i++)
        covered |= (uintptr_t)data >= list.items[i].start && (uintptr_t)data < list.items[i].end;
    cr_assert_not(covered, "a data mapping of its own is not listed");
    cr_assert_eq(munmap(m, 3 * PAGE), 0);
    cr_assert_eq(psum_os_list_regions(q, &list), 0);
    cr_assert_null(listed_at(&list, (uintptr_t)m + PAGE), "unmapped: gone");
    munmap(data, PAGE);
    psum_os_region_list_free(&list);
    psum_os_target_close(q);
}
