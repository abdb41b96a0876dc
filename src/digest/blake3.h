/*
 * BLAKE3, written from its specification. Two interfaces:
 *  - a streaming hasher for inputs of any length (plain and keyed mode);
 *  - a region hasher fed whole 4 KiB pages that yields, in the same pass,
 *    each page's subtree chaining value and the region's BLAKE3 digest (the
 *    value b3sum prints for the region's bytes).
 * A page's chaining value depends on its position: page i of a region covers
 * chunks 4i..4i+3, whose chunk counters enter the compression.
 */
#ifndef PSUM_BLAKE3_H
#define PSUM_BLAKE3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PSUM_B3_OUT_LEN 32
#define PSUM_B3_KEY_LEN 32
#define PSUM_B3_BLOCK_LEN 64
#define PSUM_B3_CHUNK_LEN 1024
#define PSUM_B3_PAGE_LEN 4096
/* Enough for 2^54 chunks, far beyond any address space. */
#define PSUM_B3_MAX_DEPTH 54

typedef struct psum_b3_hasher {
    uint32_t key[8];
    uint32_t cv[8];             /* chaining value of the chunk being filled */
    uint64_t chunk_counter;     /* index of that chunk */
    uint8_t block[PSUM_B3_BLOCK_LEN];
    uint8_t block_len;
    uint8_t blocks_compressed;
    uint8_t flags;              /* KEYED_HASH or 0 */
    uint8_t cv_stack_len;
    uint32_t cv_stack[PSUM_B3_MAX_DEPTH + 1][8];
} psum_b3_hasher;

void psum_b3_init(psum_b3_hasher *h);
void psum_b3_init_keyed(psum_b3_hasher *h, const uint8_t key[PSUM_B3_KEY_LEN]);
void psum_b3_update(psum_b3_hasher *h, const void *input, size_t len);
/* Does not change h: more input may follow. */
void psum_b3_final(const psum_b3_hasher *h, uint8_t out[PSUM_B3_OUT_LEN]);

/* One-shot convenience over the streaming hasher; key may be NULL. */
void psum_b3_hash(const uint8_t *key, const void *input, size_t len, uint8_t out[PSUM_B3_OUT_LEN]);

typedef struct psum_b3_region {
    uint32_t key[8];
    uint8_t flags;
    uint8_t cv_stack_len;
    uint64_t pages;                        /* pages hashed so far */
    uint32_t cv_stack[PSUM_B3_MAX_DEPTH + 1][8];
    uint32_t last_halves[2][8];            /* the last page's two half-page CVs */
} psum_b3_region;

/* key may be NULL for the unkeyed hash. */
void psum_b3_region_init(psum_b3_region *r, const uint8_t *key);
/*
 * Hashes npages consecutive pages (npages * 4096 bytes at `pages`), which
 * follow those already fed. Writes each page's 32-byte chaining value to
 * page_cvs (npages * 32 bytes).
 */
void psum_b3_region_pages(psum_b3_region *r, const uint8_t *pages, size_t npages, uint8_t *page_cvs);
/* The BLAKE3 digest of all pages fed so far; does not change r. */
void psum_b3_region_final(const psum_b3_region *r, uint8_t out[PSUM_B3_OUT_LEN]);

/*
 * The chaining value that page number page_index of a region would get,
 * computed alone: used when a region's bounds moved and a baseline must be
 * compared at its old position. key may be NULL.
 */
void psum_b3_page_cv(const uint8_t *key, const uint8_t page[PSUM_B3_PAGE_LEN], uint64_t page_index,
                     uint8_t cv[PSUM_B3_OUT_LEN]);

/*
 * The same for npages consecutive pages numbered from first_index, hashed
 * with the wide kernels: for a region read with holes in it.
 */
void psum_b3_pages_cv(const uint8_t *key, const uint8_t *pages, size_t npages, uint64_t first_index,
                      uint8_t *page_cvs);

/*
 * Instruction-set paths of the BLAKE3 kernels, narrowest first. The best one
 * the CPU and the OS support is chosen once, at first use; the environment
 * variable PROCSUM_SIMD=portable|sse41|avx2|avx512, read at that moment,
 * caps it (a path that cannot run gives the best one below it).
 */
typedef enum psum_simd_path {
    PSUM_SIMD_PORTABLE = 0,
    PSUM_SIMD_SSE41 = 1,
    PSUM_SIMD_AVX2 = 2,
    PSUM_SIMD_AVX512 = 3,
    PSUM_SIMD_PATH_COUNT
} psum_simd_path;

/* Whether this CPU has the carry-less multiply and SSE4.1 (asked once, with the paths' features). */
bool psum_cpu_has_pclmul(void);
/* "portable", "sse41", "avx2", "avx512"; "unknown" out of range. */
const char *psum_simd_path_name(psum_simd_path p);
/* Built into this library and runnable on this CPU and OS. */
bool psum_simd_path_supported(psum_simd_path p);
/* The path BLAKE3 uses now. */
psum_simd_path psum_b3_path(void);
/*
 * Switches BLAKE3 to path p (tests and benchmarks; not meant to race with
 * hashing in other threads). Returns 0, PROCSUM_EINVAL for no such path, or
 * PROCSUM_ENOSYS when p cannot run here (the path in use is then unchanged).
 */
int psum_b3_set_path(psum_simd_path p);

#endif
