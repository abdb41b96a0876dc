/*
 * What each in-process contender runs over a span: the memory-read limit,
 * procsum's digests as a stream and as the library's page slices, XXH3's
 * SSE2 build, and the official BLAKE3 C code loaded with dlopen.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash_bench.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define SLICE_PAGES 64 /* as src/pass/pass.c: 256 KiB per call */

official officials[2];

static volatile uint64_t sink;

/* The limit: every byte loaded once, nothing else. */
#if defined(__x86_64__)
__attribute__((target("avx2"))) static uint64_t memread_avx2(const uint8_t *p, size_t len)
{
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 128 <= len; i += 128) {
        a = _mm256_or_si256(a, _mm256_loadu_si256((const __m256i *)(const void *)(p + i)));
        b = _mm256_or_si256(b, _mm256_loadu_si256((const __m256i *)(const void *)(p + i + 32)));
        c = _mm256_or_si256(c, _mm256_loadu_si256((const __m256i *)(const void *)(p + i + 64)));
        d = _mm256_or_si256(d, _mm256_loadu_si256((const __m256i *)(const void *)(p + i + 96)));
    }
    a = _mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, d));
    uint64_t r = (uint64_t)_mm256_extract_epi64(a, 0) | (uint64_t)_mm256_extract_epi64(a, 3);
    for (; i < len; i++)
        r |= p[i];
    return r;
}

__attribute__((target("avx512f"))) static uint64_t memread_avx512(const uint8_t *p, size_t len)
{
    __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 256 <= len; i += 256) {
        a = _mm512_or_si512(a, _mm512_loadu_si512((const void *)(p + i)));
        b = _mm512_or_si512(b, _mm512_loadu_si512((const void *)(p + i + 64)));
        c = _mm512_or_si512(c, _mm512_loadu_si512((const void *)(p + i + 128)));
        d = _mm512_or_si512(d, _mm512_loadu_si512((const void *)(p + i + 192)));
    }
    a = _mm512_or_si512(_mm512_or_si512(a, b), _mm512_or_si512(c, d));
    uint64_t r = (uint64_t)_mm512_reduce_or_epi64(a);
    for (; i < len; i++)
        r |= p[i];
    return r;
}
#endif

static uint64_t memread_scalar(const uint8_t *p, size_t len)
{
    uint64_t a = 0, b = 0, c = 0, d = 0;
    size_t i = 0;
    for (; i + 32 <= len; i += 32) {
        uint64_t w[4];
        memcpy(w, p + i, 32);
        a |= w[0];
        b |= w[1];
        c |= w[2];
        d |= w[3];
    }
    for (; i < len; i++)
        a |= p[i];
    return a | b | c | d;
}

/*
 * A plain read loop: each 4 KiB page summed as 64-bit words, page after
 * page, as bench_checker's floor reads the resident code. The compiler may
 * vectorize it; nothing is prefetched but what the hardware does.
 */
void run_readloop(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
    uint64_t sum = 0;
    for (size_t off = 0; off + PROCSUM_PAGE_SIZE <= len; off += PROCSUM_PAGE_SIZE) {
        for (size_t i = 0; i < PROCSUM_PAGE_SIZE; i += 8) {
            uint64_t w;
            memcpy(&w, p + off + i, sizeof w);
            sum += w;
        }
    }
    sink += sum;
}

bool have_avx2(void)
{
    return psum_simd_path_supported(PSUM_SIMD_AVX2);
}

bool have_avx512(void)
{
    return psum_simd_path_supported(PSUM_SIMD_AVX512);
}

void run_memread(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
#if defined(__x86_64__)
    if (have_avx512()) {
        sink += memread_avx512(p, len);
        return;
    }
    if (have_avx2()) {
        sink += memread_avx2(p, len);
        return;
    }
#endif
    sink += memread_scalar(p, len);
}

void run_b3_stream(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
    uint8_t out[32];
    psum_b3_hash(NULL, p, len, out);
    sink += out[0];
}

