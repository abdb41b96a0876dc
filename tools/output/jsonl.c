/*
 * JSON lines: one object per record and per line, each complete in itself
 * ("record" says what it is, a region repeats its algorithm), so that a
 * reader can stream them and a line lost or cut does not spoil the others.
 * Strings are escaped by psum_escape_json; numbers that may not fit in a
 * double (addresses) are written as hex strings.
 */
#include <inttypes.h>
#include <time.h>

#include "escape.h"
#include "writer.h"

static const char *json_bool(bool b)
{
    return b ? "true" : "false";
}

/* "key":"escaped value" */
static int json_string(psum_sink *o, const char *key, const char *value)
{
    if (psum_sink_printf(o, "\"%s\":\"", key) || psum_sink_escaped(o, psum_escape_json, value))
        return -1;
    return psum_sink_puts(o, "\"");
}

static int jsonl_region(psum_writer *w, const procsum_region *r)
{
    psum_sink *o = w->out;
    if (psum_sink_puts(o, "{\"record\":\"region\",") || json_string(o, "algorithm", procsum_algorithm_name(w->algorithm)))
        return -1;
    if (psum_sink_printf(o,
                         ",\"start\":\"0x%" PRIxPTR "\",\"end\":\"0x%" PRIxPTR "\",\"size\":%zu,\"kind\":\"%s\","
                         "\"main_executable\":%s,\"writable\":%s,\"file_deleted\":%s,\"file_offset\":%" PRIu64
                         ",\"digest_valid\":%s,\"digest\":\"",
                         r->start, r->end, (size_t)(r->end - r->start), procsum_region_kind_name(r->kind),
                         json_bool(r->main_executable), json_bool(r->writable), json_bool(r->file_deleted),
                         r->file_offset, json_bool(r->digest_valid)))
        return -1;
    if (psum_sink_hex(o, r->digest, procsum_digest_len(w->algorithm)) || psum_sink_puts(o, "\",") ||
        json_string(o, "source", r->source))
        return -1;
    return psum_sink_puts(o, "}\n");
}

static int jsonl_bench(psum_writer *w, const psum_bench_row *b)
{
    psum_sink *o = w->out;
    if (psum_sink_puts(o, "{\"record\":\"bench\",") || json_string(o, "algorithm", procsum_algorithm_name(b->algorithm)))
        return -1;
    return psum_sink_printf(o,
                            ",\"regions\":%zu,\"hashed_bytes\":%" PRIu64 ",\"scan_ns\":%" PRIu64 ",\"hash_ns\":%" PRIu64
                            ",\"gb_per_s\":%.3f}\n",
                            b->regions, b->hashed_bytes, b->scan_ns, b->hash_ns, psum_bench_gb_per_s(b));
}

static int jsonl_version(psum_writer *w, const char *version)
{
    if (psum_sink_puts(w->out, "{\"record\":\"version\",") || json_string(w->out, "version", version))
        return -1;
    return psum_sink_puts(w->out, "}\n");
}

/*
 * Events: flat keys, named as the Elastic Common Schema names them where it
 * has a name ("@timestamp", "event.kind", "process.pid", "file.path"), and
 * under "procsum." for the rest.
 */

