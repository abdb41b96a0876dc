/*
 * One pass over a process, and the baselines it builds: what the rest of
 * src/ sees of src/pass/. The files inside share walk.h besides.
 *
 * Page-keyed baselines. A snapshot holds one digest per page, keyed by the
 * page's address and by what backs it (device, inode and file offset), so
 * that a region splitting or merging under us (an mprotect of one page, the
 * kernel merging neighbours back) never loses a baseline.
 */
#ifndef PSUM_PASS_H
#define PSUM_PASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest/digest.h"
#include "os/os.h"
#include "compare/pagefile.h"
#include "digestcache.h"
#include "procsum.h"

/*
 * 72 bytes a page: the one table that grows with the process's code, so it
 * is kept small. The backing file is an index into the snapshot's table of
 * files rather than its device and inode.
 */
typedef struct psum_page_baseline {
    uintptr_t addr;
    int64_t time_ns;         /* wall clock of the last pass that saw this content */
    uint32_t file;           /* what backs the page: index in psum_snapshot.files; 0 for anonymous memory */
    uint32_t file_page;      /* its offset in that file, in pages (modulo 16 TiB) */
    uint32_t index;          /* position in the region it was hashed in */
    uint32_t suspect_index;  /* SUSPECT: where the differing content was hashed */
    uint32_t suspect_tag;    /* SUSPECT: first bytes of its digest */
    uint8_t state;           /* a psum_page_state */
    uint8_t flags;           /* psum_page_flag bits */
    uint8_t digest[PROCSUM_MAX_DIGEST];
} psum_page_baseline;

_Static_assert(sizeof(psum_page_baseline) <= 72, "a page's baseline stays within 72 bytes");

enum psum_page_flag {
    /*
     * The baseline is content that was reported (a change, or a first look
     * that differed from the file): not the file's. Such a page that leaves
     * memory comes back as the file's page (a private copy dropped, a
     * uprobe removed) unless it is swapped: with verify_file its baseline
     * is then only PSUM_PAGE_GONE's, so that what comes back is compared
     * with the file rather than with content the process no longer has (the
     * same probe put back would otherwise match it and go unseen). A
     * restore (the file's bytes again) clears it.
     */
    PSUM_PAGE_REPORTED = 1u << 0,
    /*
     * A reported page that left memory, its baseline kept only to say that:
     * back as the file's page, it is a restore to report (or the change
     * would stand in the reports for good); back as other content, it is
     * compared with the file as a new page.
     */
    PSUM_PAGE_GONE = 1u << 1,
};

/*
 * Every change is seen twice before it is reported: read twice at once,
 * its mapping listed the same around the second read, or (where that
 * cannot vouch for it: a mapping that moved, anonymous code known by its
 * address only) by two passes. The region list is read before the pages,
 * so a range unmapped and mapped again in between (a JIT recycling its code
 * area, a loader relocating a new object) can be caught half made.
 */
typedef enum psum_page_state {
    PSUM_PAGE_TENTATIVE = 0, /* appeared after the first pass; settles when two reads agree */
    PSUM_PAGE_SETTLED = 1,   /* its digest is the content to defend */
    PSUM_PAGE_SUSPECT = 2    /* settled, but the last read differed: reported if the next agrees */
} psum_page_state;

typedef struct psum_region_baseline {
    uintptr_t start, end;
    uint64_t dev, ino, file_offset;
    int64_t time_ns;
    bool defended; /* digest is of content whose every page was settled or suspect-held */
    bool complete; /* every page was read, so digest is the region's */
    uint8_t digest[PROCSUM_MAX_DIGEST];
} psum_region_baseline;

/* A file that backed a page: device and inode. Entry 0 stands for anonymous memory. */
typedef struct psum_file_id {
    uint64_t dev, ino;
    /* Its size and change times when its pages got their baselines: a file written since is not their reference. */
    bool state_known;
    psum_os_file_state state;
} psum_file_id;

/* One question about residency a pass asked: pages from base, their entries from `first` in the snapshot's entries. */
typedef struct psum_quiet_ask {
    uintptr_t base;
    size_t count, first;
} psum_quiet_ask;

