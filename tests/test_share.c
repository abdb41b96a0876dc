/*
 * Checkers of many processes sharing one digest cache (options.digest_cache,
 * what procsum watch --all does). Real processes, forked from the test, each
 * dlopen the same private copy of a library of the suite:
 *  - a byte written into the library's file changes its page-cache page,
 *    the one physical page both processes map: each process's checker
 *    reports it, although its digest is taken once for both;
 *  - a bit written through /proc/PID/mem into one process's mapping gives
 *    that process a private copy: only its checker reports it;
 *  - eight identical processes hash far less than eight times what one does
 *    (procsum_stats.bytes_hashed), and their checkers say how many pages
 *    came from the cache (pages_shared);
 *  - the same, once four idle processes have been checked often enough that
 *    their lists of mappings stand from pass to pass and their pages come
 *    from the cache: a private copy in one of them is reported for that one
 *    only, a change of the page-cache page for each of them, and a library
 *    one of them loads is read at its next pass;
 *  - idle processes get quiet passes (procsum_stats.quiet_passes: their
 *    page tables as the last whole pass left them, only bytes compared),
 *    and those still find a second write into a page already private and a
 *    change of a page-cache page every process maps.
 * Only procsum.h is used.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procsum.h"
#include "stress_libs.h"
#include "test_util.h"

#define LIBRARY STRESS_LIB_1
#define FUNCTION "stress_lib_run"
#define MAX_CHILDREN 8
/* Passes asked for before giving up on a report: the cache keeps a digest one period (CACHE_MS). */
#define TRIES 100
#define CACHE_MS 200

typedef struct child {
    pid_t pid;
    int command;    /* closed: the child exits; a byte 'l' makes it load OTHER_LIBRARY */
    int reply;      /* where the child says it loaded it */
    uintptr_t func; /* the library's function in the child */
} child;

#define OTHER_LIBRARY STRESS_LIB_2

/* What one checker reported about the library's function's page. */
typedef struct seen {
    uintptr_t page;
    atomic_int changes;
    atomic_int copy; /* procsum_copy of the last change */
    atomic_int any;  /* changes reported on any page */
    atomic_int cause, verdict, file_status; /* of the last change of the page */
    atomic_int findings; /* pages that differed from their file at the start, but the sandbox's jump over main */
} seen;

static char lib_copy[PATH_MAX];
static char lib_dir[64];

static void copy_library(void)
{
    snprintf(lib_dir, sizeof(lib_dir), "/tmp/procsum-share-XXXXXX");
    cr_assert_not_null(mkdtemp(lib_dir));
    snprintf(lib_copy, sizeof(lib_copy), "%s/libshared.so", lib_dir);
    int in = open(LIBRARY, O_RDONLY), out = open(lib_copy, O_WRONLY | O_CREAT | O_EXCL, 0755);
    cr_assert(in >= 0 && out >= 0, "copy %s", LIBRARY);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        cr_assert_eq(write(out, buf, (size_t)n), n);
    cr_assert_eq(n, 0);
    close(in);
    close(out);
}

static void remove_library(void)
{
    unlink(lib_copy);
    rmdir(lib_dir);
}

/* A child that dlopens the copy, tells where its function is, and waits for its command pipe to close. */
static child start_child(void)
{
    int command[2], ready[2];
    cr_assert_eq(pipe(command), 0);
    cr_assert_eq(pipe(ready), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(command[1]);
        close(ready[0]);
        void *h = dlopen(lib_copy, RTLD_NOW | RTLD_LOCAL);
        void *f = h ? dlsym(h, FUNCTION) : NULL;
        uintptr_t addr = (uintptr_t)f;
        if (!f || write(ready[1], &addr, sizeof(addr)) != (ssize_t)sizeof(addr))
            _exit(3);
        char c;
        while (read(command[0], &c, 1) == 1) {
            if (c != 'l')
                continue;
            addr = (uintptr_t)dlopen(OTHER_LIBRARY, RTLD_NOW | RTLD_LOCAL);
            if (write(ready[1], &addr, sizeof(addr)) != (ssize_t)sizeof(addr))
                _exit(3);
        }
        _exit(0);
    }
    close(command[0]);
    close(ready[1]);
    child ch = {.pid = pid, .command = command[1], .reply = ready[0]};
    cr_assert_eq(read(ready[0], &ch.func, sizeof(ch.func)), (ssize_t)sizeof(ch.func), "the child loaded %s", lib_copy);
    return ch;
}

