/*
 * The one interface every command writes through, whatever the format.
 *
 * A command opens a list (begin), hands over its records one by one, and
 * closes it (end). A format is a table of callbacks (psum_writer_ops): the
 * text table and JSON lines write each record at once; a format that must
 * group its output (a Prometheus textfile: every sample of a metric
 * together) keeps the records and writes at end; one that sends each record
 * elsewhere (journald) does so in the record callback. Every callback
 * returns 0 or -1 when writing failed (the sink holds the errno); strings
 * from the process are escaped by the format (escape.h).
 */
#ifndef PSUM_OUTPUT_WRITER_H
#define PSUM_OUTPUT_WRITER_H

#include <stdint.h>

#include "procsum.h"
#include "sink.h"

/* What a list holds. */
typedef enum psum_list_kind {
    PSUM_LIST_REGIONS, /* procsum_region records, digested with one algorithm */
    PSUM_LIST_BENCH,   /* psum_bench_row records */
    PSUM_LIST_VERSION  /* one version string */
} psum_list_kind;

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
    /* The list is complete. May be NULL. */
    int (*end)(psum_writer *w);
} psum_writer_ops;

struct psum_writer {
    const psum_writer_ops *ops;
    psum_sink *out;
    psum_list_kind kind;         /* of the list open now */
    procsum_algorithm algorithm; /* of the list open now */
};

/* The formats, for --format and --help. */
extern const psum_writer_ops psum_text_writer, psum_jsonl_writer;
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
int psum_write_end(psum_writer *w);

#endif
