/*
 * The one interface every command writes through, whatever the format.
 *
 * A command opens a list (begin), hands over its records one by one, and
 * closes it (end). A format is a table of callbacks (psum_writer_ops): the
 * text table and JSON lines write each record at once; a format that must
 * group its output (a Prometheus textfile: every sample of a metric
 * together) keeps the records and writes at end; one that sends each record
 * elsewhere (journald) does so in the record callback. A command that
 * writes to several outputs at once writes to a fan-out (outputs.h), which
 * hands each record to each of them. Every callback
 * returns 0 or -1 when writing failed (the sink holds the errno); strings
 * from the process are escaped by the format (escape.h).
 */
#ifndef PSUM_OUTPUT_WRITER_H
#define PSUM_OUTPUT_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "procsum.h"
#include "sink.h"

/* What a list holds. */
typedef enum psum_list_kind {
    PSUM_LIST_REGIONS, /* procsum_region records, digested with one algorithm */
    PSUM_LIST_BENCH,   /* psum_bench_row records */
    PSUM_LIST_VERSION, /* one version string */
    PSUM_LIST_EVENTS   /* what verify and watch find: psum_alert, psum_state and psum_summary records */
} psum_list_kind;

/* When an event happened, and where: every event record carries both. */
typedef struct psum_event_origin {
    int64_t sec;      /* wall clock, UTC */
    long nsec;
    const char *host; /* the host's name */
} psum_event_origin;

/* One page that differs, of one process. */
typedef struct psum_alert {
    psum_event_origin at;
    const char *action;         /* "code-changed" against a baseline, "differs-from-file" */
    long pid;
    const char *executable;     /* the process's program as /proc names it; may be NULL */
    const procsum_region *region;
    const procsum_page_change *page;
    bool state; /* its cause is one allowed (allow.h): written as a state event, not an alert */
} psum_alert;

/* How one process stands. */
typedef struct psum_state {
    psum_event_origin at;
    const char *action;     /* what happened: "verified", "watching", "new-program", "exited", ... */
    long pid;
    const char *executable; /* may be NULL */
    const char *name;       /* the process's short name (Linux: its comm, readable where exe is not); may be NULL */
    const char *status;     /* "clean", "changed" or "error" */
    int error;              /* a PROCSUM_E* code when status is "error", else 0 */
    const char *detail;     /* words more exact than the code's (which setting was refused), or NULL */
    uint64_t pages_checked;
    /* verify (with_unverified): resident pages with nothing to compare with (anonymous code, vDSO, a file unreadable) */
    bool with_unverified;
    uint64_t pages_unverified;
} psum_state;

/* The totals of a verification. */
typedef struct psum_summary {
    psum_event_origin at;
    uint64_t processes, changed, failed;
    uint64_t pages_checked, pages_shared, pages_unverified, bytes_hashed;
} psum_summary;

/*
 * Where checking stands after a pass over the processes (watch: each
 * period; verify: once, before its summary). For a format that keeps
 * metrics (Prometheus); the others ignore it.
 */
typedef struct psum_pass {
    uint64_t processes;     /* being checked now */
    uint64_t passes;        /* passes over one process's code completed since the last record, all processes */
    uint64_t quiet_passes;  /* of those, quiet ones (procsum_stats.quiet_passes) */
    uint64_t pages_checked; /* pages with a baseline or compared in each process's last pass, summed */
    uint64_t bytes_hashed;  /* bytes read and digested since the last record */
    uint64_t duration_ns;   /* how long the last pass over every process took */
} psum_pass;

/*
 * a + b, or UINT64_MAX where that would wrap: the pass counts add up figures
 * that a process of run's tree sends, and a counter must never go back
 * (Prometheus reads that as a restart).
 */
static inline uint64_t psum_pass_count_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* One benchmark pass. */
typedef struct psum_bench_row {
    procsum_algorithm algorithm;
    size_t regions;
    uint64_t hashed_bytes;
    uint64_t scan_ns, hash_ns;
} psum_bench_row;

typedef struct psum_writer psum_writer;

typedef struct psum_writer_ops {
    const char *name;    /* the value of --format */
    const char *summary; /* for --help */
    /* A list starts; `algorithm` is the one of its regions (PSUM_LIST_REGIONS). May be NULL. */
    int (*begin)(psum_writer *w, psum_list_kind kind, procsum_algorithm algorithm);
    int (*region)(psum_writer *w, const procsum_region *r);
    int (*bench)(psum_writer *w, const psum_bench_row *row);
    int (*version)(psum_writer *w, const char *version);
    int (*alert)(psum_writer *w, const psum_alert *a);
    int (*state)(psum_writer *w, const psum_state *s);
    int (*totals)(psum_writer *w, const psum_summary *s);
    int (*pass)(psum_writer *w, const psum_pass *p);
    /* The list is complete. May be NULL, as may any record callback: the format ignores those records. */
    int (*end)(psum_writer *w);
} psum_writer_ops;

struct psum_writer {
    const psum_writer_ops *ops;
    psum_sink *out;
    psum_list_kind kind;         /* of the list open now */
    procsum_algorithm algorithm; /* of the list open now */
    void *state;                 /* a format's own data (what it counts, where it writes), or NULL */
};

/* The formats, for --format and --help. */
extern const psum_writer_ops psum_text_writer, psum_jsonl_writer;
/* Outputs that are not a --format (outputs.h opens them). */
extern const psum_writer_ops psum_prometheus_writer;
/* The Prometheus writer's state, for the textfile at path (copied); NULL when out of memory. */
void *psum_prometheus_new(const char *path);
void psum_prometheus_free(void *state);
#ifdef PSUM_HAVE_JOURNAL
extern const psum_writer_ops psum_journal_writer;
#endif
extern const psum_writer_ops *const psum_writer_formats[];
extern const size_t psum_writer_format_count;
/* The format called `name`, or NULL. */
const psum_writer_ops *psum_writer_find(const char *name);

/* Throughput of a benchmark pass in GB/s (bytes per nanosecond); 0 when no time was measured. */
double psum_bench_gb_per_s(const psum_bench_row *row);

void psum_writer_init(psum_writer *w, const psum_writer_ops *ops, psum_sink *out);

/* The calls a command makes; each returns 0 or -1 (see the sink for why). */
int psum_write_begin(psum_writer *w, psum_list_kind kind, procsum_algorithm algorithm);
int psum_write_region(psum_writer *w, const procsum_region *r);
int psum_write_bench(psum_writer *w, const psum_bench_row *row);
int psum_write_version(psum_writer *w, const char *version);
/* Events are written whole and flushed at once: a reader (a log shipper) sees each line when it happens. */
int psum_write_alert(psum_writer *w, const psum_alert *a);
int psum_write_state(psum_writer *w, const psum_state *s);
int psum_write_summary(psum_writer *w, const psum_summary *s);
int psum_write_pass(psum_writer *w, const psum_pass *p);
int psum_write_end(psum_writer *w);

#endif
