/*
 * Digest layer: CRC-64/XZ and XXH3-64 against known values and reference
 * implementations (xxhsum, run at test time), and the region hasher of every
 * algorithm: batch splits, page digests computed alone, region digests as
 * documented in digest.h, and the effect of one flipped bit.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digest/digest.h"
#include "digest/xxh3_isa.h"
#include "test_util.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define PAGE PROCSUM_PAGE_SIZE

static const procsum_algorithm ALGOS[] = {PROCSUM_ALGO_BLAKE3, PROCSUM_ALGO_CRC64, PROCSUM_ALGO_XXH3};

static uint64_t load_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* ---- CRC-64/XZ ---------------------------------------------------------- */

/* Bit-at-a-time CRC-64/XZ straight from its definition, as an independent reference. */
static uint64_t crc64_reference(const uint8_t *p, size_t len)
{
    uint64_t crc = ~UINT64_C(0);
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ ((crc & 1) ? UINT64_C(0xC96C5795D7870F42) : 0);
    }
    return ~crc;
}

Test(crc64, check_value)
{
    cr_assert_eq(psum_crc64(0, "123456789", 9), UINT64_C(0x995DC9BBDF1939FA), "got %#018" PRIx64,
                 psum_crc64(0, "123456789", 9));
    cr_assert_eq(crc64_reference((const uint8_t *)"123456789", 9), UINT64_C(0x995DC9BBDF1939FA));
}

Test(crc64, empty_input)
{
    cr_assert_eq(psum_crc64(0, "", 0), 0u);
    /* An empty piece leaves a running CRC as it is. */
    uint64_t c = psum_crc64(0, "abc", 3);
    cr_assert_eq(psum_crc64(c, "", 0), c);
}

Test(crc64, matches_bitwise_reference)
{
    /* Lengths around the 8-byte steps and the sizes where fast paths switch. */
    static const size_t lens[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129,
                                  255, 256, 257, 1000, 1023, 1024, 1025, 4095, 4096, 4097, 65536 + 3};
    for (size_t i = 0; i < COUNT(lens); i++) {
        uint8_t *buf = test_random_bytes(lens[i] + 1, lens[i]);
        /* Also at an odd address. */
        for (size_t shift = 0; shift < 2; shift++) {
            uint64_t got = psum_crc64(0, buf + shift, lens[i]);
            uint64_t want = crc64_reference(buf + shift, lens[i]);
            cr_assert_eq(got, want, "len %zu shift %zu: %#018" PRIx64 " != %#018" PRIx64, lens[i], shift, got, want);
        }
        free(buf);
    }
}

Test(crc64, chaining)
{
    const char *a = "12345", *b = "6789";
    cr_assert_eq(psum_crc64(psum_crc64(0, a, 5), b, 4), psum_crc64(0, "123456789", 9));

    size_t len = 20000;
    uint8_t *buf = test_random_bytes(len, 42);
    uint64_t whole = psum_crc64(0, buf, len);
    cr_assert_eq(whole, crc64_reference(buf, len));
    static const size_t cuts[] = {0, 1, 3, 7, 8, 9, 64, 100, 4096, 4097, 12345, 19999, 20000};
    for (size_t i = 0; i < COUNT(cuts); i++) {
        size_t k = cuts[i];
        uint64_t chained = psum_crc64(psum_crc64(0, buf, k), buf + k, len - k);
        cr_assert_eq(chained, whole, "cut at %zu", k);
    }
    /* Many small pieces of varying sizes. */
    uint64_t c = 0;
    size_t off = 0, step = 1;
    while (off < len) {
        size_t n = step < len - off ? step : len - off;
        c = psum_crc64(c, buf + off, n);
        off += n;
        step = step * 3 % 1031 + 1;
    }
    cr_assert_eq(c, whole);
    free(buf);
}

/* ---- XXH3-64 ------------------------------------------------------------ */

Test(xxh3, empty_input)
{
    cr_assert_eq(psum_xxh3("", 0), UINT64_C(0x2D06800538D394C2), "got %#018" PRIx64, psum_xxh3("", 0));
}

static bool have_xxhsum(void)
{
    return system("xxhsum --version >/dev/null 2>&1") == 0;
}