static void end_child(child *ch)
{
    close(ch->command);
    close(ch->reply);
    kill(ch->pid, SIGKILL);
    waitpid(ch->pid, NULL, 0);
}

/* The offset in the library's file of addr in pid's mapping of it. */
static uint64_t file_offset_in(pid_t pid, uintptr_t addr)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char line[PATH_MAX + 128];
    uint64_t found = UINT64_MAX;
    while (fgets(line, sizeof(line), f)) {
        unsigned long start, end, off;
        if (sscanf(line, "%lx-%lx %*s %lx", &start, &end, &off) == 3 && addr >= start && addr < end &&
            strstr(line, lib_copy))
            found = off + (addr - start);
    }
    fclose(f);
    cr_assert_neq(found, UINT64_MAX, "no mapping of %s holds %#lx", lib_copy, (unsigned long)addr);
    return found;
}

static void on_change(const procsum_mismatch *m, void *userdata)
{
    seen *s = userdata;
    if (m->kind != PROCSUM_REPORT_CHANGED) {
        /* main's page, which Criterion patched, differs from the file from the start */
        if (!test_is_sandbox_patch(m))
            atomic_fetch_add(&s->findings, 1);
        return;
    }
    atomic_fetch_add(&s->any, 1);
    for (size_t i = 0; i < m->changed_pages; i++) {
        if (m->changed_page_addrs[i] == s->page) {
            atomic_store(&s->copy, (int)m->page_changes[i].copy);
            atomic_store(&s->cause, (int)m->page_changes[i].cause);
            atomic_store(&s->verdict, (int)m->page_changes[i].verdict);
            atomic_store(&s->file_status, (int)m->page_changes[i].file_status);
            atomic_fetch_add(&s->changes, 1);
        }
    }
}

static procsum_digest_cache *new_cache(unsigned period_ms)
{
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = period_ms;
    procsum_digest_cache *cache;
    cr_assert_eq(procsum_digest_cache_new(&o, &cache), 0);
    return cache;
}

/* A checker of pid sharing cache (may be NULL), driven by procsum_check_now: its own period is long. */
static procsum_checker *start_checker(pid_t pid, procsum_digest_cache *cache, seen *s)
{
    procsum_options o;
    procsum_options_init(&o);
    o.pid = pid;
    o.check_period_ms = 600000;
    o.digest_cache = cache;
    procsum_checker *c;
    int err = procsum_start(&o, on_change, s, &c);
    cr_assert_eq(err, 0, "procsum_start(pid %d): %s", (int)pid, procsum_strerror(err));
    return c;
}

/* Passes on every checker until each one's seen has `want` changes, or TRIES rounds. */
static void check_until_changes(procsum_checker **c, seen **s, size_t n, int want)
{
    for (int t = 0; t < TRIES; t++) {
        size_t reported = 0;
        for (size_t i = 0; i < n; i++) {
            if (atomic_load(&s[i]->changes) < want)
                cr_assert_geq(procsum_check_now(c[i]), 0);
            reported += atomic_load(&s[i]->changes) >= want;
        }
        if (reported == n)
            return;
        usleep(CACHE_MS * 1000 / 4);
    }
}

static void check_until_reported(procsum_checker **c, seen **s, size_t n)
{
    check_until_changes(c, s, n, 1);
}

static uintptr_t page_of(uintptr_t addr)
{
    return addr & ~(uintptr_t)(PROCSUM_PAGE_SIZE - 1);
}

/* Flips one bit at offset `at` of the file at path, through its own descriptor. */
static void flip_bit(const char *path, uint64_t at, uint8_t mask)
{
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0, "open %s", path);
    uint8_t byte;
    cr_assert_eq(pread(fd, &byte, 1, (off_t)at), 1);
    byte ^= mask;
    cr_assert_eq(pwrite(fd, &byte, 1, (off_t)at), 1);
    close(fd);
}

/* Writes one bit of addr in pid's memory as a debugger would: pid gets its own copy of the page. */
static void write_private_bit(pid_t pid, uintptr_t addr)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
    flip_bit(path, addr, 0x01);
}

