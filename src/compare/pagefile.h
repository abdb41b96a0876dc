/*
 * The file behind a page: read the page as the file holds it (below the
 * cache where memory is the cache's own page), and describe how memory
 * differs from it and why.
 */
#ifndef PSUM_PAGEFILE_H
#define PSUM_PAGEFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "describe/describe.h"
#include "os/os.h"
#include "procsum.h"

/* The last file opened, kept while pages of the same file follow each other. */
typedef struct psum_file_cache {
    psum_os_target *target; /* whose mappings the files are opened for */
    psum_describer *describer; /* symbols and decoder for reports; made at the first one */
    uint64_t made_in;          /* the process that made the checker: the only one that may load their libraries */
    psum_os_file *file;
    uint64_t dev, ino;
    int open_err;   /* of the last open of dev/ino; 0 when file is open */
    bool tried;
    procsum_reference reference;     /* where page came from */
    uint8_t page[PROCSUM_PAGE_SIZE]; /* the file's bytes for the last page read */
} psum_file_cache;

/* Closes the file; what was learnt of files for reports stays. */
void psum_file_cache_close(psum_file_cache *fc);
/* Closes the file and frees what was learnt for reports. */
void psum_file_cache_free(psum_file_cache *fc);

/*
 * Reads into fc->page what the file of r holds for the page at addr: from
 * below the cache when below_cache asks and the file system allows it,
 * else through the cache; fc->reference says which.
 */
procsum_file_status psum_file_page(psum_file_cache *fc, const psum_os_region *r, uintptr_t addr, bool below_cache);

/*
 * Whether the file opened for r is another file than the one mapped,
 * although it has its device and inode: bytes, the page-cache page mapped
 * at addr, differ from what the file holds through the cache, which is that
 * same page when the file is the one mapped. An overlayfs file copied up
 * since it was mapped (written in a container) keeps its identity, and only
 * this tells it.
 */
bool psum_file_not_mapped(psum_file_cache *fc, const psum_os_region *r, uintptr_t addr, const uint8_t *bytes);

/* The state of r's file now, if it can be opened as the file mapped. */
bool psum_file_state(psum_file_cache *fc, const psum_os_region *r, psum_os_file_state *out);

/* What the pass knows of a page besides its bytes. */
typedef struct psum_page_context {
    psum_os_target *target;
    procsum_copy copy;
    bool below_cache;          /* compare a page-cache copy with the disk below the cache */
    bool state_known;
    psum_os_file_state state;  /* the file's state when the page got its baseline */
    bool uprobes_mapped;       /* the process has an [uprobes] area */
    bool was_file;             /* the baseline was the file's bytes: compared with the file, not reported since */
    const psum_os_region_list *mapped; /* the target's mappings, to name a jump's target; may be NULL */
} psum_page_context;

/*
 * Describes the page at addr of r, whose bytes in memory are `bytes`,
 * against its file, with the cause, and the function and instructions of
 * its first run (strings the caller frees with psum_page_change_free_text).
 * Leaves the file's bytes in fc->page when out->file_status is
 * PROCSUM_FILE_COMPARED.
 */
void psum_describe_page(psum_file_cache *fc, const psum_os_region *r, uintptr_t addr, const uint8_t *bytes,
                        const psum_page_context *ctx, procsum_page_change *out);

#endif
