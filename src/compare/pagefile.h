/*
 * The file behind a page: read the page as the file holds it, describe how
 * memory differs from it, and write it back (repair).
 */
#ifndef PSUM_PAGEFILE_H
#define PSUM_PAGEFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "os/os.h"
#include "procsum.h"

/* The last file opened, kept while pages of the same file follow each other. */
typedef struct psum_file_cache {
    psum_os_file *file;
    uint64_t dev, ino;
    int open_err;   /* of the last open of dev/ino; 0 when file is open */
    bool tried;
    uint8_t page[PROCSUM_PAGE_SIZE]; /* the file's bytes for the last page read */
} psum_file_cache;

void psum_file_cache_close(psum_file_cache *fc);

/* Reads into fc->page what the file of r holds for the page at addr. */
procsum_file_status psum_file_page(psum_file_cache *fc, const psum_os_region *r, uintptr_t addr);

/*
 * Describes the page at addr of r, whose bytes in memory are `bytes`,
 * against its file. Leaves the file's bytes in fc->page when out->file_status
 * is PROCSUM_FILE_COMPARED.
 */
void psum_describe_page(psum_file_cache *fc, const psum_os_region *r, uintptr_t addr, const uint8_t *bytes,
                        procsum_page_change *out);

#endif
