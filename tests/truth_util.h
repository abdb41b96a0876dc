/*
 * What the report-truth tests (test_truth.c, truth_target.c and the shell
 * drivers around it) share: where a code byte lives in its file, a log of
 * reports that a forked child can fill and its parent read, the one-line
 * text form of a report, and a throwaway ext4 file system on a loop device,
 * so that a library can sit on a disk whose blocks the test can change below
 * the page cache. Nothing here asserts: each helper returns 0, or -1 with
 * the reason in `err`, and the caller fails loudly with it.
 */
#ifndef PSUM_TRUTH_UTIL_H
#define PSUM_TRUTH_UTIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "procsum.h"

#define TRUTH_PAGE ((uintptr_t)PROCSUM_PAGE_SIZE)
#define TRUTH_ERR 512

/* The file behind a loaded code address: its path and the byte's offset in it (program headers). */
int truth_file_offset(const void *addr, uint64_t *off, char *path, size_t path_size, char err[TRUTH_ERR]);

/* One changed page of one report, as the callback saw it. */
typedef struct truth_page {
    procsum_report_kind kind;
    uintptr_t region_start, region_end;
    uint64_t region_file_offset;
    bool main_executable;
    char source[512];
    procsum_page_change change; /* copied whole but for its strings (symbol, old_insn, new_insn: NULL) */
    char symbol[128];           /* change.symbol's text, "-" when it had none */
} truth_page;

#define TRUTH_MAX_PAGES 64

/*
 * Reports of one checker. Written only by the checker's thread; `pages`
 * grows after the slot is filled, so a reader that sees n may read slots
 * below n. It may live in shared memory, for a forked child's checker to fill.
 */
typedef struct truth_log {
    atomic_int reports; /* callbacks */
    atomic_int pages;   /* pages reported (slots past TRUTH_MAX_PAGES are counted, not kept) */
    truth_page page[TRUTH_MAX_PAGES];
} truth_log;

/* A procsum_callback: userdata is the truth_log. */
void truth_record(const procsum_mismatch *m, void *userdata);
/* Pages in the log whose region is `source` (NULL: every page) and whose page is `page` (0: every page). */
int truth_log_count(const truth_log *log, const char *source, uintptr_t page);

/*
 * One line per page, then one per stored run, then the page's symbol ("-" when none):
 *   page KIND PAGE FILE_OFFSET FILE_STATUS VERDICT CAUSE COPY REFERENCE REPAIR REPAIRED
 *        CHANGED_BYTES CHANGED_BITS RUN_COUNT TOTAL_RUNS SOURCE
 *   run PAGE ADDR FILE_OFFSET LEN OLD_HEX NEW_HEX XOR_HEX
 *   symbol PAGE SYMBOL
 * Names as procsum_*_name() gives them, numbers in C syntax.
 */
void truth_print_page(FILE *out, const truth_page *p);

/* A file system image on a loop device, mounted at `mnt`; `lib` is a library copied onto it. */
typedef struct truth_disk {
    char dir[256];   /* a fresh directory holding the image and the mount point */
    char image[300]; /* the ext4 image file: unlinked once the loop device holds it */
    int direct_fd;   /* the image, open with O_DIRECT; -1 if not */
    char mnt[300];   /* where it is mounted */
    char loop[64];   /* the loop device, "" before it is attached */
    bool mounted;
} truth_disk;

/*
 * Makes a 64 MiB ext4 image under `parent` (mkfs.ext4, 4 KiB blocks),
 * attaches it to a free loop device (auto-clear), mounts it and unlinks it. Needs root,
 * /dev/loop-control and mkfs.ext4. Whatever was made stays in *d for
 * truth_disk_close, also on failure.
 */
int truth_disk_open(truth_disk *d, const char *parent, char err[TRUTH_ERR]);
/* Unmounts, detaches the loop device, removes the image: every step that open took, as far as it got. */
void truth_disk_close(truth_disk *d);
/* Where byte `off` of the file at `path` (on a mounted truth_disk) lies in the image (FIEMAP, after fsync). */
int truth_disk_image_offset(const char *path, uint64_t off, uint64_t *image_off, char err[TRUTH_ERR]);
/* XORs `mask` into the byte at `image_off` of the image, with O_DIRECT: the mounted file system's cache is not told. */
int truth_disk_flip(const truth_disk *d, uint64_t image_off, uint8_t mask, char err[TRUTH_ERR]);
/* Reads the byte at `off` of `path` with O_DIRECT (below the page cache) or through the cache. */
int truth_read_byte(const char *path, uint64_t off, bool direct, uint8_t *out, char err[TRUTH_ERR]);

/* Copies `from` to `to` (mode 0755) and fsyncs it. */
int truth_copy_file(const char *from, const char *to, char err[TRUTH_ERR]);
/* Writes `len` bytes at `off` of the file, in place (same inode), and fsyncs. */
int truth_write_in_place(const char *path, uint64_t off, const void *buf, size_t len, char err[TRUTH_ERR]);
/* XORs `mask` into the code byte at `addr` of this process: mprotect rwx, write, back to r-x. */
int truth_flip_code(uintptr_t addr, uint8_t mask, char err[TRUTH_ERR]);

/* A directory on a disk file system for images: $PSUM_TEST_TMPDIR, else /var/tmp, else /tmp. */
const char *truth_tmp_dir(void);

#endif
