/*
 * The cause of a changed page, decided from facts the pass gathered: which
 * copy of the file page memory is, whether the file changed, what the
 * changed bytes look like, who else writes code. Pure: no system call.
 */
#ifndef PSUM_CAUSE_H
#define PSUM_CAUSE_H

#include <stdbool.h>

#include "procsum.h"

/* Where changed bytes lie in the original code's instructions. */
typedef enum psum_insn_place {
    PSUM_INSN_PLACE_UNKNOWN = 0, /* no symbol or no decoder: the boundaries are not known */
    PSUM_INSN_PLACE_START = 1,   /* each at the start of an instruction */
    PSUM_INSN_PLACE_INSIDE = 2   /* one inside an instruction */
} psum_insn_place;

typedef struct psum_cause_facts {
    procsum_copy copy;
    procsum_reference reference; /* what memory was compared with */
    bool differs;                /* memory differs from that reference */
    bool relocated;              /* the image was relocated by its loader */
    bool file_changed;           /* the file was written since the page's baseline */
    bool follows_file;           /* memory equals the file as it is now */
    bool int3_only;              /* every changed byte is an int3 (0xCC); alone in its run where int3_place is unknown */
    psum_insn_place int3_place;  /* where those int3s lie in the file's instructions */
    bool traced;                 /* a debugger is attached */
    bool uprobe_listed;          /* a uprobe is registered in this page of the file */
    bool uprobes_mapped;         /* the process has an [uprobes] area: it has hit some uprobe */
} psum_cause_facts;

/*
 * First rule that applies: relocation; the file written in place (memory
 * follows it, or is the file's cached page); a uprobe listed here; an int3
 * under a debugger (breakpoint) or, for a private copy in a process that
 * hit uprobes, an unlisted uprobe (one made with perf_event_open); any
 * other private copy (write); a page-cache copy that differs from the disk
 * (memory corruption); else unknown. Debuggers and uprobes put an int3 at
 * the start of an instruction: one inside an instruction is neither (where
 * the boundaries are unknown, an int3 is taken for one).
 */
procsum_cause psum_cause_decide(const psum_cause_facts *f);

#endif
