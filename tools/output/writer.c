/* The table of formats, and the calls that reach a format through it. */
#include "writer.h"

#include <string.h>

const psum_writer_ops *const psum_writer_formats[] = {&psum_text_writer, &psum_jsonl_writer};
const size_t psum_writer_format_count = sizeof(psum_writer_formats) / sizeof(psum_writer_formats[0]);

const psum_writer_ops *psum_writer_find(const char *name)
{
    for (size_t i = 0; i < psum_writer_format_count; i++)
        if (strcmp(psum_writer_formats[i]->name, name) == 0)
            return psum_writer_formats[i];
    return NULL;
}

double psum_bench_gb_per_s(const psum_bench_row *row)
{
    return row->hash_ns ? (double)row->hashed_bytes / (double)row->hash_ns : 0.0;
}

void psum_writer_init(psum_writer *w, const psum_writer_ops *ops, psum_sink *out)
{
    *w = (psum_writer){.ops = ops, .out = out};
}

int psum_write_begin(psum_writer *w, psum_list_kind kind, procsum_algorithm algorithm)
{
    w->kind = kind;
    w->algorithm = algorithm;
    return w->ops->begin ? w->ops->begin(w, kind, algorithm) : 0;
}

/* A record a format has no callback for is left out; what was written so far still counts. */
#define PSUM_WRITE_(w, op, record) ((w)->ops->op ? (w)->ops->op((w), (record)) : (w)->out->err ? -1 : 0)

int psum_write_region(psum_writer *w, const procsum_region *r)
{
    return PSUM_WRITE_(w, region, r);
}

int psum_write_bench(psum_writer *w, const psum_bench_row *row)
{
    return PSUM_WRITE_(w, bench, row);
}

int psum_write_version(psum_writer *w, const char *version)
{
    return PSUM_WRITE_(w, version, version);
}

int psum_write_alert(psum_writer *w, const psum_alert *a)
{
    return PSUM_WRITE_(w, alert, a) || psum_sink_flush(w->out) ? -1 : 0;
}

int psum_write_state(psum_writer *w, const psum_state *s)
{
    return PSUM_WRITE_(w, state, s) || psum_sink_flush(w->out) ? -1 : 0;
}

int psum_write_summary(psum_writer *w, const psum_summary *s)
{
    return PSUM_WRITE_(w, totals, s) || psum_sink_flush(w->out) ? -1 : 0;
}

int psum_write_pass(psum_writer *w, const psum_pass *p)
{
    return PSUM_WRITE_(w, pass, p) || psum_sink_flush(w->out) ? -1 : 0;
}

int psum_write_end(psum_writer *w)
{
    if (w->ops->end && w->ops->end(w))
        return -1;
    return w->out->err ? -1 : 0;
}
