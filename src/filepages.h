/*
 * Pages of files, by device, inode and page number in the file: what a
 * verification already knows of each, so that work is done once per file
 * page for a whole run over many processes. A file's page-cache page is one
 * physical page for every process mapping that file page, so once it was
 * found equal to the disk, another process's view of it needs no reading.
 */
#ifndef PSUM_FILEPAGES_H
#define PSUM_FILEPAGES_H

#include <stddef.h>
#include <stdint.h>

#include "procsum.h"

enum {
    PSUM_FILEPAGE_DIGEST = 1u << 0,       /* digest holds the file's bytes for the page */
    PSUM_FILEPAGE_FROM_DISK = 1u << 1,    /* read below the cache was asked for it (disk, or refused: the cache) */
    PSUM_FILEPAGE_SHARED_CLEAN = 1u << 2, /* the page-cache page was read and matched the file */
};

typedef struct psum_filepage {
    uint64_t dev, ino, page;
    unsigned flags; /* PSUM_FILEPAGE_*; 0 for a free slot */
    uint8_t digest[PROCSUM_MAX_DIGEST];
} psum_filepage;

/* An open-addressing table, at most half full. */
typedef struct psum_filepages {
    psum_filepage *slots;
    size_t cap, count;
} psum_filepages;

/*
 * The entry for (dev, ino, page), added (flags 0 then marked in use) if it
 * is new. The pointer holds until the next call. PROCSUM_ENOMEM when the
 * table cannot grow.
 */
int psum_filepages_get(psum_filepages *t, uint64_t dev, uint64_t ino, uint64_t page, psum_filepage **out);
void psum_filepages_free(psum_filepages *t);

#endif
