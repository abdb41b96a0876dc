/* Dispatch of page and region digests to BLAKE3, CRC-64 (ISA-L) and XXH3. */
#include "digest.h"

#include <stdatomic.h>
#include <string.h>

#include "blake3_impl.h"
#include "crc64.h"
#include "xxh3_isa.h"

/*
 * XXH3 per page: the widest code the CPU and the OS run (the question
 * BLAKE3's dispatcher asks, answered once), 3-4x the baseline SSE2 on long
 * inputs. Same results on every path. The region's XXH3 over page digests
 * is short input: xxhash.h's inlined code serves it.
 */
typedef struct xxh3_path {
    psum_xxh3_fn *raw;
    psum_xxh3_secret_fn *secret;
} xxh3_path;

static const xxh3_path xxh3_base = {psum_xxh3_base, psum_xxh3_secret_base};
#if defined(PSUM_XXH3_HAVE_AVX2)
static const xxh3_path xxh3_avx2 = {psum_xxh3_avx2, psum_xxh3_secret_avx2};
#endif
#if defined(PSUM_XXH3_HAVE_AVX512)
static const xxh3_path xxh3_avx512 = {psum_xxh3_avx512, psum_xxh3_secret_avx512};
#endif

static _Atomic(const xxh3_path *) xxh3_chosen;

static const xxh3_path *xxh3_now(void)
{
    const xxh3_path *p = atomic_load_explicit(&xxh3_chosen, memory_order_relaxed);
    if (p)
        return p;
    p = &xxh3_base;
#if defined(PSUM_XXH3_HAVE_AVX2)
    if (psum_simd_path_supported(PSUM_SIMD_AVX2))
        p = &xxh3_avx2;
#endif
#if defined(PSUM_XXH3_HAVE_AVX512)
    if (psum_simd_path_supported(PSUM_SIMD_AVX512))
        p = &xxh3_avx512;
#endif
    /* Two first uses at once store the same answer. */
    atomic_store_explicit(&xxh3_chosen, p, memory_order_relaxed);
    return p;
}

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

/*
 * The AVX2 and AVX-512 XXH3 return with the upper halves of the vector
 * registers dirty, which makes later SSE code in the thread several times
 * slower: clean them before going back to any.
 */
uint64_t psum_xxh3(const void *data, size_t len)
{
    uint64_t h = xxh3_now()->raw(data, len);
    psum_simd_vzeroupper();
    return h;
}

int psum_digest_key_random(psum_digest_key *key, int (*random)(void *buf, size_t len))
{
    int err = random(key->b3_key, sizeof(key->b3_key));
    return err ? err : random(key->xxh_secret, sizeof(key->xxh_secret));
}

/*
 * Asks for the first `bytes` of the page about to be hashed while this one
 * is hashed. The hardware prefetchers stop at each 4 KiB boundary, so a
 * page hashed on its own starts cold; CRC-64 and XXH3 run near the speed of
 * memory, and without this each page waits for its first lines. CRC-64
 * (ISA-L) asks for nothing itself: the whole next page. XXH3 prefetches a
 * few hundred bytes ahead within its input, so only the first two lines of
 * the next page are asked for, which gets its own prefetch going (on
 * resident library code from cold caches, measured 7% faster than none;
 * the whole page was slower than none). Only pages of the run the caller handed
 * in (pages it has in memory) are named: a prefetch never faults a page in,
 * but it has no business elsewhere.
 */
#define CRC64_PREFETCH PROCSUM_PAGE_SIZE
#define XXH3_PREFETCH 128

static void prefetch_page(const uint8_t *page, size_t bytes)
{
    for (size_t off = 0; off < bytes; off += 64)
        __builtin_prefetch(page + off, 0, 3);
}

static uint64_t xxh3_page(const xxh3_path *x, const psum_digest_key *key, const uint8_t *page)
{
    return key ? x->secret(page, PROCSUM_PAGE_SIZE, key->xxh_secret, sizeof(key->xxh_secret))
               : x->raw(page, PROCSUM_PAGE_SIZE);
}