/* Writes one bit of the library's file at off: its page-cache page changes in every process mapping it. */
static void write_file_bit(uint64_t off)
{
    flip_bit(lib_copy, off, 0x10);
}

Test(share, page_cache_change_reported_for_every_process)
{
    copy_library();
    child a = start_child(), b = start_child();
    procsum_digest_cache *cache = new_cache(CACHE_MS);
    seen sa = {.page = page_of(a.func)}, sb = {.page = page_of(b.func)};
    procsum_checker *c[2] = {start_checker(a.pid, cache, &sa), start_checker(b.pid, cache, &sb)};
    seen *s[2] = {&sa, &sb};
    /* Both hold the library's page now; the second took the first one's digests. */
    procsum_stats st;
    cr_assert_eq(procsum_get_stats(c[1], &st), 0);
    cr_expect_gt(st.pages_shared, 0, "the second process's pages came from the cache");

    /* The file written in place: its cached page, which both processes map, changes. */
    uint64_t off = file_offset_in(a.pid, a.func);
    cr_assert_eq(off, file_offset_in(b.pid, b.func));
    write_file_bit(off);

    check_until_reported(c, s, 2);
    cr_expect_eq(atomic_load(&sa.changes), 1, "the first process's checker reports its page once");
    cr_expect_eq(atomic_load(&sb.changes), 1, "the second process's checker reports its page once");
    cr_expect_eq(atomic_load(&sa.copy), PROCSUM_COPY_SHARED, "the first saw the page-cache copy");
    cr_expect_eq(atomic_load(&sb.copy), PROCSUM_COPY_SHARED, "the second saw the page-cache copy");
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(atomic_load(&s[i]->any), 1, "process %d: that page's report is its only one", i);
        cr_expect_eq(atomic_load(&s[i]->cause), PROCSUM_CAUSE_FILE_MODIFIED, "process %d: cause %s", i,
                     procsum_cause_name((procsum_cause)atomic_load(&s[i]->cause)));
        cr_expect_eq(atomic_load(&s[i]->file_status), PROCSUM_FILE_MODIFIED, "process %d: file %s", i,
                     procsum_file_status_name((procsum_file_status)atomic_load(&s[i]->file_status)));
        cr_expect_eq(atomic_load(&s[i]->findings), 0);
        cr_assert_eq(procsum_stop(c[i]), 0);
    }
    procsum_digest_cache_free(cache);
    end_child(&a);
    end_child(&b);
    remove_library();
}

Test(share, private_copy_change_reported_for_its_process_only)
{
    copy_library();
    child a = start_child(), b = start_child();
    procsum_digest_cache *cache = new_cache(CACHE_MS);
    seen sa = {.page = page_of(a.func)}, sb = {.page = page_of(b.func)};
    procsum_checker *ca = start_checker(a.pid, cache, &sa), *cb = start_checker(b.pid, cache, &sb);

    /* One bit written as a debugger would: a gets its own copy of the page, b keeps the cache's. */
    write_private_bit(a.pid, a.func);

    procsum_checker *c[1] = {ca};
    seen *s[1] = {&sa};
    check_until_reported(c, s, 1);
    cr_expect_eq(atomic_load(&sa.changes), 1, "the written process's checker reports its page");
    cr_expect_eq(atomic_load(&sa.copy), PROCSUM_COPY_PRIVATE, "as its private copy");
    /* b's checker looks again after the cache's digests from before the write are all stale. */
    for (int t = 0; t < 3; t++) {
        usleep(CACHE_MS * 1000 * 3 / 2);
        cr_assert_geq(procsum_check_now(cb), 0);
        cr_assert_geq(procsum_check_now(ca), 0);
    }
    cr_expect_eq(atomic_load(&sb.changes), 0, "the other process's page did not change: no report");
    cr_expect_eq(atomic_load(&sa.changes), 1, "and the written one is reported once");
    cr_expect_eq(atomic_load(&sa.any), 1, "the written process: no report of another page");
    cr_expect_eq(atomic_load(&sb.any), 0, "the other process: no report at all");
    cr_expect_eq(atomic_load(&sa.cause), PROCSUM_CAUSE_WRITE, "cause %s",
                 procsum_cause_name((procsum_cause)atomic_load(&sa.cause)));
    cr_expect_eq(atomic_load(&sa.verdict), PROCSUM_VERDICT_BITFLIP, "verdict %s",
                 procsum_verdict_name((procsum_verdict)atomic_load(&sa.verdict)));
    cr_expect_eq(atomic_load(&sa.file_status), PROCSUM_FILE_COMPARED);
    cr_expect_eq(atomic_load(&sa.findings) + atomic_load(&sb.findings), 0);
    cr_assert_eq(procsum_stop(ca), 0);
    cr_assert_eq(procsum_stop(cb), 0);
    procsum_digest_cache_free(cache);
    end_child(&a);
    end_child(&b);
    remove_library();
}