/* Runs `xxhsum -H3` on the bytes and returns the value it prints. */
static uint64_t xxhsum_h3(const void *data, size_t len)
{
    char path[] = "/tmp/psum_xxh3_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0, "mkstemp failed");
    FILE *f = fdopen(fd, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "xxhsum -H3 < '%s'", path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "popen(%s) failed", cmd);
    char line[256] = {0};
    bool got = fgets(line, sizeof line, p) != NULL;
    int status = pclose(p);
    unlink(path);
    cr_assert(got && status == 0, "xxhsum failed: %s", cmd);

    /* "XXH3 (stdin) = 78af5f94892f3950": the value is the last word; some versions print it first. */
    line[strcspn(line, "\r\n")] = '\0';
    const char *hex = strrchr(line, ' ');
    hex = hex ? hex + 1 : line;
    if (strlen(hex) != 16) {
        line[strcspn(line, " ")] = '\0';
        hex = line;
    }
    cr_assert_eq(strlen(hex), 16u, "unexpected xxhsum output: %s", line);
    cr_assert_eq(strspn(hex, "0123456789abcdef"), 16u, "unexpected xxhsum output: %s", line);
    return strtoull(hex, NULL, 16);
}

Test(xxh3, against_xxhsum)
{
    if (!have_xxhsum())
        cr_skip_test("xxhsum not installed (Debian package xxhash)");
    /* Lengths that take each of XXH3's code paths: 0, 1-3, 4-8, 9-16, 17-128, 129-240, long. */
    static const size_t lens[] = {0, 1, 3, 4, 8, 9, 16, 17, 128, 129, 240, 241, 1024, 4096, 100000};
    for (size_t i = 0; i < COUNT(lens); i++) {
        uint8_t *buf = test_random_bytes(lens[i], 7 + lens[i]);
        uint64_t ours = psum_xxh3(buf, lens[i]);
        uint64_t ref = xxhsum_h3(buf, lens[i]);
        cr_expect_eq(ours, ref, "len %zu: %016" PRIx64 " != xxhsum %016" PRIx64, lens[i], ours, ref);
        free(buf);
    }
    /* And the empty input's published value, through the tool. */
    cr_assert_eq(xxhsum_h3("", 0), UINT64_C(0x2D06800538D394C2));
}

/* Every compiled XXH3 path the CPU runs gives the baseline's values, plain and keyed. */
Test(xxh3, every_path_matches_the_baseline)
{
    struct {
        const char *name;
        psum_xxh3_fn *raw;
        psum_xxh3_secret_fn *secret;
        psum_simd_path needs;
    } paths[] = {
#if defined(PSUM_XXH3_HAVE_AVX2)
        {"avx2", psum_xxh3_avx2, psum_xxh3_secret_avx2, PSUM_SIMD_AVX2},
#endif
#if defined(PSUM_XXH3_HAVE_AVX512)
        {"avx512", psum_xxh3_avx512, psum_xxh3_secret_avx512, PSUM_SIMD_AVX512},
#endif
        {"base", psum_xxh3_base, psum_xxh3_secret_base, PSUM_SIMD_PORTABLE},
    };
    static const size_t lens[] = {0, 1, 3, 4, 8, 9, 16, 17, 128, 129, 240, 241, 1024, 4095, 4096, 100000};
    uint8_t *secret = test_random_bytes(192, 3);
    size_t ran = 0;
    for (size_t p = 0; p < COUNT(paths); p++) {
        if (!psum_simd_path_supported(paths[p].needs))
            continue;
        ran++;
        for (size_t i = 0; i < COUNT(lens); i++) {
            uint8_t *buf = test_random_bytes(lens[i] + 1, 11 + lens[i]);
            for (size_t shift = 0; shift < 2; shift++) {
                cr_expect_eq(paths[p].raw(buf + shift, lens[i]), psum_xxh3_base(buf + shift, lens[i]),
                             "%s, len %zu shift %zu", paths[p].name, lens[i], shift);
                cr_expect_eq(paths[p].secret(buf + shift, lens[i], secret, 192),
                             psum_xxh3_secret_base(buf + shift, lens[i], secret, 192), "%s keyed, len %zu shift %zu",
                             paths[p].name, lens[i], shift);
            }
            free(buf);
        }
    }
    free(secret);
    cr_assert_geq(ran, 1u);
    /* What the library runs is one of them. */
    uint8_t *page = test_random_bytes(PAGE, 5);
    cr_assert_eq(psum_xxh3(page, PAGE), psum_xxh3_base(page, PAGE));
    free(page);
}

