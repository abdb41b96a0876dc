/*
 * The text format: aligned columns for a person at a terminal. The source
 * of a region comes last, so that a path with spaces still leaves the other
 * columns in place, and is escaped (psum_escape_text), so that a name made
 * to move the cursor or clear the screen arrives as plain text.
 */
#include <inttypes.h>

#include "escape.h"
#include "writer.h"

static int text_begin(psum_writer *w, psum_list_kind kind, procsum_algorithm algorithm)
{
    switch (kind) {
    case PSUM_LIST_REGIONS:
        return psum_sink_printf(w->out, "%-33s %10s %-5s %-*s  %s\n", "range", "size", "kind",
                                (int)(procsum_digest_len(algorithm) * 2), procsum_algorithm_name(algorithm),
                                "source");
    case PSUM_LIST_BENCH:
        return psum_sink_printf(w->out, "%-8s %8s %12s %10s %10s %10s\n", "algo", "regions", "bytes", "scan ms",
                                "hash ms", "GB/s");
    case PSUM_LIST_VERSION: return 0;
    case PSUM_LIST_EVENTS:
        return psum_sink_printf(w->out, "%-8s %-8s %8s %-12s %s\n", "pid", "status", "pages", "event", "program");
    }
    return 0;
}

static int text_region(psum_writer *w, const procsum_region *r)
{
    size_t dlen = procsum_digest_len(w->algorithm);
    psum_sink *o = w->out;
    if (psum_sink_printf(o, "%016" PRIxPTR "-%016" PRIxPTR " %9zuK %-5s ", r->start, r->end,
                         (size_t)((r->end - r->start) / 1024),
                         r->main_executable ? "exe" : procsum_region_kind_name(r->kind)))
        return -1;
    /* Without every page read there is no digest to show. */
    int rc = r->digest_valid ? psum_sink_hex(o, r->digest, dlen) : psum_sink_printf(o, "%-*s", (int)(dlen * 2), "-");
    if (rc || psum_sink_puts(o, "  ") || psum_sink_escaped(o, psum_escape_text, r->source))
        return -1;
    return psum_sink_printf(o, "%s%s\n", r->writable ? " [rwx]" : "", r->file_deleted ? " (deleted)" : "");
}

static int text_bench(psum_writer *w, const psum_bench_row *b)
{
    return psum_sink_printf(w->out, "%-8s %8zu %12" PRIu64 " %10.3f %10.3f %10.2f\n",
                            procsum_algorithm_name(b->algorithm), b->regions, b->hashed_bytes,
                            (double)b->scan_ns / 1e6, (double)b->hash_ns / 1e6, psum_bench_gb_per_s(b));
}

static int text_version(psum_writer *w, const char *version)
{
    if (psum_sink_puts(w->out, "procsum ") || psum_sink_escaped(w->out, psum_escape_text, version))
        return -1;
    return psum_sink_puts(w->out, "\n");
}

/* Up to 16 bytes as hex, then "..." when the run is longer. */
static int text_bytes(psum_sink *o, const uint8_t *bytes, size_t len)
{
    size_t n = len < PROCSUM_RUN_BYTES ? len : PROCSUM_RUN_BYTES;
    if (psum_sink_hex(o, bytes, n))
        return -1;
    return len > n ? psum_sink_puts(o, "...") : 0;
}

/* One line under its process: what differs, where in the file, why; the file's path last. */
static int text_alert(psum_writer *w, const psum_alert *a)
{
    psum_sink *o = w->out;
    const procsum_page_change *pc = a->page;
    uint64_t offset = pc->run_count ? pc->runs[0].file_offset : pc->file_offset;
    /* '!' an alert, '-' a change of a cause allowed as state */
    if (psum_sink_printf(o, "  %c %-8ld %s page 0x%" PRIxPTR " file +0x%" PRIx64 ": %s, cause %s, %zu byte(s) %zu bit(s)",
                         a->state ? '-' : '!', a->pid, a->action, pc->addr, offset, procsum_verdict_name(pc->verdict),
                         procsum_cause_name(pc->cause), pc->changed_bytes, pc->changed_bits))
        return -1;
    if (pc->run_count) {
        const procsum_byte_run *run = &pc->runs[0];
        if (psum_sink_puts(o, ", ") || text_bytes(o, run->old_bytes, run->len) || psum_sink_puts(o, " -> ") ||
            text_bytes(o, run->new_bytes, run->len))
            return -1;
    }
    /* The function, and the instructions before and after: "in deflate+0x1c (push rbp -> int3)". */
    if (pc->symbol && (psum_sink_puts(o, " in ") || psum_sink_escaped(o, psum_escape_text, pc->symbol)))
        return -1;
    if (pc->old_insn && pc->new_insn &&
        (psum_sink_puts(o, " (") || psum_sink_escaped(o, psum_escape_text, pc->old_insn) ||
         psum_sink_puts(o, " -> ") || psum_sink_escaped(o, psum_escape_text, pc->new_insn) || psum_sink_puts(o, ")")))
        return -1;
    if (psum_sink_puts(o, "  ") || psum_sink_escaped(o, psum_escape_text, a->region->source))
        return -1;
    return psum_sink_puts(o, "\n");
}

static int text_state(psum_writer *w, const psum_state *s)
{
    psum_sink *o = w->out;
    if (psum_sink_printf(o, "%-8ld %-8s %8" PRIu64 " %-12s ", s->pid, s->status, s->pages_checked, s->action))
        return -1;
    /* The program's path; where it cannot be read, the process's name in brackets, as ps shows a name alone. */
    if (s->executable || !s->name ? psum_sink_escaped(o, psum_escape_text, s->executable ? s->executable : "-")
                                  : psum_sink_puts(o, "[") || psum_sink_escaped(o, psum_escape_text, s->name) ||
                                        psum_sink_puts(o, "]"))
        return -1;
    if (s->detail && (psum_sink_puts(o, " (") || psum_sink_escaped(o, psum_escape_text, s->detail) ||
                      psum_sink_puts(o, ")")))
        return -1;
    if (!s->detail && s->error && psum_sink_printf(o, " (%s)", procsum_strerror(s->error)))
        return -1;
    return psum_sink_puts(o, "\n");
}

static int text_summary(psum_writer *w, const psum_summary *s)
{
    return psum_sink_printf(w->out,
                            "%" PRIu64 " process(es): %" PRIu64 " changed, %" PRIu64 " not verified; %" PRIu64
                            " page(s) checked (%" PRIu64 " shared, checked once), %" PRIu64
                            " with nothing to compare with, %" PRIu64
                            " bytes hashed\n",
                            s->processes, s->changed, s->failed, s->pages_checked, s->pages_shared,
                            s->pages_unverified, s->bytes_hashed);
}

const psum_writer_ops psum_text_writer = {
    .name = "text",
    .summary = "a table for a person (the default)",
    .begin = text_begin,
    .region = text_region,
    .bench = text_bench,
    .version = text_version,
    .alert = text_alert,
    .state = text_state,
    .totals = text_summary,
};