typedef struct psum_snapshot {
    psum_page_baseline *pages; /* ascending addresses */
    size_t page_count, page_cap;
    psum_region_baseline *regions; /* ascending addresses */
    size_t region_count, region_cap;
    /* Every file that backed a page so far: each snapshot starts from its predecessor's, so indexes hold. */
    psum_file_id *files;
    size_t file_count, file_cap;
    /*
     * What a quiet pass (quiet.c) needs to stand in for a whole one: the
     * residency questions the pass asked, in order, and the page-table
     * entries they were answered with (packed: present, page-cache page,
     * frame); a fingerprint of the regions the pass read; whether every
     * page it kept is settled (nothing held, pending or gone).
     */
    psum_quiet_ask *asks;
    size_t ask_count, ask_cap;
    uint64_t *entries;
    size_t entry_count, entry_cap;
    uint64_t regions_read;
    bool quiet;
} psum_snapshot;

void psum_snapshot_free(psum_snapshot *s);

/* Pages of one region found changed (or differing from their file), in ascending order. */
typedef struct psum_findings {
    uintptr_t *addrs;
    procsum_page_change *pages;
    size_t count, cap;
    uint8_t first_old[PROCSUM_MAX_DIGEST], first_new[PROCSUM_MAX_DIGEST]; /* digests of the first page */
    int64_t first_old_time;
} psum_findings;

/* Empties a list of findings, freeing the strings its pages hold; keeps its arrays. */
void psum_findings_clear(psum_findings *f);

/* One change found in a region, handed to the reporter while the pass goes on. */
typedef struct psum_change {
    const psum_os_region *region;
    procsum_report_kind kind;
    const uintptr_t *pages; /* changed page addresses, ascending */
    const procsum_page_change *page_changes;
    size_t page_count;
    const uint8_t *old_digest, *new_digest;
    const uint8_t *region_digest; /* the region's current digest */
    bool digest_is_page;
    int64_t old_time_ns;
} psum_change;

typedef void (*psum_change_fn)(const psum_change *ch, void *userdata);

/*
 * Called between slices of work: returns 0 to go on, or a code to end the
 * pass with (PROCSUM_ECANCELED for a stop). Pacing sleeps here.
 */
typedef int (*psum_slice_hook)(void *ctx);

/*
 * State reused by every pass of one checker: the read buffer and scratch
 * space, all in one mapping made by psum_pass_init (os.h: psum_os_map), at
 * the largest size a pass may need, so that no pass allocates them.
 */
typedef struct psum_pass {
    procsum_options opts;
    psum_digest_key key;    /* used when opts.keyed_digests */
    procsum_algorithm algo;
    size_t digest_len;
    psum_os_target *target;
    psum_slice_hook hook;   /* may be NULL */
    void *hook_ctx;
    uint8_t *buf;           /* slice_pages pages */
    uint8_t *page_digests;  /* slice_pages digests */
    uint8_t *confirm_page;  /* one page: a changed page read again to confirm it at once */
    void *scratch;          /* the one mapping the buffers below are carved from */
    size_t scratch_bytes;
    bool *resident;         /* resident_cap flags: residency of the pages from resident_base */
    size_t resident_cap;    /* PSUM_RESIDENCY_PAGES */
    uintptr_t resident_base;
    size_t resident_count;  /* flags valid in resident[]; 0 at the start of each pass */
    const bool *slice_resident; /* the current slice's flags, inside resident[] */
    size_t slice_pages;
    psum_findings changes;      /* of the region being hashed */
    psum_findings file_findings;
    psum_file_cache *files;
    bool verify_new_pages;  /* compare pages that get a baseline with their file (verify_file) */
    bool note_file_state;   /* note each file's size and times when it first backs a page (for reports) */
    uint64_t bytes_read;    /* added to by every pass */
    uint64_t pages_skipped; /* not in memory, in the last pass */
    uint64_t pages_held;    /* differing from a settled baseline, waiting for a second look */
    uint32_t *prune_index;  /* scratch of psum_table_prune_files (a mapped table) */
    size_t prune_cap;
    /*
     * opts.digest_cache, when the platform tells page-cache pages apart:
     * then for each page from resident_base whether it is one (cached) and
     * its frame; for each page of the slice its entry in the cache and
     * whether it is read (want: resident and not found in the cache); a
     * page to read alone (fetch_page) when a digest from the cache is not
     * enough.
     */
    procsum_digest_cache *shared;
    bool *cached;
    uint64_t *frames;
    psum_digestcache_entry *entries;
    bool *want;
    uint8_t *fetch_page;
    uint64_t pages_shared; /* digests taken from the cache in the last pass */
    /*
     * Quiet passes (quiet.c) may stand in for whole ones: set by the
     * checker of another process with a digest cache. `recording` is the
     * snapshot a whole pass builds, while it notes its residency questions;
     * record_failed and pages_unquiet tell whether it may then be quiet.
     */
    bool quiet_passes;
    psum_snapshot *recording;
    bool record_failed;
    uint64_t pages_unquiet;
    /*
     * For each block of the digest cache a quiet pass compares, in the
     * order it meets them, the block's stamp when this process's pages in
     * it last matched their baselines (0: unknown). Forgotten by every whole pass.
     */
    uint64_t *quiet_stamps;
    size_t quiet_stamp_count, quiet_stamp_cap;
    /*
     * A page table that moved costs its read twice (the quiet pass's, then
     * the whole one's): after such misses in a row (up to 3), that many
     * doublings of passes go whole without asking, for a busy process.
     */
    unsigned quiet_misses, quiet_skip;
} psum_pass;