/* The plain C CRC-64 (used where ISA-L cannot be loaded) gives ISA-L's values. */
Test(crc64, portable_matches_the_library)
{
    static const size_t lens[] = {0, 1, 7, 8, 9, 63, 64, 65, 255, 256, 4095, 4096, 4097, 65536 + 3};
    for (size_t i = 0; i < COUNT(lens); i++) {
        uint8_t *buf = test_random_bytes(lens[i] + 1, 21 + lens[i]);
        for (size_t shift = 0; shift < 2; shift++) {
            uint64_t seed = psum_crc64(0, "123456789", 9);
            cr_expect_eq(psum_crc64_portable(0, buf + shift, lens[i]), psum_crc64(0, buf + shift, lens[i]),
                         "len %zu shift %zu", lens[i], shift);
            cr_expect_eq(psum_crc64_portable(seed, buf + shift, lens[i]), psum_crc64(seed, buf + shift, lens[i]),
                         "continued, len %zu shift %zu", lens[i], shift);
        }
        free(buf);
    }
    cr_assert_eq(psum_crc64_portable(0, "123456789", 9), UINT64_C(0x995DC9BBDF1939FA));
}

/*
 * The table is built by the first caller; callers meanwhile compute bit by
 * bit. Threads started together in a fresh process (each Criterion test is
 * one) all get the check value, whichever way each took.
 */
#define RACERS 8
static atomic_int racers_waiting;

static void *crc_racer(void *arg)
{
    uint64_t *out = arg;
    atomic_fetch_sub(&racers_waiting, 1);
    while (atomic_load(&racers_waiting) > 0)
        ; /* all start at once */
    *out = psum_crc64_portable(0, "123456789", 9);
    return NULL;
}

Test(crc64, table_built_while_others_compute)
{
    pthread_t t[RACERS];
    uint64_t out[RACERS] = {0};
    atomic_store(&racers_waiting, RACERS);
    for (int i = 0; i < RACERS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, crc_racer, &out[i]), 0);
    for (int i = 0; i < RACERS; i++) {
        pthread_join(t[i], NULL);
        cr_expect_eq(out[i], UINT64_C(0x995DC9BBDF1939FA), "thread %d", i);
    }
}

/* A build with ISA-L's headers finds the library at run time (Debian: libisal2), not only the fallback. */
Test(crc64, isal_is_loaded_where_the_build_has_it)
{
#if defined(PSUM_HAVE_ISAL)
    cr_assert_str_eq(psum_crc64_prepare(), "ISA-L");
#else
    cr_assert_str_eq(psum_crc64_prepare(), psum_crc64_builtin_name());
#endif
}

/*
 * The carry-less multiply code (the fallback without ISA-L on x86-64) gives
 * the table's values: every length up to a few lane rounds, so that each
 * number of whole 64-byte rounds, 16-byte blocks and tail bytes is taken,
 * at every alignment of a 16-byte load, from the start and continued.
 */
Test(crc64, clmul_matches_the_table)
{
    if (strcmp(psum_crc64_builtin_name(), "PCLMUL") != 0)
        cr_skip_test("skipped: this CPU has no PCLMULQDQ");
    uint8_t *buf = test_random_bytes(1024 + 16, 77);
    uint64_t seeds[] = {0, UINT64_MAX, UINT64_C(0x995DC9BBDF1939FA)};
    for (size_t len = 0; len <= 1024; len++)
        for (size_t shift = 0; shift < 16; shift += len % 7 == 0 ? 1 : 5)
            for (size_t s = 0; s < COUNT(seeds); s++)
                cr_expect_eq(psum_crc64_clmul(seeds[s], buf + shift, len), psum_crc64_portable(seeds[s], buf + shift, len),
                             "len %zu shift %zu seed %zu", len, shift, s);
    uint8_t *page = test_random_bytes(PAGE * 3, 78);
    cr_expect_eq(psum_crc64_clmul(0, page, PAGE * 3), psum_crc64_portable(0, page, PAGE * 3), "three pages");
    cr_expect_eq(psum_crc64_builtin(0, page, PAGE), psum_crc64_portable(0, page, PAGE), "the fallback, a page");
    free(page);
    free(buf);
}

/* ---- region hasher ------------------------------------------------------ */

Test(region_hasher, digest_lengths)
{
    cr_assert_eq(psum_digest_len(PROCSUM_ALGO_BLAKE3), 32u);
    cr_assert_eq(psum_digest_len(PROCSUM_ALGO_CRC64), 8u);
    cr_assert_eq(psum_digest_len(PROCSUM_ALGO_XXH3), 8u);
    cr_assert_eq(psum_digest_len((procsum_algorithm)99), 0u);
    for (size_t i = 0; i < COUNT(ALGOS); i++)
        cr_assert(psum_algorithm_valid(ALGOS[i]));
    cr_assert_not(psum_algorithm_valid((procsum_algorithm)99));
}