/* One procsum_check_now on each of n checkers. */
static void pass_all(procsum_checker **c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert_geq(procsum_check_now(c[i]), 0);
}

/* n children, each with a checker sharing cache, each reporting the page of its library's function to sn[i]. */
static void start_watched(child *ch, seen *sn, seen **s, procsum_checker **c, int n, procsum_digest_cache *cache)
{
    for (int i = 0; i < n; i++) {
        ch[i] = start_child();
        memset(&sn[i], 0, sizeof(sn[i]));
        sn[i].page = page_of(ch[i].func);
        s[i] = &sn[i];
        c[i] = start_checker(ch[i].pid, cache, &sn[i]);
    }
}

#define IDLE 4

Test(share, idle_processes_keep_every_report)
{
    copy_library();
    child ch[IDLE];
    seen sn[IDLE];
    procsum_checker *c[IDLE];
    seen *s[IDLE];
    procsum_digest_cache *cache = new_cache(CACHE_MS);
    start_watched(ch, sn, s, c, IDLE, cache);
    /* Passes enough for the idle processes' lists of mappings to stand, within one period of the cache. */
    for (int round = 0; round < 4; round++)
        pass_all(c, IDLE);
    procsum_stats st;
    cr_assert_eq(procsum_get_stats(c[IDLE - 1], &st), 0);
    cr_expect_gt(st.pages_shared, 0, "the last process's pages came from the cache");

    /* A private copy in one of them: reported for that one only. */
    write_private_bit(ch[1].pid, ch[1].func);
    check_until_reported(&c[1], &s[1], 1);
    cr_expect_eq(atomic_load(&sn[1].changes), 1, "the written process's checker reports its page");
    cr_expect_eq(atomic_load(&sn[1].copy), PROCSUM_COPY_PRIVATE, "as its private copy");
    for (int t = 0; t < 3; t++) {
        usleep(CACHE_MS * 1000 * 3 / 2);
        pass_all(c, IDLE);
    }
    for (int i = 0; i < IDLE; i++)
        cr_expect_eq(atomic_load(&sn[i].any), i == 1, "process %d: %d reports of a change", i,
                     atomic_load(&sn[i].any));

    /* The page-cache page changed: reported for every one of them, the one with its own copy apart. */
    write_file_bit(file_offset_in(ch[0].pid, ch[0].func));
    seen *others[IDLE - 1] = {&sn[0], &sn[2], &sn[3]};
    procsum_checker *others_c[IDLE - 1] = {c[0], c[2], c[3]};
    check_until_reported(others_c, others, IDLE - 1);
    for (int i = 0; i < IDLE; i++) {
        cr_expect_eq(atomic_load(&sn[i].changes), 1, "process %d: its page reported once", i);
        if (i != 1)
            cr_expect_eq(atomic_load(&sn[i].copy), PROCSUM_COPY_SHARED, "process %d saw the page-cache copy", i);
    }

    /* A library loaded by one of them after a few quiet passes: read at its next pass. */
    pass_all(c, IDLE);
    pass_all(c, IDLE);
    cr_assert_eq(procsum_get_stats(c[2], &st), 0);
    uint64_t regions = st.regions;
    cr_assert_eq(write(ch[2].command, "l", 1), 1);
    uintptr_t loaded = 0;
    cr_assert_eq(read(ch[2].reply, &loaded, sizeof(loaded)), (ssize_t)sizeof(loaded));
    cr_assert_neq(loaded, 0, "the child loaded %s", OTHER_LIBRARY);
    cr_assert_geq(procsum_check_now(c[2]), 0);
    cr_assert_eq(procsum_get_stats(c[2], &st), 0);
    cr_expect_gt(st.regions, regions, "the new library's code is read: %llu regions, %llu before",
                 (unsigned long long)st.regions, (unsigned long long)regions);
    for (int i = 0; i < IDLE; i++) {
        cr_assert_eq(procsum_stop(c[i]), 0);
        end_child(&ch[i]);
    }
    procsum_digest_cache_free(cache);
    remove_library();
}

