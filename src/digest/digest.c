/* Dispatch of page and region digests to BLAKE3, CRC-64 (ISA-L) and XXH3 (libxxhash). */
#include "digest.h"

#include <string.h>

#include "crc64.h"

/* Canonical order: most significant byte first, as xxHash prints its values. */
static void store_be64(uint8_t *out, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

bool psum_algorithm_valid(procsum_algorithm a)
{
    return a == PROCSUM_ALGO_BLAKE3 || a == PROCSUM_ALGO_CRC64 || a == PROCSUM_ALGO_XXH3;
}

size_t psum_digest_len(procsum_algorithm a)
{
    switch (a) {
    case PROCSUM_ALGO_BLAKE3: return PSUM_B3_OUT_LEN;
    case PROCSUM_ALGO_CRC64: return 8;
    case PROCSUM_ALGO_XXH3: return 8;
    }
    return 0;
}

uint64_t psum_xxh3(const void *data, size_t len)
{
    return XXH3_64bits(data, len);
}

void psum_region_hasher_init(psum_region_hasher *h, procsum_algorithm a)
{
    memset(h, 0, sizeof(*h));
    h->algo = a;
    switch (a) {
    case PROCSUM_ALGO_BLAKE3: psum_b3_region_init(&h->u.b3, NULL); break;
    case PROCSUM_ALGO_CRC64: h->u.crc = 0; break;
    case PROCSUM_ALGO_XXH3: XXH3_64bits_reset(&h->u.xxh); break;
    }
}

void psum_region_hasher_pages(psum_region_hasher *h, const uint8_t *pages, size_t npages,
                              uint8_t *page_digests)
{
    switch (h->algo) {
    case PROCSUM_ALGO_BLAKE3:
        psum_b3_region_pages(&h->u.b3, pages, npages, page_digests);
        break;
    case PROCSUM_ALGO_CRC64:
        for (size_t i = 0; i < npages; i++) {
            uint8_t *d = page_digests + i * 8;
            store_be64(d, psum_crc64(0, pages + i * PROCSUM_PAGE_SIZE, PROCSUM_PAGE_SIZE));
            h->u.crc = psum_crc64(h->u.crc, d, 8);
        }
        break;
    case PROCSUM_ALGO_XXH3:
        for (size_t i = 0; i < npages; i++) {
            uint8_t *d = page_digests + i * 8;
            store_be64(d, psum_xxh3(pages + i * PROCSUM_PAGE_SIZE, PROCSUM_PAGE_SIZE));
        }
        XXH3_64bits_update(&h->u.xxh, page_digests, npages * 8);
        break;
    }
    h->pages += npages;
}

void psum_region_hasher_final(const psum_region_hasher *h, uint8_t *out)
{
    switch (h->algo) {
    case PROCSUM_ALGO_BLAKE3: psum_b3_region_final(&h->u.b3, out); break;
    case PROCSUM_ALGO_CRC64: store_be64(out, h->u.crc); break;
    case PROCSUM_ALGO_XXH3: store_be64(out, XXH3_64bits_digest(&h->u.xxh)); break;
    }
}

void psum_page_digest_at(procsum_algorithm a, const uint8_t *page, uint64_t page_index, uint8_t *out)
{
    switch (a) {
    case PROCSUM_ALGO_BLAKE3: psum_b3_page_cv(NULL, page, page_index, out); break;
    case PROCSUM_ALGO_CRC64: store_be64(out, psum_crc64(0, page, PROCSUM_PAGE_SIZE)); break;
    case PROCSUM_ALGO_XXH3: store_be64(out, psum_xxh3(page, PROCSUM_PAGE_SIZE)); break;
    }
}
