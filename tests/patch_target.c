/*
 * A process for tests/gdb_patch.sh to patch from outside: it starts a
 * checker, prints "ready PID ADDR" (ADDR: a function of its own nobody
 * calls), and prints one line per changed run it is told about:
 *   change VERDICT CAUSE FILE_OFFSET ADDR NEW_BYTES_HEX
 * It exits 20 passes after the first change (so that a second report would
 * be seen), or after 60 s.
 *
 * With the argument "quiet" it changes nothing, lets its checker make 50
 * passes and exits 0 only if nothing at all was reported: no change and no
 * page differing from its file (nothing patches this process, unlike a
 * Criterion test process).
 */
#define _DEFAULT_SOURCE
#include <procsum.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_int changes;

static void on_change(const procsum_mismatch *m, void *userdata)
{
    (void)userdata;
    if (m->kind != PROCSUM_REPORT_CHANGED) {
        /* Nothing patched this process before its checker started: a finding is wrong. */
        printf("finding %s %#lx %zu page(s)\n", m->region->source, (unsigned long)m->first_changed_page,
               m->changed_pages);
        fflush(stdout);
        return;
    }
    for (size_t i = 0; i < m->changed_pages; i++) {
        const procsum_page_change *pc = &m->page_changes[i];
        for (size_t r = 0; r < pc->run_count; r++) {
            const procsum_byte_run *run = &pc->runs[r];
            printf("change %s %s %#llx %#lx ", procsum_verdict_name(pc->verdict), procsum_cause_name(pc->cause),
                   (unsigned long long)run->file_offset, (unsigned long)run->addr);
            for (size_t b = 0; b < run->len && b < PROCSUM_RUN_BYTES; b++)
                printf("%02x", run->new_bytes[b]);
            printf("\n");
        }
    }
    fflush(stdout);
    atomic_fetch_add(&changes, 1);
}

int patch_me(int x);
__attribute__((noinline, used)) int patch_me(int x)
{
    return (x * 31 + 17) ^ 0x5a5a;
}

/* Lets c make 50 passes; 0 if it reported nothing at all. */
static int stay_quiet(procsum_checker *c)
{
    procsum_stats s = {0};
    for (int i = 0; i < 60000 && s.passes < 50; i++) {
        if (procsum_get_stats(c, &s) != 0)
            return 1;
        usleep(1000);
    }
    uint64_t reports = procsum_mismatch_count(c);
    printf("quiet: %llu passes, %llu reports, last error %d\n", (unsigned long long)s.passes,
           (unsigned long long)reports, s.last_error);
    return s.passes >= 50 && reports == 0 && s.last_error == 0 ? 0 : 3;
}

int main(int argc, char **argv)
{
    bool quiet = argc > 1 && strcmp(argv[1], "quiet") == 0;
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = 10;
    procsum_checker *c;
    int err = procsum_start(&o, on_change, NULL, &c);
    if (err) {
        fprintf(stderr, "patch_target: %s\n", procsum_strerror(err));
        return 1;
    }
    if (quiet) {
        int rc = stay_quiet(c);
        return procsum_stop(c) == 0 ? rc : 1;
    }
    printf("ready %ld %#lx\n", (long)getpid(), (unsigned long)(uintptr_t)&patch_me);
    fflush(stdout);
    for (int i = 0; i < 60000 && atomic_load(&changes) == 0; i++)
        usleep(1000);
    procsum_stats s = {0};
    if (atomic_load(&changes) && procsum_get_stats(c, &s) == 0) {
        uint64_t until = s.passes + 20;
        for (int i = 0; i < 60000 && s.passes < until && procsum_get_stats(c, &s) == 0; i++)
            usleep(1000);
    }
    if (procsum_stop(c) != 0)
        return 4;
    return atomic_load(&changes) ? 0 : 2;
}
