/*
 * BLAKE3 tests: the streaming hasher against b3sum (run at test time) and a
 * few published vectors, and the region hasher against the streaming hasher.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digest/blake3.h"
#include "test_util.h"

/* The official test key (exactly 32 bytes, no terminator used). */
static const uint8_t TEST_KEY[PSUM_B3_KEY_LEN] = "whats the Elvish word for friend";

/* Input lengths of the official test vectors. */
static const size_t VECTOR_LENS[] = {
    0, 1, 1023, 1024, 1025, 2048, 2049, 3072, 3073, 4096, 4097,
    5120, 5121, 6144, 6145, 7168, 7169, 8192, 8193, 16384, 31744, 102400,
};
#define N_VECTOR_LENS (sizeof VECTOR_LENS / sizeof VECTOR_LENS[0])

/* Input byte i of the official vectors is i mod 251. */
static uint8_t *vector_input(size_t len)
{
    uint8_t *buf = malloc(len ? len : 1);
    cr_assert_not_null(buf);
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i % 251);
    return buf;
}

static void to_hex(const uint8_t *b, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[b[i] >> 4];
        hex[2 * i + 1] = digits[b[i] & 15];
    }
    hex[2 * n] = '\0';
}

static void hash_hex(const uint8_t *key, const void *in, size_t len, char hex[2 * PSUM_B3_OUT_LEN + 1])
{
    uint8_t out[PSUM_B3_OUT_LEN];
    psum_b3_hash(key, in, len, out);
    to_hex(out, sizeof out, hex);
}

static bool have_b3sum(void)
{
    return system("b3sum --version >/dev/null 2>&1") == 0;
}