/*
 * Feeds npages in batches: a 0-terminated list whose last entry repeats
 * until the pages run out; the list {0} means all pages at once.
 */
static void run_region(procsum_algorithm a, const uint8_t *pages, size_t npages, const size_t *batches,
                       uint8_t *page_digests, uint8_t region[PROCSUM_MAX_DIGEST])
{
    size_t dlen = psum_digest_len(a);
    psum_region_hasher h;
    psum_region_hasher_init(&h, a);
    size_t done = 0, b = 0, calls = 0;
    while (done < npages) {
        size_t n = batches[b] ? batches[b] : (b ? batches[b - 1] : npages - done);
        if (batches[b])
            b++;
        if (n > npages - done)
            n = npages - done;
        psum_region_hasher_pages(&h, pages + done * PAGE, n, page_digests + done * dlen);
        done += n;
        calls++;
    }
    cr_assert_eq(h.pages, npages);
    cr_assert_leq(calls, npages);
    memset(region, 0, PROCSUM_MAX_DIGEST);
    psum_region_hasher_final(&h, region);
}

static const size_t PAGE_COUNTS[] = {1, 2, 3, 7, 64};

static const size_t ALL_AT_ONCE[] = {0};
static const size_t ONE_BY_ONE[] = {1, 0};
static const size_t TWO_THEN_REST[] = {2, 0};
static const size_t UNEVEN[] = {3, 1, 4, 1, 5, 9, 2, 6, 0};
static const size_t BIG_THEN_ONES[] = {40, 1, 1, 1, 0};
static const size_t *const SPLITS[] = {ALL_AT_ONCE, ONE_BY_ONE, TWO_THEN_REST, UNEVEN, BIG_THEN_ONES};

