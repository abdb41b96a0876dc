/*
 * Per-page and per-region digests for every algorithm, behind one interface.
 *
 * Digests are stored in a canonical byte order so that the same bytes give
 * the same digest text on every machine: BLAKE3 as its specification outputs
 * it, CRC-64 and XXH3 as big-endian integers.
 *
 * Region digests: BLAKE3's is the ordinary BLAKE3 of the region's bytes
 * (what b3sum prints); CRC-64's and XXH3's are the same algorithm over the
 * concatenated page digests.
 */
#ifndef PSUM_DIGEST_H
#define PSUM_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "blake3.h"
#include "crc64.h"
#include "procsum.h"

/* Secrets for keyed digests; a NULL key means plain, unkeyed digests. */
typedef struct psum_digest_key {
    uint8_t b3_key[PSUM_B3_KEY_LEN];
    uint8_t xxh_secret[192]; /* XXH3 takes at least 136 bytes of secret */
} psum_digest_key;

/* Draws a fresh random key. */
int psum_digest_key_random(psum_digest_key *key, int (*random)(void *buf, size_t len));

typedef struct psum_region_hasher {
    procsum_algorithm algo;
    const psum_digest_key *key; /* NULL, or lives at least as long as the hasher */
    uint64_t pages;
    union {
        psum_b3_region b3;
        uint64_t crc;    /* running CRC-64 over page digests */
        XXH3_state_t xxh; /* running XXH3 over page digests */
    } u;
} psum_region_hasher;

size_t psum_digest_len(procsum_algorithm a);
bool psum_algorithm_valid(procsum_algorithm a);

void psum_region_hasher_init(psum_region_hasher *h, procsum_algorithm a);
void psum_region_hasher_init_keyed(psum_region_hasher *h, procsum_algorithm a, const psum_digest_key *key);
/* Hashes npages whole pages; writes npages * digest_len bytes to page_digests. */
void psum_region_hasher_pages(psum_region_hasher *h, const uint8_t *pages, size_t npages,
                              uint8_t *page_digests);
void psum_region_hasher_final(const psum_region_hasher *h, uint8_t *out);

/* The digest page number page_index of a region would get, computed alone. */
void psum_page_digest_at(procsum_algorithm a, const uint8_t *page, uint64_t page_index,
                         uint8_t *out);
void psum_page_digest_at_keyed(procsum_algorithm a, const psum_digest_key *key, const uint8_t *page,
                               uint64_t page_index, uint8_t *out);
/* The same for npages consecutive pages numbered from first_index; writes npages digests. */
void psum_pages_digest_at(procsum_algorithm a, const psum_digest_key *key, const uint8_t *pages, size_t npages,
                          uint64_t first_index, uint8_t *out);

/*
 * Makes the choices a's digests depend on (which code, which library to
 * load) now, in the calling thread: where a checker is made, so that a
 * forked child's checker inherits them (lazylib.h). Digests make them on
 * first use otherwise.
 */
void psum_digest_prepare(procsum_algorithm a);

/* Raw algorithms, for tests and benchmarks. */
uint64_t psum_xxh3(const void *data, size_t len);

#endif