static void write_temp(char path[], const void *data, size_t len)
{
    int fd = mkstemp(path);
    cr_assert(fd >= 0, "mkstemp failed");
    FILE *f = fdopen(fd, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

/* Runs b3sum on the bytes (keyed if key != NULL); writes its hex digest. */
static void b3sum_hex(const uint8_t *key, const void *data, size_t len, char hex[2 * PSUM_B3_OUT_LEN + 1])
{
    char data_path[] = "/tmp/psum_b3_data_XXXXXX";
    char key_path[] = "/tmp/psum_b3_key_XXXXXX";
    char cmd[256];

    write_temp(data_path, data, len);
    if (key) {
        write_temp(key_path, key, PSUM_B3_KEY_LEN);
        snprintf(cmd, sizeof cmd, "b3sum --keyed --no-names '%s' < '%s'", data_path, key_path);
    } else {
        snprintf(cmd, sizeof cmd, "b3sum --no-names '%s'", data_path);
    }

    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "popen(%s) failed", cmd);
    char line[256] = {0};
    bool got = fgets(line, sizeof line, p) != NULL;
    int status = pclose(p);
    unlink(data_path);
    if (key)
        unlink(key_path);
    cr_assert(got && status == 0, "b3sum failed: %s", cmd);

    line[strcspn(line, "\r\n")] = '\0';
    cr_assert_eq(strlen(line), 2 * PSUM_B3_OUT_LEN, "unexpected b3sum output: %s", line);
    memcpy(hex, line, 2 * PSUM_B3_OUT_LEN + 1);
}

/* 1. Published vectors, independent of b3sum. */
Test(blake3, published_vectors)
{
    char hex[2 * PSUM_B3_OUT_LEN + 1];
    uint8_t *in = vector_input(1);

    hash_hex(NULL, in, 0, hex);
    cr_expect_str_eq(hex, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
    hash_hex(NULL, in, 1, hex);
    cr_expect_str_eq(hex, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213");
    hash_hex(TEST_KEY, in, 0, hex);
    cr_expect_str_eq(hex, "92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26");
    free(in);
}

/* 1. All official vector lengths, unkeyed, against b3sum. */
Test(blake3, vector_lengths_vs_b3sum)
{
    if (!have_b3sum())
        cr_skip_test("b3sum not installed");
    for (size_t i = 0; i < N_VECTOR_LENS; i++) {
        size_t len = VECTOR_LENS[i];
        uint8_t *in = vector_input(len);
        char ours[2 * PSUM_B3_OUT_LEN + 1], ref[2 * PSUM_B3_OUT_LEN + 1];
        hash_hex(NULL, in, len, ours);
        b3sum_hex(NULL, in, len, ref);
        cr_expect_str_eq(ours, ref, "len %zu", len);
        free(in);
    }
}

/* 2. Keyed mode against b3sum --keyed. */
Test(blake3, keyed_vs_b3sum)
{
    if (!have_b3sum())
        cr_skip_test("b3sum not installed");
    static const size_t lens[] = {0, 1, 64, 1023, 1024, 1025, 4096, 8193, 31744, 102400};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t *in = vector_input(lens[i]);
        char ours[2 * PSUM_B3_OUT_LEN + 1], ref[2 * PSUM_B3_OUT_LEN + 1];
        hash_hex(TEST_KEY, in, lens[i], ours);
        b3sum_hex(TEST_KEY, in, lens[i], ref);
        cr_expect_str_eq(ours, ref, "keyed len %zu", lens[i]);
        free(in);
    }
}

/* 4. Streaming with odd split points equals one-shot; final leaves the hasher intact. */
static void check_streaming(const uint8_t *key)
{
    static const size_t lens[] = {0, 1, 63, 64, 65, 1023, 1024, 1025, 2047, 4096, 5000, 17000, 65537};
    static const size_t steps[] = {1, 3, 63, 64, 65, 127, 1000, 1023, 1024, 1025, 3000, 4097};

    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t len = lens[li];
        uint8_t *in = test_random_bytes(len, len + 7);
        uint8_t want[PSUM_B3_OUT_LEN];
        psum_b3_hash(key, in, len, want);

        for (size_t si = 0; si < sizeof steps / sizeof steps[0]; si++) {
            psum_b3_hasher h;
            if (key)
                psum_b3_init_keyed(&h, key);
            else
                psum_b3_init(&h);
            /* Vary the piece sizes so boundaries land at many offsets. */
            size_t off = 0, k = 0;
            while (off < len) {
                size_t n = steps[(si + k++) % (sizeof steps / sizeof steps[0])];
                if (n > len - off)
                    n = len - off;
                psum_b3_update(&h, in + off, n);
                off += n;
                if (k % 5 == 0) {
                    /* An intermediate final must be the hash of the prefix. */
                    uint8_t mid[PSUM_B3_OUT_LEN], pre[PSUM_B3_OUT_LEN];
                    psum_b3_final(&h, mid);
                    psum_b3_hash(key, in, off, pre);
                    cr_assert_arr_eq(mid, pre, sizeof mid, "prefix %zu of %zu", off, len);
                }
            }
            psum_b3_update(&h, in, 0); /* empty updates are no-ops */
            uint8_t got[PSUM_B3_OUT_LEN], again[PSUM_B3_OUT_LEN];
            psum_b3_final(&h, got);
            psum_b3_final(&h, again);
            cr_assert_arr_eq(got, want, sizeof got, "len %zu step set %zu", len, si);
            cr_assert_arr_eq(again, want, sizeof again);
        }
        free(in);
    }
}

Test(blake3, streaming_splits) { check_streaming(NULL); }
Test(blake3, streaming_splits_keyed) { check_streaming(TEST_KEY); }

/* 3. Region hasher. */

/* Feeds npages pages in the given batch sizes (0-terminated, remainder last). */
static void region_run(const uint8_t *key, const uint8_t *pages, size_t npages, const size_t *batches,
                       uint8_t *cvs, uint8_t digest[PSUM_B3_OUT_LEN])
{
    psum_b3_region r;
    psum_b3_region_init(&r, key);
    size_t done = 0;
    for (size_t b = 0; done < npages; b++) {
        size_t n = batches[b] ? batches[b] : npages - done;
        if (n > npages - done)
            n = npages - done;
        psum_b3_region_pages(&r, pages + done * PSUM_B3_PAGE_LEN, n, cvs + done * PSUM_B3_OUT_LEN);
        done += n;
        /* Final between batches must be the hash of what was fed so far. */
        uint8_t mid[PSUM_B3_OUT_LEN], pre[PSUM_B3_OUT_LEN];
        psum_b3_region_final(&r, mid);
        psum_b3_hash(key, pages, done * PSUM_B3_PAGE_LEN, pre);
        cr_assert_arr_eq(mid, pre, sizeof mid, "after %zu of %zu pages", done, npages);
    }
    psum_b3_region_final(&r, digest);
}

static void check_region(const uint8_t *key)
{
    static const size_t sizes[] = {1, 2, 3, 5, 8, 13};
    static const size_t all_at_once[] = {0};
    static const size_t one_by_one[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    static const size_t two_rest[] = {2, 0};
    static const size_t uneven[] = {3, 1, 4, 0};
    static const size_t *const splits[] = {all_at_once, one_by_one, two_rest, uneven};
    const size_t nsplits = sizeof splits / sizeof splits[0];

    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        size_t bytes = n * PSUM_B3_PAGE_LEN;
        uint8_t *pages = test_random_bytes(bytes, 1000 + n);
        uint8_t *ref_cvs = malloc(n * PSUM_B3_OUT_LEN);
        uint8_t *cvs = malloc(n * PSUM_B3_OUT_LEN);
        cr_assert(ref_cvs && cvs);
        uint8_t want[PSUM_B3_OUT_LEN], ref_digest[PSUM_B3_OUT_LEN], digest[PSUM_B3_OUT_LEN];
        psum_b3_hash(key, pages, bytes, want);

        /* (a) digest equals the plain hash, (b) CVs agree across splits. */
        region_run(key, pages, n, splits[0], ref_cvs, ref_digest);
        cr_assert_arr_eq(ref_digest, want, sizeof want, "%zu pages", n);
        for (size_t sp = 1; sp < nsplits; sp++) {
            region_run(key, pages, n, splits[sp], cvs, digest);
            cr_assert_arr_eq(digest, want, sizeof want, "%zu pages, split %zu", n, sp);
            cr_assert_arr_eq(cvs, ref_cvs, n * PSUM_B3_OUT_LEN, "%zu pages, split %zu", n, sp);
        }

        /* (c) each page CV can be computed alone. */
        for (size_t i = 0; i < n; i++) {
            uint8_t cv[PSUM_B3_OUT_LEN];
            psum_b3_page_cv(key, pages + i * PSUM_B3_PAGE_LEN, i, cv);
            cr_assert_arr_eq(cv, ref_cvs + i * PSUM_B3_OUT_LEN, sizeof cv, "%zu pages, page %zu", n, i);
        }

        /* (d) one flipped bit changes that page's CV only, and the digest. */
        for (size_t k = 0; k < n; k++) {
            size_t bit = (k * 7919 + 13) % (PSUM_B3_PAGE_LEN * 8);
            pages[k * PSUM_B3_PAGE_LEN + bit / 8] ^= (uint8_t)(1u << (bit % 8));
            region_run(key, pages, n, splits[k % nsplits], cvs, digest);
            for (size_t i = 0; i < n; i++) {
                int same = memcmp(cvs + i * PSUM_B3_OUT_LEN, ref_cvs + i * PSUM_B3_OUT_LEN, PSUM_B3_OUT_LEN) == 0;
                cr_assert_eq(same, i != k, "%zu pages, flip in %zu, page %zu", n, k, i);
            }
            cr_assert_arr_neq(digest, ref_digest, sizeof digest, "%zu pages, flip in %zu", n, k);
            pages[k * PSUM_B3_PAGE_LEN + bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }

        free(pages);
        free(ref_cvs);
        free(cvs);
    }
}

Test(blake3_region, unkeyed) { check_region(NULL); }
Test(blake3_region, keyed) { check_region(TEST_KEY); }

Test(blake3_region, empty_region)
{
    uint8_t got[PSUM_B3_OUT_LEN], want[PSUM_B3_OUT_LEN];
    psum_b3_region r;
    psum_b3_region_init(&r, NULL);
    psum_b3_region_final(&r, got);
    psum_b3_hash(NULL, "", 0, want);
    cr_assert_arr_eq(got, want, sizeof got);

    psum_b3_region_init(&r, TEST_KEY);
    psum_b3_region_pages(&r, NULL, 0, NULL);
    psum_b3_region_final(&r, got);
    psum_b3_hash(TEST_KEY, "", 0, want);
    cr_assert_arr_eq(got, want, sizeof got);
}

/* End to end: a region digest is what b3sum prints for the same bytes. */
Test(blake3_region, digest_vs_b3sum)
{
    if (!have_b3sum())
        cr_skip_test("b3sum not installed");
    static const size_t sizes[] = {1, 3, 8};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        uint8_t *pages = test_random_bytes(n * PSUM_B3_PAGE_LEN, 77 + n);
        uint8_t *cvs = malloc(n * PSUM_B3_OUT_LEN);
        cr_assert_not_null(cvs);
        for (int keyed = 0; keyed < 2; keyed++) {
            const uint8_t *key = keyed ? TEST_KEY : NULL;
            psum_b3_region r;
            uint8_t digest[PSUM_B3_OUT_LEN];
            char ours[2 * PSUM_B3_OUT_LEN + 1], ref[2 * PSUM_B3_OUT_LEN + 1];
            psum_b3_region_init(&r, key);
            psum_b3_region_pages(&r, pages, n, cvs);
            psum_b3_region_final(&r, digest);
            to_hex(digest, sizeof digest, ours);
            b3sum_hex(key, pages, n * PSUM_B3_PAGE_LEN, ref);
            cr_expect_str_eq(ours, ref, "%zu pages keyed=%d", n, keyed);
        }
        free(pages);
        free(cvs);
    }
}

/* The page index reaches the compression, including the counter's high word. */
Test(blake3_region, page_cv_depends_on_index)
{
    uint8_t *page = test_random_bytes(PSUM_B3_PAGE_LEN, 5);
    static const uint64_t idx[] = {0, 1, 2, (uint64_t)1 << 30, (uint64_t)1 << 31, (uint64_t)1 << 40};
    uint8_t cvs[sizeof idx / sizeof idx[0]][PSUM_B3_OUT_LEN];
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++)
        psum_b3_page_cv(NULL, page, idx[i], cvs[i]);
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++)
        for (size_t j = i + 1; j < sizeof idx / sizeof idx[0]; j++)
            cr_assert_arr_neq(cvs[i], cvs[j], PSUM_B3_OUT_LEN, "index %zu vs %zu", i, j);
    /* Keyed and unkeyed differ too. */
    uint8_t kcv[PSUM_B3_OUT_LEN];
    psum_b3_page_cv(TEST_KEY, page, 0, kcv);
    cr_assert_arr_neq(kcv, cvs[0], PSUM_B3_OUT_LEN);
    free(page);
}
