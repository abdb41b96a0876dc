/*
 * One event as one whole line, for writers that share a file with other
 * processes: the preload library in every process of a program's tree, and
 * `procsum run` watching a static program. The line is built in memory and
 * handed to the system in one write(2) to a file opened O_APPEND for that
 * line alone, so lines of several processes never interleave and no
 * descriptor is held between events (a program that closes or reuses
 * descriptors cannot be disturbed, nor disturb us).
 */
#ifndef PSUM_OUTPUT_ONELINE_H
#define PSUM_OUTPUT_ONELINE_H

#include "origin.h"
#include "writer.h"

/* Where the lines go: a JSON lines file, or (path NULL) standard error. */
typedef struct psum_oneline_dest {
    const char *path;
} psum_oneline_dest;

/* Each writes one JSON line (psum_jsonl_writer's shape); 0 or an errno. */
int psum_oneline_alert(const psum_oneline_dest *d, const psum_alert *a);
int psum_oneline_state(const psum_oneline_dest *d, const psum_state *s);

#endif
