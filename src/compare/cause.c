#include "cause.h"

procsum_cause psum_cause_decide(const psum_cause_facts *f)
{
    if (f->relocated)
        return PROCSUM_CAUSE_RELOCATION;
    if (f->file_changed && (f->follows_file || f->copy == PROCSUM_COPY_SHARED))
        return PROCSUM_CAUSE_FILE_MODIFIED;
    if (f->uprobe_listed)
        return PROCSUM_CAUSE_UPROBE;
    bool probe_like = f->int3_only && f->int3_place != PSUM_INSN_PLACE_INSIDE;
    if (probe_like && f->traced)
        return PROCSUM_CAUSE_BREAKPOINT;
    if (probe_like && f->uprobes_mapped && f->copy == PROCSUM_COPY_PRIVATE)
        return PROCSUM_CAUSE_UPROBE;
    if (f->copy == PROCSUM_COPY_PRIVATE)
        return PROCSUM_CAUSE_WRITE;
    if (f->copy == PROCSUM_COPY_SHARED && f->reference == PROCSUM_REFERENCE_DISK && f->differs)
        return PROCSUM_CAUSE_MEMORY_CORRUPTION;
    return PROCSUM_CAUSE_UNKNOWN;
}
