/*
 * What the files of src/pass/ share: the state of the walk over one pass,
 * and the steps each file takes in it. Nothing outside src/pass/ includes
 * this; the rest of src/ sees pass.h.
 */
#ifndef PSUM_PASS_WALK_H
#define PSUM_PASS_WALK_H

#include "pass.h"

/*
 * Residency is asked for a whole region at once, up to this many pages
 * (128 MiB of code, 32 KiB of flags): one system call per region, or per
 * 128 MiB of the rare larger one.
 */
#define PSUM_RESIDENCY_PAGES 32768

/* Pages of a slice: 256 KiB, large enough for wide hashing, small enough to stay in L2 and to honour a stop promptly. */
#define PSUM_SLICE_PAGES 64

/*
 * The state of one pass. Old pages, new pages and mappings all ascend by
 * address, so one cursor into each is enough: no lookups, no hash table.
 */
typedef struct psum_walk {
    psum_pass *p;
    const psum_os_region_list *mapped;
    const psum_snapshot *old;
    psum_snapshot *out;
    size_t old_cursor;
    size_t mapped_cursor;
    size_t mapped_file_for; /* the mapped_cursor mapped_file was found for */
    uint32_t mapped_file;
    int64_t now_ns;
    bool uprobes_mapped; /* the process has an [uprobes] area */
} psum_walk;

/* Everything the comparison of one region carries between slices. */
typedef struct psum_region_walk {
    const psum_os_region *region;
    uint32_t file;    /* the region's file: its index in the new snapshot's files */
    size_t held;      /* pages whose differing content waits for a second look */
    size_t unsettled; /* pages without a settled baseline */
    size_t repaired;  /* pages written back from their file */
    int slice_listed; /* the region still mapped as listed after the current slice's read: 1, -1, 0 not asked yet */
    uintptr_t ask_end; /* residency may be asked up to here (psum_residency_span) */
} psum_region_walk;

/* pass.c: the key to digest with, NULL unless opts.keyed_digests. */
const psum_digest_key *psum_pass_key(const psum_pass *p);

/* select.c: how many regions of mapped the options select, and how many pages they hold. */
void psum_select_size(const psum_os_region_list *mapped, const procsum_options *o, size_t *pages,
                      size_t *regions);

/*
 * table.c: makes out ready for a pass over `pages` pages in `regions`
 * regions, besides those of old it may carry, in the tables out holds
 * (a zeroed snapshot or one no longer needed); frees it on failure.
 */
int psum_table_prepare(psum_pass *p, const psum_snapshot *old, psum_snapshot *out, size_t pages, size_t regions);
/* The index of r's file in s->files; 0 for anonymous memory, UINT32_MAX for a file not in the table. */
uint32_t psum_table_find_file(const psum_snapshot *s, const psum_os_region *r);
/* The same, adding r's file if it is new. */
int psum_table_add_file(psum_snapshot *s, const psum_os_region *r, uint32_t *out);
/* old's baseline of r, if it defends exactly r (same bounds, same file at the same offset). */
const psum_region_baseline *psum_table_find_region(const psum_snapshot *old, const psum_os_region *r);
/* Drops files no page refers to any more, with p's scratch index (no allocation once it is as large). */
void psum_table_prune_files(psum_pass *p, psum_snapshot *s);

/*
 * pages.c: records `count` hashed pages from index `first` of the region
 * (their digests one after the other, their bytes from `bytes`), each
 * compared with its baseline, in the new snapshot.
 */
int psum_pages_take(psum_walk *w, psum_region_walk *rw, size_t first, size_t count, const uint8_t *digests,
                    const uint8_t *bytes);
/*
 * pages.c: records one hashed page, like psum_pages_take, with the digest
 * cache. shared: the page's entry in the cache (a page-cache page), else
 * NULL; bytes NULL when the digest came from the cache, the page then read
 * only if its bytes are needed.
 */
int psum_pages_take_shared(psum_walk *w, psum_region_walk *rw, size_t index, const uint8_t *digest,
                           const uint8_t *bytes, psum_digestcache_entry *shared);
/* pages.c: asks for the table records the next `count` pages will read and write, ahead of their hashing. */
void psum_pages_prefetch(const psum_walk *w, size_t count);
/*
 * pages.c: whether a page read unlike its baseline or its file is what the
 * process has there: the mapping at it still the one listed (where the
 * platform can say) and a second read agreeing.
 */
bool psum_pages_confirm_now(psum_walk *w, const psum_region_walk *rw, const psum_page_baseline *now);
/* Old pages below addr (all, with `all`) were not read this pass: keep those whose file page is still mapped there. */
void psum_pages_carry_below(psum_walk *w, uintptr_t addr, bool all);

/* quiet.c: notes a residency question just answered in p->resident, cached and frames, while a pass records. */
void psum_quiet_note_ask(psum_pass *p, uintptr_t base, size_t n);
/* quiet.c: a fingerprint of the regions of mapped the options select, and of how they are mapped. */
uint64_t psum_quiet_regions(const psum_os_region_list *mapped, const procsum_options *o);

/* residency.c: points p->slice_resident at the flags of the n pages from base; returns how many to read. */
size_t psum_residency_mark(psum_pass *p, uintptr_t base, size_t n, uintptr_t end);
/*
 * residency.c: how far residency may be asked from mapped->items[i]: its
 * end, or with a digest cache the end of the selected regions that follow
 * it closely, so that one question answers for a library's code and the
 * next ones'.
 */
uintptr_t psum_residency_span(const psum_pass *p, const psum_os_region_list *mapped, size_t i);

/* slices.c: hashes one region slice by slice. */
int psum_slices_take_region(psum_walk *w, psum_region_walk *rw, uint8_t *region_digest, bool *complete);

/*
 * findings.c's answer, through the slice's read, when a report would load
 * the libraries that describe it first (describe.h): the region is read
 * again once they are loaded (pass.c). It never leaves src/pass/.
 */
#define PSUM_PASS_LOAD_FIRST (-4096)

/* findings.c: a change seen twice: describe it against the file, repair it if asked. */
int psum_findings_note_change(psum_walk *w, psum_region_walk *rw, psum_page_baseline *now,
                              const psum_page_baseline *was, const uint8_t *bytes);
/*
 * A page gets its baseline: with verify_file, report it once if it already
 * differs from its file. *flags (may be NULL) gains the
 * PSUM_DIGESTCACHE_MATCHED_* bit when it was compared and matched. A page
 * that differs is confirmed first (psum_pages_confirm_now):
 * when it cannot be (its range mapped again since the listing), nothing is
 * reported and *held is set, for the page to wait for the next pass.
 */
int psum_findings_verify_new_page(psum_walk *w, psum_region_walk *rw, const psum_page_baseline *now,
                                  const uint8_t *bytes, unsigned *flags, bool *held);
/* Builds the psum_change for the findings f of one region and hands it to on_change. */
void psum_findings_report(psum_walk *w, const psum_region_walk *rw, const psum_findings *f,
                          procsum_report_kind kind, const uint8_t *region_digest, bool complete,
                          psum_change_fn on_change, void *userdata);

#endif