/* As the library does: slices of 64 pages, one digest per page and one for the region. */
static void run_pages(procsum_algorithm algo, const uint8_t *p, size_t len)
{
    static uint8_t digests[SLICE_PAGES * PROCSUM_MAX_DIGEST];
    psum_region_hasher h;
    psum_region_hasher_init(&h, algo);
    size_t pages = len / PROCSUM_PAGE_SIZE;
    for (size_t done = 0; done < pages;) {
        size_t n = pages - done < SLICE_PAGES ? pages - done : SLICE_PAGES;
        psum_region_hasher_pages(&h, p + done * PROCSUM_PAGE_SIZE, n, digests);
        done += n;
    }
    uint8_t out[PROCSUM_MAX_DIGEST];
    psum_region_hasher_final(&h, out);
    sink += out[0] + digests[0];
}

void run_b3_pages(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
    run_pages(PROCSUM_ALGO_BLAKE3, p, len);
}

void run_crc_stream(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
    sink += psum_crc64(0, p, len);
}

void run_crc_clmul(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
    sink += psum_crc64_clmul(0, p, len);
}

void run_crc_table(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
    sink += psum_crc64_portable(0, p, len);
}

void run_crc_pages(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
    run_pages(PROCSUM_ALGO_CRC64, p, len);
}

void run_xxh_stream(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
    sink += psum_xxh3(p, len);
}

void run_xxh_pages(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
    run_pages(PROCSUM_ALGO_XXH3, p, len);
}

/*
 * The per-page loop as the library ran it before it prefetched: one call
 * per page, the region digest over the page digests. Kept here to show what
 * prefetching the next page buys, in the same run.
 */
static void store_be64(uint8_t *out, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

static void run_pages_plain(bool crc, const uint8_t *p, size_t len)
{
    static uint8_t digests[SLICE_PAGES * 8];
    uint64_t crc_region = 0;
    XXH3_state_t xxh;
    XXH3_64bits_reset(&xxh);
    size_t pages = len / PROCSUM_PAGE_SIZE;
    for (size_t done = 0; done < pages;) {
        size_t n = pages - done < SLICE_PAGES ? pages - done : SLICE_PAGES;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *page = p + (done + i) * PROCSUM_PAGE_SIZE;
            store_be64(digests + i * 8, crc ? psum_crc64(0, page, PROCSUM_PAGE_SIZE)
                                            : psum_xxh3(page, PROCSUM_PAGE_SIZE));
        }
        if (crc)
            crc_region = psum_crc64(crc_region, digests, n * 8);
        else
            XXH3_64bits_update(&xxh, digests, n * 8);
        done += n;
    }
    sink += crc ? crc_region : XXH3_64bits_digest(&xxh);
}

void run_crc_pages_plain(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
    run_pages_plain(true, p, len);
}

void run_xxh_pages_plain(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
    run_pages_plain(false, p, len);
}

void flush_caches(void)
{
    static uint64_t *sweep;
    static const size_t len = (size_t)256 << 20;
    if (!sweep) {
        sweep = malloc(len);
        if (!sweep)
            return;
        memset(sweep, 1, len);
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < len / sizeof(*sweep); i += 8)
        sum += sweep[i];
    sink += sum;
}

void run_xxh_sse2(const contender *c, const uint8_t *p, size_t len)
{
    (void)c;
    sink += XXH3_64bits(p, len);
}

bool load_official(official *o, const char *label, const char *path)
{
    if (!path || !*path)
        return false;
    o->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!o->dl) {
        fprintf(stderr, "note: %s\n", dlerror());
        return false;
    }
    o->label = label;
    *(void **)&o->init = dlsym(o->dl, "blake3_hasher_init");
    *(void **)&o->update = dlsym(o->dl, "blake3_hasher_update");
    *(void **)&o->finalize = dlsym(o->dl, "blake3_hasher_finalize");
    return o->init && o->update && o->finalize;
}

void run_official(const contender *c, const uint8_t *p, size_t len)
{
    const official *o = &officials[c->path];        /* path doubles as the index here */
    _Alignas(64) static unsigned char hasher[4096]; /* blake3_hasher is under 2 KiB */
    uint8_t out[32];
    o->init(hasher);
    o->update(hasher, p, len);
    o->finalize(hasher, out, 32);
    sink += out[0];
}
