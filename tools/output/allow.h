/*
 * Changes known and allowed, judged before any output sees them: a page of
 * a file named with an offset in it is not alerted at all, and a change of
 * a cause named is sent as state rather than as an alert. The command fills
 * one from its configuration file (tools/procsum/config.c); the fan-out
 * (outputs.c) applies it to every alert, and verify counts with it too, so
 * that what is written and the exit code agree.
 */
#ifndef PSUM_OUTPUT_ALLOW_H
#define PSUM_OUTPUT_ALLOW_H

#include <stddef.h>
#include <stdint.h>

#include "procsum.h"

/* One known change: the page of file `path` that holds file offset `offset`. */
typedef struct psum_allow_change {
    char *path;
    uint64_t offset;
} psum_allow_change;

typedef struct psum_allow {
    psum_allow_change *changes;
    size_t change_count;
    unsigned state_causes; /* bit 1u << cause for each cause sent as state */
} psum_allow;

/* What becomes of a changed page. */
typedef enum psum_allowed {
    PSUM_ALLOWED_NOT = 0, /* an alert */
    PSUM_ALLOWED_STATE,   /* written as a state event: its cause is one allowed */
    PSUM_ALLOWED_SILENT,  /* not written at all: a known change */
} psum_allowed;

/* The judgement on page pc of region r; a NULL allow allows nothing. */
psum_allowed psum_allow_judge(const psum_allow *a, const procsum_region *r, const procsum_page_change *pc);

#endif