void psum_digest_prepare(procsum_algorithm a)
{
    if (a == PROCSUM_ALGO_CRC64)
        (void)psum_crc64_prepare();
    else if (a == PROCSUM_ALGO_XXH3)
        (void)xxh3_now();
}

void psum_region_hasher_init_keyed(psum_region_hasher *h, procsum_algorithm a, const psum_digest_key *key)
{
    memset(h, 0, sizeof(*h));
    h->algo = a;
    h->key = key;
    switch (a) {
    case PROCSUM_ALGO_BLAKE3: psum_b3_region_init(&h->u.b3, key ? key->b3_key : NULL); break;
    case PROCSUM_ALGO_CRC64: h->u.crc = 0; break;
    case PROCSUM_ALGO_XXH3:
        if (key)
            XXH3_64bits_reset_withSecret(&h->u.xxh, key->xxh_secret, sizeof(key->xxh_secret));
        else
            XXH3_64bits_reset(&h->u.xxh);
        break;
    }
}

void psum_region_hasher_init(psum_region_hasher *h, procsum_algorithm a)
{
    psum_region_hasher_init_keyed(h, a, NULL);
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
            if (i + 1 < npages)
                prefetch_page(pages + (i + 1) * PROCSUM_PAGE_SIZE, CRC64_PREFETCH);
            store_be64(page_digests + i * 8, psum_crc64(0, pages + i * PROCSUM_PAGE_SIZE, PROCSUM_PAGE_SIZE));
        }
        /* The region's CRC goes on over the page digests: one call for the batch, same value. */
        h->u.crc = psum_crc64(h->u.crc, page_digests, npages * 8);
        break;
    case PROCSUM_ALGO_XXH3: {
        const xxh3_path *x = xxh3_now();
        for (size_t i = 0; i < npages; i++) {
            if (i + 1 < npages)
                prefetch_page(pages + (i + 1) * PROCSUM_PAGE_SIZE, XXH3_PREFETCH);
            store_be64(page_digests + i * 8, xxh3_page(x, h->key, pages + i * PROCSUM_PAGE_SIZE));
        }
        psum_simd_vzeroupper(); /* once for the batch: only scalar code ran in between */
        XXH3_64bits_update(&h->u.xxh, page_digests, npages * 8);
        break;
    }
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

void psum_page_digest_at_keyed(procsum_algorithm a, const psum_digest_key *key, const uint8_t *page,
                               uint64_t page_index, uint8_t *out)
{
    switch (a) {
    case PROCSUM_ALGO_BLAKE3: psum_b3_page_cv(key ? key->b3_key : NULL, page, page_index, out); break;
    case PROCSUM_ALGO_CRC64: store_be64(out, psum_crc64(0, page, PROCSUM_PAGE_SIZE)); break;
    case PROCSUM_ALGO_XXH3:
        store_be64(out, xxh3_page(xxh3_now(), key, page));
        psum_simd_vzeroupper();
        break;
    }
}

void psum_page_digest_at(procsum_algorithm a, const uint8_t *page, uint64_t page_index, uint8_t *out)
{
    psum_page_digest_at_keyed(a, NULL, page, page_index, out);
}

void psum_pages_digest_at(procsum_algorithm a, const psum_digest_key *key, const uint8_t *pages, size_t npages,
                          uint64_t first_index, uint8_t *out)
{
    if (a == PROCSUM_ALGO_BLAKE3) {
        psum_b3_pages_cv(key ? key->b3_key : NULL, pages, npages, first_index, out);
        return;
    }
    size_t len = psum_digest_len(a);
    for (size_t i = 0; i < npages; i++) {
        if (i + 1 < npages)
            prefetch_page(pages + (i + 1) * PROCSUM_PAGE_SIZE, a == PROCSUM_ALGO_CRC64 ? CRC64_PREFETCH : XXH3_PREFETCH);
        psum_page_digest_at_keyed(a, key, pages + i * PROCSUM_PAGE_SIZE, first_index + i, out + i * len);
    }
}
