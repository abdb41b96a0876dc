/*
 * Which function of a file holds a byte: the file's symbols, asked once
 * per file and kept for the next report about it (in a bounded cache: a
 * few files, a few MiB), sorted by file offset. Only reports ask, never the
 * hashing.
 */
#ifndef PSUM_SYMBOLS_H
#define PSUM_SYMBOLS_H

#include <stdbool.h>
#include <stdint.h>

#include "os/os.h"

typedef struct psum_symbols psum_symbols;

/* The function holding a byte. */
typedef struct psum_symbol_hit {
    const char *name;     /* valid until the next call with the same cache */
    uint64_t file_offset; /* where the function starts in the file */
    uint64_t size;        /* 0: unknown */
    psum_machine machine;
} psum_symbol_hit;

/* Symbols are read with a library loaded only in made_in (describe.h). */
int psum_symbols_new(psum_symbols **out, uint64_t made_in);
/* s may be NULL. */
void psum_symbols_free(psum_symbols *s);

/*
 * The function of the open file f (device and inode dev, ino) that holds
 * the byte at file offset `off`: the symbol starting last at or before it,
 * when its size reaches the byte (a symbol of unknown size reaches to the
 * next one). false when no function holds it, or the file's symbols cannot
 * be read. The cache is keyed by dev, ino and the file's size and change
 * times, so a file written in place is read again.
 */
bool psum_symbols_find(psum_symbols *s, psum_os_file *f, uint64_t dev, uint64_t ino, uint64_t off,
                       psum_symbol_hit *hit);

#endif
