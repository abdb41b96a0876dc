/* Opening the outputs a command asked for, and the fan-out writer that reaches them all. */
#include "outputs.h"

#include <errno.h>
#include <stdlib.h>
#ifndef _WIN32
#include <unistd.h>
#endif

/* Where journald listens (sd_journal_sendv sends there). */
#define PSUM_JOURNAL_SOCKET "/run/systemd/journal/socket"

#ifdef PSUM_HAVE_JOURNAL
const bool psum_outputs_have_journal = true;
#else
const bool psum_outputs_have_journal = false;
#endif

/* Each output gets the record; the result is -1 when any failed, after all had their turn. */
#define FAN_(w, call, record)                                          \
    do {                                                               \
        psum_outputs *o_ = (w)->state;                                 \
        int rc_ = 0;                                                   \
        for (size_t i_ = 0; i_ < o_->count; i_++)                      \
            rc_ |= call(&o_->each[i_], (record));                      \
        return rc_ ? -1 : 0;                                           \
    } while (0)

static int fan_begin(psum_writer *w, psum_list_kind kind, procsum_algorithm algorithm)
{
    psum_outputs *o = w->state;
    int rc = 0;
    for (size_t i = 0; i < o->count; i++)
        rc |= psum_write_begin(&o->each[i], kind, algorithm);
    return rc ? -1 : 0;
}

static int fan_region(psum_writer *w, const procsum_region *r)
{
    FAN_(w, psum_write_region, r);
}

static int fan_bench(psum_writer *w, const psum_bench_row *row)
{
    FAN_(w, psum_write_bench, row);
}

static int fan_version(psum_writer *w, const char *version)
{
    FAN_(w, psum_write_version, version);
}

static int fan_alert(psum_writer *w, const psum_alert *a)
{
    psum_outputs *o = w->state;
    psum_allowed how = psum_allow_judge(o->allow, a->region, a->page);
    if (how == PSUM_ALLOWED_SILENT)
        return 0;
    psum_alert judged = *a;
    judged.state = a->state || how == PSUM_ALLOWED_STATE;
    FAN_(w, psum_write_alert, &judged);
}

static int fan_state(psum_writer *w, const psum_state *s)
{
    FAN_(w, psum_write_state, s);
}

static int fan_totals(psum_writer *w, const psum_summary *s)
{
    FAN_(w, psum_write_summary, s);
}

static int fan_pass(psum_writer *w, const psum_pass *p)
{
    FAN_(w, psum_write_pass, p);
}

static int fan_end(psum_writer *w)
{
    psum_outputs *o = w->state;
    int rc = 0;
    for (size_t i = 0; i < o->count; i++)
        rc |= psum_write_end(&o->each[i]);
    return rc ? -1 : 0;
}

static const psum_writer_ops fan_writer = {
    .name = "fan-out",
    .summary = "every output chosen",
    .begin = fan_begin,
    .region = fan_region,
    .bench = fan_bench,
    .version = fan_version,
    .alert = fan_alert,
    .state = fan_state,
    .totals = fan_totals,
    .pass = fan_pass,
    .end = fan_end,
};

/* Adds an output writing with ops to f (NULL: the format writes elsewhere), its state `state`. */
static psum_writer *add(psum_outputs *o, const psum_writer_ops *ops, FILE *f, const char *name, void *state)
{
    size_t i = o->count++;
    psum_sink_init(&o->sinks[i], f);
    psum_writer_init(&o->each[i], ops, &o->sinks[i]);
    o->each[i].state = state;
    o->names[i] = name;
    return &o->each[i];
}

int psum_outputs_open(psum_outputs *o, const psum_output_config *cfg, FILE *std_out, const char **what)
{
    *o = (psum_outputs){0};
    psum_sink_init(&o->std_out, std_out);
    psum_writer_init(&o->fan, &fan_writer, &o->std_out);
    o->fan.state = o;
    o->allow = cfg->allow;
    if (cfg->std_format) {
        /* The same sink as the fan's: standard output is flushed, and its error kept, in one place. */
        size_t i = o->count++;
        psum_writer_init(&o->each[i], cfg->std_format, &o->std_out);
        o->names[i] = "standard output";
    }
    if (cfg->json_file) {
        /*
         * Appended: several runs (and a log shipper's rotation) share one file; each line is one write.
         * Closed on exec: the programs `procsum run` starts must not inherit a way to write reports.
         */
#ifdef _WIN32
        FILE *f = fopen(cfg->json_file, "a");
#else
        FILE *f = fopen(cfg->json_file, "ae");
#endif
        if (!f) {
            int err = errno;
            *what = cfg->json_file;
            psum_outputs_close(o, &(const char *){NULL});
            return err;
        }
        psum_writer *w = add(o, &psum_jsonl_writer, f, cfg->json_file, NULL);
        psum_sink_whole_lines(w->out);
    }
#ifdef PSUM_HAVE_JOURNAL
    if (cfg->journal) {
        /* libsystemd drops entries silently when journald is not there; asked for it, say so instead. */
        if (access(PSUM_JOURNAL_SOCKET, F_OK) != 0) {
            int err = errno;
            *what = "the journal (" PSUM_JOURNAL_SOCKET ")";
            psum_outputs_close(o, &(const char *){NULL});
            return err;
        }
        add(o, &psum_journal_writer, NULL, "the journal", NULL);
    }
#endif
#ifndef _WIN32
    if (cfg->prometheus) {
        void *state = psum_prometheus_new(cfg->prometheus);
        if (!state) {
            *what = cfg->prometheus;
            psum_outputs_close(o, &(const char *){NULL});
            return ENOMEM;
        }
        add(o, &psum_prometheus_writer, NULL, cfg->prometheus, state);
    }
#endif
    return 0;
}

int psum_outputs_close(psum_outputs *o, const char **what)
{
    int first = 0;
    for (size_t i = 0; i < o->count; i++) {
        psum_sink *s = o->each[i].out;
        int err = s == &o->std_out ? 0 : psum_sink_close(s);
#ifndef _WIN32
        if (o->each[i].ops == &psum_prometheus_writer)
            psum_prometheus_free(o->each[i].state);
#endif
        if (err && !first) {
            first = err;
            *what = o->names[i];
        }
    }
    int err = psum_sink_close(&o->std_out);
    if (err && !first) {
        first = err;
        *what = "standard output";
    }
    o->count = 0;
    return first;
}