/* The region digest as digest.h defines it, computed from the page digests (or the bytes, for BLAKE3). */
static void expected_region_digest(procsum_algorithm a, const uint8_t *pages, size_t npages,
                                   const uint8_t *page_digests, uint8_t out[PROCSUM_MAX_DIGEST])
{
    memset(out, 0, PROCSUM_MAX_DIGEST);
    size_t dlen = psum_digest_len(a);
    uint64_t v;
    switch (a) {
    case PROCSUM_ALGO_BLAKE3:
        psum_b3_hash(NULL, pages, npages * PAGE, out);
        return;
    case PROCSUM_ALGO_CRC64: v = psum_crc64(0, page_digests, npages * dlen); break;
    case PROCSUM_ALGO_XXH3: v = psum_xxh3(page_digests, npages * dlen); break;
    default: cr_assert_fail("unexpected algorithm %d", (int)a); return;
    }
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* The page digest as digest.h defines it for CRC-64 and XXH3: the page's value, big-endian. */
static void check_page_digest_definition(procsum_algorithm a, const uint8_t *page, const uint8_t *digest)
{
    if (a == PROCSUM_ALGO_CRC64)
        cr_assert_eq(load_be64(digest), crc64_reference(page, PAGE));
    else if (a == PROCSUM_ALGO_XXH3)
        cr_assert_eq(load_be64(digest), XXH3_64bits(page, PAGE));
}

Test(region_hasher, splits_agree_and_match_definitions)
{
    for (size_t ai = 0; ai < COUNT(ALGOS); ai++) {
        procsum_algorithm a = ALGOS[ai];
        size_t dlen = psum_digest_len(a);
        for (size_t ci = 0; ci < COUNT(PAGE_COUNTS); ci++) {
            size_t n = PAGE_COUNTS[ci];
            uint8_t *pages = test_random_bytes(n * PAGE, 100 * ai + n);
            uint8_t *ref_pd = malloc(n * dlen), *pd = malloc(n * dlen);
            cr_assert(ref_pd && pd);
            uint8_t ref_region[PROCSUM_MAX_DIGEST], region[PROCSUM_MAX_DIGEST], want[PROCSUM_MAX_DIGEST];

            run_region(a, pages, n, SPLITS[0], ref_pd, ref_region);
            for (size_t si = 1; si < COUNT(SPLITS); si++) {
                memset(pd, 0xEE, n * dlen);
                run_region(a, pages, n, SPLITS[si], pd, region);
                cr_assert_arr_eq(pd, ref_pd, n * dlen, "algo %d, %zu pages, split %zu: page digests", (int)a, n, si);
                cr_assert_arr_eq(region, ref_region, sizeof region, "algo %d, %zu pages, split %zu: region digest",
                                 (int)a, n, si);
            }

            for (size_t i = 0; i < n; i++) {
                uint8_t alone[PROCSUM_MAX_DIGEST];
                psum_page_digest_at(a, pages + i * PAGE, i, alone);
                cr_assert_arr_eq(alone, ref_pd + i * dlen, dlen, "algo %d, %zu pages, page %zu", (int)a, n, i);
                check_page_digest_definition(a, pages + i * PAGE, ref_pd + i * dlen);
            }

            expected_region_digest(a, pages, n, ref_pd, want);
            cr_assert_arr_eq(ref_region, want, sizeof want, "algo %d, %zu pages: region digest definition", (int)a, n);
            /* Bytes beyond the digest length are left zero. */
            for (size_t k = dlen; k < PROCSUM_MAX_DIGEST; k++)
                cr_assert_eq(ref_region[k], 0, "algo %d: byte %zu", (int)a, k);

            free(pages);
            free(ref_pd);
            free(pd);
        }
    }
}

/* digest.h's wording, spelled out for CRC-64 on one fixed case so that a mistake is easy to see. */
Test(region_hasher, crc64_region_is_crc_of_big_endian_page_digests)
{
    uint8_t *pages = test_random_bytes(3 * PAGE, 9);
    uint8_t pd[3 * 8], region[PROCSUM_MAX_DIGEST], concat[3 * 8];
    psum_region_hasher h;
    psum_region_hasher_init(&h, PROCSUM_ALGO_CRC64);
    psum_region_hasher_pages(&h, pages, 3, pd);
    psum_region_hasher_final(&h, region);
    for (size_t i = 0; i < 3; i++) {
        uint64_t c = crc64_reference(pages + i * PAGE, PAGE);
        for (int b = 0; b < 8; b++)
            concat[i * 8 + (size_t)b] = (uint8_t)(c >> (56 - 8 * b));
    }
    cr_assert_arr_eq(pd, concat, sizeof concat);
    cr_assert_eq(load_be64(region), crc64_reference(concat, sizeof concat));
    free(pages);
}

Test(region_hasher, xxh3_region_is_xxh3_of_page_digests)
{
    uint8_t *pages = test_random_bytes(5 * PAGE, 11);
    uint8_t pd[5 * 8], region[PROCSUM_MAX_DIGEST], concat[5 * 8];
    psum_region_hasher h;
    psum_region_hasher_init(&h, PROCSUM_ALGO_XXH3);
    psum_region_hasher_pages(&h, pages, 2, pd);
    psum_region_hasher_pages(&h, pages + 2 * PAGE, 3, pd + 16);
    psum_region_hasher_final(&h, region);
    for (size_t i = 0; i < 5; i++) {
        uint64_t x = XXH3_64bits(pages + i * PAGE, PAGE);
        for (int b = 0; b < 8; b++)
            concat[i * 8 + (size_t)b] = (uint8_t)(x >> (56 - 8 * b));
    }
    cr_assert_arr_eq(pd, concat, sizeof concat);
    cr_assert_eq(load_be64(region), XXH3_64bits(concat, sizeof concat));
    free(pages);
}

Test(region_hasher, final_does_not_consume)
{
    for (size_t ai = 0; ai < COUNT(ALGOS); ai++) {
        procsum_algorithm a = ALGOS[ai];
        uint8_t *pages = test_random_bytes(4 * PAGE, 3 + ai);
        uint8_t pd[4 * PROCSUM_MAX_DIGEST], mid[PROCSUM_MAX_DIGEST], mid_want[PROCSUM_MAX_DIGEST],
            end1[PROCSUM_MAX_DIGEST], end2[PROCSUM_MAX_DIGEST];
        psum_region_hasher h;
        psum_region_hasher_init(&h, a);
        psum_region_hasher_pages(&h, pages, 2, pd);
        memset(mid, 0, sizeof mid);
        psum_region_hasher_final(&h, mid);
        expected_region_digest(a, pages, 2, pd, mid_want);
        cr_assert_arr_eq(mid, mid_want, sizeof mid, "algo %d: digest of the first two pages", (int)a);
        psum_region_hasher_pages(&h, pages + 2 * PAGE, 2, pd + 2 * psum_digest_len(a));
        memset(end1, 0, sizeof end1);
        memset(end2, 0, sizeof end2);
        psum_region_hasher_final(&h, end1);
        psum_region_hasher_final(&h, end2);
        cr_assert_arr_eq(end1, end2, sizeof end1);
        cr_assert_arr_neq(end1, mid, sizeof end1);
        free(pages);
    }
}

Test(region_hasher, one_flipped_bit)
{
    for (size_t ai = 0; ai < COUNT(ALGOS); ai++) {
        procsum_algorithm a = ALGOS[ai];
        size_t dlen = psum_digest_len(a);
        for (size_t ci = 0; ci < COUNT(PAGE_COUNTS); ci++) {
            size_t n = PAGE_COUNTS[ci];
            uint8_t *pages = test_random_bytes(n * PAGE, 500 + 10 * ai + n);
            uint8_t *ref_pd = malloc(n * dlen), *pd = malloc(n * dlen);
            cr_assert(ref_pd && pd);
            uint8_t ref_region[PROCSUM_MAX_DIGEST], region[PROCSUM_MAX_DIGEST];
            run_region(a, pages, n, ALL_AT_ONCE, ref_pd, ref_region);

            /* Every page for small regions; a spread of pages for 64 (first, last, a few inside). */
            for (size_t k = 0; k < n; k += (n > 8 ? 9 : 1)) {
                for (size_t variant = 0; variant < 2; variant++) {
                    size_t kk = variant ? n - 1 - k : k;
                    size_t bit = (kk * 7919 + 13 + variant * 4001) % (PAGE * 8);
                    pages[kk * PAGE + bit / 8] ^= (uint8_t)(1u << (bit % 8));
                    run_region(a, pages, n, SPLITS[(k + variant) % COUNT(SPLITS)], pd, region);
                    for (size_t i = 0; i < n; i++) {
                        bool same = memcmp(pd + i * dlen, ref_pd + i * dlen, dlen) == 0;
                        cr_assert_eq(same, i != kk, "algo %d, %zu pages, bit %zu of page %zu flipped: page %zu %s",
                                     (int)a, n, bit, kk, i, same ? "unchanged" : "changed");
                    }
                    cr_assert_arr_neq(region, ref_region, sizeof region, "algo %d, %zu pages, flip in page %zu",
                                      (int)a, n, kk);
                    /* The changed page's digest computed alone matches the one in the region. */
                    uint8_t alone[PROCSUM_MAX_DIGEST];
                    psum_page_digest_at(a, pages + kk * PAGE, kk, alone);
                    cr_assert_arr_eq(alone, pd + kk * dlen, dlen);
                    pages[kk * PAGE + bit / 8] ^= (uint8_t)(1u << (bit % 8));
                }
            }
            /* Restored pages give the original digests again. */
            run_region(a, pages, n, UNEVEN, pd, region);
            cr_assert_arr_eq(pd, ref_pd, n * dlen);
            cr_assert_arr_eq(region, ref_region, sizeof region);
            free(pages);
            free(ref_pd);
            free(pd);
        }
    }
}

Test(region_hasher, empty_region)
{
    for (size_t ai = 0; ai < COUNT(ALGOS); ai++) {
        procsum_algorithm a = ALGOS[ai];
        uint8_t got[PROCSUM_MAX_DIGEST], want[PROCSUM_MAX_DIGEST];
        psum_region_hasher h;
        psum_region_hasher_init(&h, a);
        psum_region_hasher_pages(&h, NULL, 0, NULL);
        memset(got, 0, sizeof got);
        psum_region_hasher_final(&h, got);
        expected_region_digest(a, (const uint8_t *)"", 0, (const uint8_t *)"", want);
        cr_assert_arr_eq(got, want, sizeof got, "algo %d", (int)a);
    }
}

/* Same content at another position: BLAKE3's page digest depends on the index, the others do not. */
Test(region_hasher, page_index_dependence)
{
    uint8_t *page = test_random_bytes(PAGE, 77);
    for (size_t ai = 0; ai < COUNT(ALGOS); ai++) {
        procsum_algorithm a = ALGOS[ai];
        size_t dlen = psum_digest_len(a);
        uint8_t d0[PROCSUM_MAX_DIGEST], d1[PROCSUM_MAX_DIGEST];
        psum_page_digest_at(a, page, 0, d0);
        psum_page_digest_at(a, page, 1, d1);
        bool same = memcmp(d0, d1, dlen) == 0;
        cr_assert_eq(same, a != PROCSUM_ALGO_BLAKE3, "algo %d", (int)a);
    }
    free(page);
}
