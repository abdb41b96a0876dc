/*
 * JSON lines: one object per record and per line, each complete in itself
 * ("record" says what it is, a region repeats its algorithm), so that a
 * reader can stream them and a line lost or cut does not spoil the others.
 * Strings are escaped by psum_escape_json; numbers that may not fit in a
 * double (addresses) are written as hex strings.
 */
#include <inttypes.h>

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

const psum_writer_ops psum_jsonl_writer = {
    .name = "json",
    .summary = "JSON lines: one object per record",
    .region = jsonl_region,
    .bench = jsonl_bench,
    .version = jsonl_version,
};
