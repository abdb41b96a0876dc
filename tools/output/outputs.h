/*
 * Every output a command writes to at once: standard output in a format,
 * a file of JSON lines, the journal, a Prometheus textfile. They are opened
 * here, from a description that the command line (or the environment)
 * fills in, and reached through one writer, a fan-out that hands each
 * record to each output in turn. A failed output keeps its error (its
 * sink); the others still get the record, and the command stops at the
 * failed write as with standard output alone. Alerts are judged here
 * first (allow.h), so that no output sees a change the configuration
 * allows.
 */
#ifndef PSUM_OUTPUT_OUTPUTS_H
#define PSUM_OUTPUT_OUTPUTS_H

#include <stdbool.h>
#include <stdio.h>

#include "allow.h"
#include "writer.h"

/* What to open. */
typedef struct psum_output_config {
    const psum_writer_ops *std_format; /* standard output's format; NULL: nothing on standard output */
    const char *json_file;             /* JSON lines appended to this file, or NULL */
    bool journal;                      /* journald */
    const char *prometheus;            /* a node_exporter textfile rewritten after each pass, or NULL */
    const psum_allow *allow;           /* changes not alerted (allow.h), or NULL; kept, not copied */
} psum_output_config;

/* --journal is possible in this build (libsystemd was found). */
extern const bool psum_outputs_have_journal;

#define PSUM_OUTPUTS_MAX 4

typedef struct psum_outputs {
    psum_writer fan; /* what a command writes through; fan.out is standard output's sink */
    psum_writer each[PSUM_OUTPUTS_MAX];
    psum_sink sinks[PSUM_OUTPUTS_MAX];
    const char *names[PSUM_OUTPUTS_MAX]; /* for a message: "standard output", the file's path, "the journal" */
    size_t count;
    psum_sink std_out;
    const psum_allow *allow;
} psum_outputs;

/*
 * Opens what cfg names, standard output being std_out. Returns 0, or an
 * errno with *what naming the output that could not be opened (nothing is
 * left open then).
 */
int psum_outputs_open(psum_outputs *o, const psum_output_config *cfg, FILE *std_out, const char **what);
/*
 * Closes every output (standard output too). Returns 0, or the first errno
 * met writing to any of them since open, with *what naming it.
 */
int psum_outputs_close(psum_outputs *o, const char **what);

#endif