/* Bytes held in tables by s and by the page table of spare (may be NULL): what procsum keeps for baselines. */
uint64_t psum_table_bytes(const psum_snapshot *s, const psum_snapshot *spare);

int psum_pass_init(psum_pass *p, const procsum_options *o, psum_os_target *target, psum_slice_hook hook,
                   void *hook_ctx);
void psum_pass_free(psum_pass *p);
/*
 * Unmaps what is mapped (the scratch buffers and tables) and wipes the
 * key, and leaves what came from the program's allocator (the file cache,
 * the lists of findings): all a forked child may free while another thread
 * of the parent may have left the allocator locked.
 */
void psum_pass_abandon(psum_pass *p);

/* Whether the options ask for r: readable and executable, rwx only if asked, main executable only with skip_libs. */
bool psum_region_selected(const psum_os_region *r, const procsum_options *o);
/*
 * pages.c: whether the mapping that holds addr now is `listed` (same bounds,
 * protection, file and offset): nothing was unmapped and mapped there since
 * the listing. Asked of a page that differs before it is reported. Where the
 * platform cannot ask for one address but its reads vouch for their bytes
 * (psum_os_region_at's PROCSUM_ENOSYS), true; where nothing vouches
 * (PROCSUM_EAGAIN), `one_look`: verify, which has no next pass to wait for,
 * lets the second read decide; a checker waits.
 */
bool psum_pages_still_listed(psum_os_target *t, const psum_os_region *listed, uintptr_t addr, bool one_look);

/*
 * Reads and hashes every page of the selected regions of `mapped` into
 * `out` (built in the tables it holds: a zeroed snapshot, or one no longer
 * needed, whose memory is reused), comparing each with its baseline in `old` (NULL for a first pass)
 * and calling on_change for each region with changed pages. A region that
 * vanishes while it is read is dropped without a report.
 *
 * A baseline whose page was not read this pass (made writable for a moment,
 * unreadable, or outside the selection) is kept as long as the same file
 * page stays mapped at its address, so that a page patched through an
 * mprotect window is still compared with what it was before.
 *
 * Returns PROCSUM_ECANCELED when stop was set.
 */
int psum_snapshot_take(psum_pass *p, const psum_os_region_list *mapped, const psum_snapshot *old,
                       psum_snapshot *out, psum_change_fn on_change, void *userdata);

/*
 * A quiet pass over `old`, the baseline of the last pass, in place of a
 * whole one (quiet.c). When the process's page table answers every
 * residency question of the pass that built old as it did then (the same
 * pages present, the same page-cache pages, the same frames), the regions
 * selected are the ones that pass read, and old holds nothing but settled
 * pages, the only change a pass could find is in the bytes of the pages
 * present: the page-cache pages are compared through the digest cache (a
 * block of them at once while its stamp stands), each private copy read
 * and hashed, all against their baselines, with no table built. old then
 * stands as the baseline and *done is set; its pages keep the time of the
 * whole pass that took them. Anything else (a page differs, an entry moved,
 * a read fails) leaves *done false, for a whole pass to find and report
 * it. now_ns: the monotonic clock when the pass started. Returns
 * PROCSUM_ECANCELED when the hook asked to stop, else 0.
 */
int psum_snapshot_quiet(psum_pass *p, const psum_os_region_list *mapped, psum_snapshot *old, uint64_t now_ns,
                        bool *done);

#endif