static uint64_t quiet_passes_of(procsum_checker *c)
{
    procsum_stats st;
    cr_assert_eq(procsum_get_stats(c, &st), 0);
    return st.quiet_passes;
}

/* Passes on every checker, half a period of the cache apart, until each made `more` quiet passes, or TRIES rounds. */
static void pass_until_quiet(procsum_checker **c, size_t n, uint64_t more)
{
    uint64_t from[IDLE];
    cr_assert_leq(n, IDLE);
    for (size_t i = 0; i < n; i++)
        from[i] = quiet_passes_of(c[i]);
    for (int t = 0; t < TRIES; t++) {
        size_t done = 0;
        for (size_t i = 0; i < n; i++)
            done += quiet_passes_of(c[i]) >= from[i] + more;
        if (done == n)
            return;
        usleep(CACHE_MS * 1000 / 2);
        pass_all(c, n);
    }
    for (size_t i = 0; i < n; i++)
        cr_assert_geq(quiet_passes_of(c[i]), from[i] + more, "checker %zu: %llu quiet passes, %llu before", i,
                      (unsigned long long)quiet_passes_of(c[i]), (unsigned long long)from[i]);
}

#define QUIET 3

Test(share, quiet_passes_find_every_change)
{
    copy_library();
    child ch[QUIET];
    seen sn[QUIET];
    procsum_checker *c[QUIET];
    seen *s[QUIET];
    procsum_digest_cache *cache = new_cache(CACHE_MS);
    start_watched(ch, sn, s, c, QUIET, cache);
    /* Idle: their page tables stay as the last whole pass left them. */
    pass_until_quiet(c, QUIET, 3);

    /* A bit written as a debugger would: the page becomes the process's own, a whole pass reports it. */
    write_private_bit(ch[0].pid, ch[0].func);
    check_until_reported(&c[0], &s[0], 1);
    cr_expect_eq(atomic_load(&sn[0].changes), 1, "the first write is reported");
    cr_expect_eq(atomic_load(&sn[0].copy), PROCSUM_COPY_PRIVATE, "in the process's own copy");

    /* Quiet again with its own copy; a second write there moves nothing in its page table. */
    pass_until_quiet(c, 1, 2);
    char mem[64];
    snprintf(mem, sizeof(mem), "/proc/%d/mem", (int)ch[0].pid);
    flip_bit(mem, ch[0].func + 1, 0x02);
    check_until_changes(&c[0], &s[0], 1, 2);
    cr_expect_eq(atomic_load(&sn[0].changes), 2, "the second write into the private copy is reported");
    cr_expect_eq(atomic_load(&sn[0].copy), PROCSUM_COPY_PRIVATE);
    /* The bytes of a report are told against the file: two bytes differ from it now. */
    cr_expect_eq(atomic_load(&sn[0].verdict), PROCSUM_VERDICT_PATCH, "verdict %s",
                 procsum_verdict_name((procsum_verdict)atomic_load(&sn[0].verdict)));

    /* The others are quiet; the page-cache page they both map changes: each reports it. */
    pass_until_quiet(&c[1], QUIET - 1, 2);
    write_file_bit(file_offset_in(ch[1].pid, ch[1].func));
    check_until_reported(&c[1], &s[1], QUIET - 1);
    for (int i = 1; i < QUIET; i++) {
        cr_expect_eq(atomic_load(&sn[i].changes), 1, "process %d: the page-cache page's change reported", i);
        cr_expect_eq(atomic_load(&sn[i].copy), PROCSUM_COPY_SHARED, "process %d: in the page-cache copy", i);
        cr_expect_eq(atomic_load(&sn[i].cause), PROCSUM_CAUSE_FILE_MODIFIED, "process %d: cause %s", i,
                     procsum_cause_name((procsum_cause)atomic_load(&sn[i].cause)));
    }
    /* Quiet again after it, and the process with its own copy never saw the file's change. */
    pass_until_quiet(c, QUIET, 2);
    for (int i = 0; i < QUIET; i++) {
        cr_expect_eq(atomic_load(&sn[i].any), i == 0 ? 2 : 1, "process %d: %d reports", i,
                     atomic_load(&sn[i].any));
        cr_expect_eq(atomic_load(&sn[i].findings), 0);
        cr_assert_eq(procsum_stop(c[i]), 0);
        end_child(&ch[i]);
    }
    procsum_digest_cache_free(cache);
    remove_library();
}