/* "@timestamp":"2024-05-01T12:00:00.123Z","host.name":"..." */
static int json_origin(psum_sink *o, const psum_event_origin *at)
{
    time_t sec = (time_t)at->sec;
    struct tm tm;
#ifdef _WIN32
    int bad = gmtime_s(&tm, &sec) != 0;
#else
    int bad = gmtime_r(&sec, &tm) == NULL;
#endif
    /* A year the format cannot hold (a clock gone wrong) is written as the epoch; past INT_MAX - 1900 it would overflow. */
    if (bad || tm.tm_year < 0 || tm.tm_year > 9999 - 1900)
        tm = (struct tm){.tm_year = 70, .tm_mday = 1};
    if (psum_sink_printf(o, "{\"@timestamp\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, at->nsec / 1000000))
        return -1;
    return json_string(o, "host.name", at->host ? at->host : "");
}

/* ,"key":"hex of n bytes" */
static int json_hex(psum_sink *o, const char *key, const uint8_t *bytes, size_t n)
{
    if (psum_sink_printf(o, ",\"%s\":\"", key) || psum_sink_hex(o, bytes, n))
        return -1;
    return psum_sink_puts(o, "\"");
}

/* ,"process.pid":N,"process.executable":"..." (the path only when known) */
static int json_process(psum_sink *o, long pid, const char *executable)
{
    if (psum_sink_printf(o, ",\"process.pid\":%ld", pid))
        return -1;
    if (!executable)
        return 0;
    return psum_sink_puts(o, ",") || json_string(o, "process.executable", executable) ? -1 : 0;
}

static int jsonl_alert(psum_writer *w, const psum_alert *a)
{
    psum_sink *o = w->out;
    const procsum_page_change *pc = a->page;
    /* The exact byte where there is one: the first changed byte's place in the file. */
    uint64_t offset = pc->run_count ? pc->runs[0].file_offset : pc->file_offset;
    if (json_origin(o, &a->at) || psum_sink_printf(o, ",\"event.kind\":\"%s\",", a->state ? "state" : "alert") ||
        json_string(o, "event.action", a->action) || json_process(o, a->pid, a->executable) ||
        psum_sink_puts(o, ",") || json_string(o, "file.path", a->region->source))
        return -1;
    if (psum_sink_printf(o,
                         ",\"procsum.page\":\"0x%" PRIxPTR "\",\"procsum.page_file_offset\":%" PRIu64
                         ",\"procsum.file_offset\":%" PRIu64 ",\"procsum.verdict\":\"%s\",\"procsum.cause\":\"%s\""
                         ",\"procsum.copy\":\"%s\",\"procsum.reference\":\"%s\",\"procsum.file_status\":\"%s\""
                         ",\"procsum.changed_bytes\":%zu,\"procsum.changed_bits\":%zu,\"procsum.runs\":%zu",
                         pc->addr, pc->file_offset, offset, procsum_verdict_name(pc->verdict),
                         procsum_cause_name(pc->cause), procsum_copy_name(pc->copy),
                         procsum_reference_name(pc->reference), procsum_file_status_name(pc->file_status),
                         pc->changed_bytes, pc->changed_bits, pc->total_runs))
        return -1;
    if (pc->run_count) {
        const procsum_byte_run *run = &pc->runs[0];
        size_t n = run->len < PROCSUM_RUN_BYTES ? run->len : PROCSUM_RUN_BYTES;
        if (json_hex(o, "procsum.old_bytes", run->old_bytes, n) || json_hex(o, "procsum.new_bytes", run->new_bytes, n) ||
            json_hex(o, "procsum.xor", run->xor_mask, n))
            return -1;
    }
    /* What the file's symbols and code say of the first run, where they say something. */
    const char *keys[3] = {"procsum.symbol", "procsum.old_insn", "procsum.new_insn"};
    const char *values[3] = {pc->symbol, pc->old_insn, pc->new_insn};
    for (int i = 0; i < 3; i++)
        if (values[i] && (psum_sink_puts(o, ",") || json_string(o, keys[i], values[i])))
            return -1;
    return psum_sink_puts(o, "}\n");
}

static int jsonl_state(psum_writer *w, const psum_state *s)
{
    psum_sink *o = w->out;
    if (json_origin(o, &s->at) || psum_sink_puts(o, ",\"event.kind\":\"state\",") ||
        json_string(o, "event.action", s->action) || json_process(o, s->pid, s->executable) ||
        (s->name && (psum_sink_puts(o, ",") || json_string(o, "process.name", s->name))) ||
        psum_sink_printf(o, ",\"procsum.status\":\"%s\",\"procsum.pages_checked\":%" PRIu64, s->status,
                         s->pages_checked))
        return -1;
    if (s->with_unverified && psum_sink_printf(o, ",\"procsum.pages_unverified\":%" PRIu64, s->pages_unverified))
        return -1;
    if ((s->error || s->detail) &&
        (psum_sink_puts(o, ",") || json_string(o, "error.message", s->detail ? s->detail : procsum_strerror(s->error))))
        return -1;
    if (s->error && (psum_sink_puts(o, ",") || json_string(o, "error.code", procsum_err_name(s->error))))
        return -1;
    return psum_sink_puts(o, "}\n");
}

static int jsonl_summary(psum_writer *w, const psum_summary *s)
{
    psum_sink *o = w->out;
    if (json_origin(o, &s->at))
        return -1;
    return psum_sink_printf(o,
                            ",\"event.kind\":\"metric\",\"event.action\":\"verify-summary\",\"procsum.processes\":%" PRIu64
                            ",\"procsum.changed\":%" PRIu64 ",\"procsum.failed\":%" PRIu64
                            ",\"procsum.pages_checked\":%" PRIu64 ",\"procsum.pages_shared\":%" PRIu64
                            ",\"procsum.pages_unverified\":%" PRIu64
                            ",\"procsum.bytes_hashed\":%" PRIu64 "}\n",
                            s->processes, s->changed, s->failed, s->pages_checked, s->pages_shared,
                            s->pages_unverified, s->bytes_hashed);
}

const psum_writer_ops psum_jsonl_writer = {
    .name = "json",
    .summary = "JSON lines: one object per record",
    .region = jsonl_region,
    .bench = jsonl_bench,
    .version = jsonl_version,
    .alert = jsonl_alert,
    .state = jsonl_state,
    .totals = jsonl_summary,
};
