/*
 * What a report says of the code around a change, besides its bytes: the
 * function holding the first changed byte ("deflate+0x1c"), the
 * instructions there before the change and after it, with the target of a
 * jump or call written over them named by what is mapped there, and
 * whether an int3 lies where an instruction of the file's code starts.
 * Only reports ask for this, never the hashing. Instruction boundaries are
 * found by decoding from the function's start, so nothing is said of code
 * no symbol covers.
 */
#ifndef PSUM_DESCRIBE_H
#define PSUM_DESCRIBE_H

#include <stdint.h>

#include "compare/cause.h"
#include "os/os.h"
#include "procsum.h"

/* The symbol tables and the decoder a checker or a verifier keeps for its reports. */
typedef struct psum_describer psum_describer;

/*
 * made_in: the process that may load the libraries that read symbols and
 * decode (lazylib.h); in any other (a forked child) they are used only if
 * they were loaded before the fork.
 */
int psum_describer_new(psum_describer **out, uint64_t made_in);
/* d may be NULL. */
void psum_describer_free(psum_describer *d);

/*
 * Whether describing a change in this process would first load the
 * libraries that read symbols and decode (the first report of the process
 * that made the checker). Not where the loader's listing is held (a pass
 * reading library code in place, os/linux/loader.c): the load takes the
 * loader's lock, which a dlclose on another thread holds while it waits
 * for the listing's. psum_describe_load loads them, outside it.
 */
bool psum_describe_would_load(uint64_t made_in);
void psum_describe_load(uint64_t made_in);

/* A page being reported, and where its bytes come from. */
typedef struct psum_code_view {
    psum_os_target *target;             /* to read memory next to the page */
    const psum_os_region *region;       /* a file mapping */
    const psum_os_region_list *mapped;  /* the target's mappings, to name jump targets; may be NULL */
    psum_os_file *file;                 /* region's file, open */
    const uint8_t *old_page, *new_page; /* the page as the file holds it, and as memory does */
} psum_code_view;

/*
 * Sets pc->symbol, pc->old_insn and pc->new_insn for pc->runs[0] (each
 * allocated, NULL when unknown or out of memory). pc->addr, file_offset
 * and runs are filled already.
 */
void psum_describe_code(psum_describer *d, const psum_code_view *v, procsum_page_change *pc);

/*
 * Where the int3s of pc (every changed byte of its runs) lie in the file's
 * code: all at instruction starts, one inside an instruction, or unknown
 * (no symbol covers one, the file is not x86 code, or the build has no
 * decoder).
 */
psum_insn_place psum_describe_int3_place(psum_describer *d, const psum_code_view *v, const procsum_page_change *pc);

/* Frees the strings psum_describe_code gave pc and sets them NULL. */
void psum_page_change_free_text(procsum_page_change *pc);

#endif