/* Bytes hashed by one procsum_check_now on each of n checkers. */
static uint64_t one_pass_bytes(procsum_checker **c, size_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        procsum_stats before, after;
        cr_assert_eq(procsum_get_stats(c[i], &before), 0);
        cr_assert_geq(procsum_check_now(c[i]), 0);
        cr_assert_eq(procsum_get_stats(c[i], &after), 0);
        total += after.bytes_hashed - before.bytes_hashed;
    }
    return total;
}

Test(share, identical_processes_hash_their_shared_pages_once)
{
    copy_library();
    child ch[MAX_CHILDREN];
    for (int i = 0; i < MAX_CHILDREN; i++)
        ch[i] = start_child();
    seen quiet[MAX_CHILDREN + 1];
    memset(quiet, 0, sizeof(quiet));

    /* One process alone, without a cache: what a pass over one of them hashes. */
    procsum_checker *alone = start_checker(ch[0].pid, NULL, &quiet[MAX_CHILDREN]);
    uint64_t one = one_pass_bytes(&alone, 1);
    cr_assert_eq(procsum_stop(alone), 0);
    cr_assert_gt(one, 0);

    /* All of them sharing a cache whose digests stay fresh for the whole test. */
    procsum_digest_cache *cache = new_cache(60000);
    procsum_checker *c[MAX_CHILDREN];
    for (int i = 0; i < MAX_CHILDREN; i++)
        c[i] = start_checker(ch[i].pid, cache, &quiet[i]);
    uint64_t shared = one_pass_bytes(c, MAX_CHILDREN);
    cr_log_info("one process: %llu bytes a pass; %d sharing a cache: %llu bytes in all",
                (unsigned long long)one, MAX_CHILDREN, (unsigned long long)shared);
    cr_expect_lt(shared, 2 * one, "%d identical processes hash %llu bytes, not far below %d times one (%llu)",
                 MAX_CHILDREN, (unsigned long long)shared, MAX_CHILDREN, (unsigned long long)one);
    for (int i = 0; i < MAX_CHILDREN; i++) {
        procsum_stats st;
        cr_assert_eq(procsum_get_stats(c[i], &st), 0);
        cr_expect_gt(st.pages_shared, 0, "checker %d took pages from the cache", i);
        cr_expect_eq(atomic_load(&quiet[i].any), 0, "nothing changed: no report of a change");
        cr_assert_eq(procsum_stop(c[i]), 0);
    }
    procsum_digest_cache_free(cache);
    for (int i = 0; i < MAX_CHILDREN; i++)
        end_child(&ch[i]);
    remove_library();
}

Test(share, cache_must_fit_the_checker)
{
    procsum_options o;
    procsum_options_init(&o);
    procsum_digest_cache *cache;
    cr_assert_eq(procsum_digest_cache_new(NULL, &cache), PROCSUM_EINVAL);
    cr_assert_eq(procsum_digest_cache_new(&o, NULL), PROCSUM_EINVAL);
    cr_assert_eq(procsum_digest_cache_new(&o, &cache), 0);
    o.digest_cache = cache;
    o.pid = (long)getpid();
    o.algorithm = PROCSUM_ALGO_XXH3;
    procsum_checker *c = NULL;
    cr_expect_eq(procsum_start(&o, NULL, NULL, &c), PROCSUM_EINVAL, "another algorithm than the cache's");
    o.algorithm = PROCSUM_ALGO_BLAKE3;
    o.keyed_digests = true;
    cr_expect_eq(procsum_start(&o, NULL, NULL, &c), PROCSUM_EINVAL, "keyed, the cache not");
    procsum_digest_cache_free(cache);
    procsum_digest_cache_free(NULL);
}
