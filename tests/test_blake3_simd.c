/*
 * BLAKE3 SIMD paths: every path equals the portable one on random inputs
 * of random lengths around every chunk and page boundary (0 to 100 KiB),
 * keyed and unkeyed, through the streaming hasher, the region hasher and
 * the kernels themselves; every path equals b3sum on the official vector
 * lengths. A path this CPU cannot run is reported as skipped.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "digest/blake3.h"
#include "digest/blake3_impl.h"
#include "procsum.h"

#define MAX_LEN (100 * 1024)

static const uint8_t TEST_KEY[PSUM_B3_KEY_LEN] = "whats the Elvish word for friend";

static const size_t VECTOR_LENS[] = {
    0, 1, 1023, 1024, 1025, 2048, 2049, 3072, 3073, 4096, 4097,
    5120, 5121, 6144, 6145, 7168, 7169, 8192, 8193, 16384, 31744, 102400,
};
#define N_VECTOR_LENS (sizeof VECTOR_LENS / sizeof VECTOR_LENS[0])

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64*: reproducible, quality irrelevant */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static uint8_t *random_bytes(size_t len)
{
    uint8_t *buf = malloc(len ? len : 1);
    cr_assert_not_null(buf);
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(rng() >> 56);
    return buf;
}

/* Switches to path p for this test, or skips it (never passes silently). */
static void use_path(psum_simd_path p)
{
    if (!psum_simd_path_supported(p))
        cr_skip_test("%s: not supported by this CPU, OS or build", psum_simd_path_name(p));
    cr_assert_eq(psum_b3_set_path(p), 0);
    cr_assert_eq(psum_b3_path(), p);
}

static void hash_with(psum_simd_path p, const uint8_t *key, const uint8_t *in, size_t len, uint8_t out[32])
{
    cr_assert_eq(psum_b3_set_path(p), 0);
    psum_b3_hash(key, in, len, out);
}

/* Lengths: each chunk boundary (and so each page boundary) up to 100 KiB, +-1, and random ones. */
static size_t n_lengths(void)
{
    return 3 * (MAX_LEN / PSUM_B3_CHUNK_LEN + 1) + 100;
}

static size_t length_at(size_t i)
{
    size_t boundaries = MAX_LEN / PSUM_B3_CHUNK_LEN + 1;
    if (i < 3 * boundaries) {
        size_t b = (i / 3) * PSUM_B3_CHUNK_LEN;
        size_t len = b + (i % 3) - 1; /* b - 1, b, b + 1 */
        if (b == 0 && i % 3 == 0)
            return 0;
        return len > MAX_LEN ? MAX_LEN : len;
    }
    return (size_t)(rng() % (MAX_LEN + 1));
}

static void streaming_equals_portable(psum_simd_path p, const uint8_t *key)
{
    use_path(p);
    rng_state = 0x9E3779B97F4A7C15ull ^ (uint64_t)p ^ (key ? 0x1234 : 0);
    uint8_t *in = random_bytes(MAX_LEN);
    for (size_t i = 0; i < n_lengths(); i++) {
        size_t len = length_at(i);
        /* A fresh random offset too, so that inputs are not always aligned. */
        size_t off = len < MAX_LEN ? (size_t)(rng() % (MAX_LEN - len + 1)) : 0;
        uint8_t want[32], got[32];
        hash_with(PSUM_SIMD_PORTABLE, key, in + off, len, want);
        hash_with(p, key, in + off, len, got);
        cr_assert_arr_eq(got, want, 32, "%s: len %zu off %zu", psum_simd_path_name(p), len, off);

        /* The same bytes fed in random pieces. */
        psum_b3_hasher h;
        if (key)
            psum_b3_init_keyed(&h, key);
        else
            psum_b3_init(&h);
        for (size_t done = 0; done < len;) {
            size_t n = (size_t)(rng() % 9000) + 1;
            if (n > len - done)
                n = len - done;
            psum_b3_update(&h, in + off + done, n);
            done += n;
        }
        psum_b3_final(&h, got);
        cr_assert_arr_eq(got, want, 32, "%s: len %zu in pieces", psum_simd_path_name(p), len);
    }
    free(in);
}

static void region_equals_portable(psum_simd_path p, const uint8_t *key)
{
    use_path(p);
    rng_state = 0xD1B54A32D192ED03ull ^ (uint64_t)p ^ (key ? 0x5678 : 0);
    size_t max_pages = MAX_LEN / PSUM_B3_PAGE_LEN;
    uint8_t *pages = random_bytes(max_pages * PSUM_B3_PAGE_LEN);
    uint8_t *want_cvs = malloc(max_pages * 32), *got_cvs = malloc(max_pages * 32);
    cr_assert(want_cvs && got_cvs);

    for (size_t n = 0; n <= max_pages; n++) {
        uint8_t want[32], got[32];
        psum_b3_region r;

        cr_assert_eq(psum_b3_set_path(PSUM_SIMD_PORTABLE), 0);
        psum_b3_region_init(&r, key);
        psum_b3_region_pages(&r, pages, n, want_cvs);
        psum_b3_region_final(&r, want);

        /* In random batches: subtrees then start at other alignments. */
        cr_assert_eq(psum_b3_set_path(p), 0);
        psum_b3_region_init(&r, key);
        for (size_t done = 0; done < n;) {
            size_t k = (size_t)(rng() % 9) + 1;
            if (k > n - done)
                k = n - done;
            psum_b3_region_pages(&r, pages + done * PSUM_B3_PAGE_LEN, k, got_cvs + done * 32);
            done += k;
        }
        psum_b3_region_final(&r, got);
        cr_assert_arr_eq(got, want, 32, "%s: %zu pages", psum_simd_path_name(p), n);
        if (n)
            cr_assert_arr_eq(got_cvs, want_cvs, n * 32, "%s: page CVs of %zu pages", psum_simd_path_name(p), n);

        /* The region digest is the plain hash of the same bytes. */
        uint8_t plain[32];
        psum_b3_hash(key, pages, n * PSUM_B3_PAGE_LEN, plain);
        cr_assert_arr_eq(got, plain, 32, "%s: %zu pages vs plain hash", psum_simd_path_name(p), n);
    }
    /* A page digested alone at a far position, where the counter's high word matters. */
    static const uint64_t far[] = {0, 7, (1ull << 30) - 1, 1ull << 30, (1ull << 40) + 3};
    for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
        uint8_t want[32], got[32];
        cr_assert_eq(psum_b3_set_path(PSUM_SIMD_PORTABLE), 0);
        psum_b3_page_cv(key, pages, far[i], want);
        cr_assert_eq(psum_b3_set_path(p), 0);
        psum_b3_page_cv(key, pages, far[i], got);
        cr_assert_arr_eq(got, want, 32, "%s: page at index %llu", psum_simd_path_name(p), (unsigned long long)far[i]);
    }
    free(pages);
    free(want_cvs);
    free(got_cvs);
}

static psum_b3_hash_many_fn *kernel_of(psum_simd_path p)
{
    switch (p) {
    case PSUM_SIMD_SSE41: return psum_b3_hash_many_sse41;
    case PSUM_SIMD_AVX2: return psum_b3_hash_many_avx2;
    case PSUM_SIMD_AVX512: return psum_b3_hash_many_avx512;
    default: return psum_b3_hash_many_portable;
    }
}

/*
 * The kernel alone: any count of inputs (full groups and leftovers), chunk
 * and parent shapes, counters whose low word wraps inside a group, flags,
 * keys, and out == in.
 */
static void kernel_equals_portable(psum_simd_path p)
{
    use_path(p);
    psum_b3_hash_many_fn *k = kernel_of(p);
    rng_state = 0xA0761D6478BD642Full ^ (uint64_t)p;
    const size_t max_n = 40;
    uint8_t *in = random_bytes(max_n * PSUM_B3_CHUNK_LEN);
    uint8_t *want = malloc(max_n * 32), *got = malloc(max_n * 32);
    uint8_t *inplace = malloc(max_n * PSUM_B3_CHUNK_LEN);
    cr_assert(want && got && inplace);
    uint32_t key[8];
    for (int i = 0; i < 8; i++)
        key[i] = (uint32_t)rng();
    static const uint64_t counters[] = {0, 1, 0xFFFFFFF0ull, 0xFFFFFFFFull, 0x1FFFFFFF9ull, 0xFFFFFFFFFFFFFF00ull};
    static const size_t blocks[] = {1, 2, 15, 16};

    for (size_t n = 0; n <= max_n; n++) {
        for (size_t bi = 0; bi < sizeof blocks / sizeof blocks[0]; bi++) {
            for (size_t ci = 0; ci < sizeof counters / sizeof counters[0]; ci++) {
                bool inc = (ci + n) % 2 == 0;
                uint8_t flags = (uint8_t)(rng() % 32), fs = (uint8_t)(rng() % 4), fe = (uint8_t)(rng() % 4);
                psum_b3_hash_many_portable(in, n, blocks[bi], key, counters[ci], inc, flags, fs, fe, want);
                k(in, n, blocks[bi], key, counters[ci], inc, flags, fs, fe, got);
                if (n)
                    cr_assert_arr_eq(got, want, n * 32, "%s: n %zu blocks %zu counter %#llx inc %d",
                                     psum_simd_path_name(p), n, blocks[bi], (unsigned long long)counters[ci], inc);
            }
        }
        /* Parents in place, as the tree code does. */
        memcpy(inplace, in, n * 64);
        psum_b3_hash_many_portable(in, n, 1, key, 0, false, PSUM_B3_PARENT, 0, 0, want);
        k(inplace, n, 1, key, 0, false, PSUM_B3_PARENT, 0, 0, inplace);
        if (n)
            cr_assert_arr_eq(inplace, want, n * 32, "%s: %zu parents in place", psum_simd_path_name(p), n);
    }
    free(in);
    free(want);
    free(got);
    free(inplace);
}

static bool have_b3sum(void)
{
    return system("b3sum --version >/dev/null 2>&1") == 0;
}

static void b3sum_hex(const uint8_t *key, const uint8_t *data, size_t len, char hex[65])
{
    char data_path[] = "/tmp/psum_b3simd_XXXXXX";
    char key_path[] = "/tmp/psum_b3simd_key_XXXXXX";
    int fd = mkstemp(data_path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
    char cmd[256];
    if (key) {
        int kfd = mkstemp(key_path);
        cr_assert(kfd >= 0);
        cr_assert_eq(write(kfd, key, PSUM_B3_KEY_LEN), PSUM_B3_KEY_LEN);
        close(kfd);
        snprintf(cmd, sizeof cmd, "b3sum --keyed --no-names '%s' < '%s'", data_path, key_path);
    } else {
        snprintf(cmd, sizeof cmd, "b3sum --no-names '%s'", data_path);
    }
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    char line[128] = {0};
    bool got = fgets(line, sizeof line, f) != NULL;
    int status = pclose(f);
    unlink(data_path);
    if (key)
        unlink(key_path);
    cr_assert(got && status == 0, "b3sum failed: %s", cmd);
    line[strcspn(line, "\r\n")] = '\0';
    cr_assert_eq(strlen(line), 64);
    memcpy(hex, line, 65);
}

static void to_hex(const uint8_t *b, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[b[i] >> 4];
        hex[2 * i + 1] = digits[b[i] & 15];
    }
    hex[64] = '\0';
}

static void vectors_vs_b3sum(psum_simd_path p)
{
    use_path(p);
    if (!have_b3sum())
        cr_skip_test("b3sum not installed");
    for (size_t i = 0; i < N_VECTOR_LENS; i++) {
        size_t len = VECTOR_LENS[i];
        uint8_t *in = malloc(len ? len : 1);
        cr_assert_not_null(in);
        for (size_t j = 0; j < len; j++)
            in[j] = (uint8_t)(j % 251);
        for (int keyed = 0; keyed < 2; keyed++) {
            const uint8_t *key = keyed ? TEST_KEY : NULL;
            uint8_t out[32];
            char ours[65], ref[65];
            psum_b3_hash(key, in, len, out);
            to_hex(out, ours);
            b3sum_hex(key, in, len, ref);
            cr_expect_str_eq(ours, ref, "%s: len %zu keyed %d", psum_simd_path_name(p), len, keyed);
            /* Whole pages: the region hasher too. */
            if (len && len % PSUM_B3_PAGE_LEN == 0) {
                psum_b3_region r;
                uint8_t *cvs = malloc(len / PSUM_B3_PAGE_LEN * 32);
                cr_assert_not_null(cvs);
                psum_b3_region_init(&r, key);
                psum_b3_region_pages(&r, in, len / PSUM_B3_PAGE_LEN, cvs);
                psum_b3_region_final(&r, out);
                to_hex(out, ours);
                cr_expect_str_eq(ours, ref, "%s: region of %zu bytes keyed %d", psum_simd_path_name(p), len, keyed);
                free(cvs);
            }
        }
        free(in);
    }
}

#define PATH_TESTS(name, path)                                                   \
    Test(blake3_simd_##name, streaming) { streaming_equals_portable(path, NULL); } \
    Test(blake3_simd_##name, streaming_keyed) { streaming_equals_portable(path, TEST_KEY); } \
    Test(blake3_simd_##name, region) { region_equals_portable(path, NULL); }       \
    Test(blake3_simd_##name, region_keyed) { region_equals_portable(path, TEST_KEY); } \
    Test(blake3_simd_##name, kernel) { kernel_equals_portable(path); }            \
    Test(blake3_simd_##name, vectors_vs_b3sum) { vectors_vs_b3sum(path); }

PATH_TESTS(portable, PSUM_SIMD_PORTABLE)
PATH_TESTS(sse41, PSUM_SIMD_SSE41)
PATH_TESTS(avx2, PSUM_SIMD_AVX2)
PATH_TESTS(avx512, PSUM_SIMD_AVX512)

/* Dispatch: names, refusals, and the environment variable's cap. */
Test(blake3_dispatch, names_and_refusals)
{
    cr_expect_str_eq(psum_simd_path_name(PSUM_SIMD_PORTABLE), "portable");
    cr_expect_str_eq(psum_simd_path_name(PSUM_SIMD_SSE41), "sse41");
    cr_expect_str_eq(psum_simd_path_name(PSUM_SIMD_AVX2), "avx2");
    cr_expect_str_eq(psum_simd_path_name(PSUM_SIMD_AVX512), "avx512");
    cr_expect_str_eq(psum_simd_path_name(PSUM_SIMD_PATH_COUNT), "unknown");
    cr_expect(psum_simd_path_supported(PSUM_SIMD_PORTABLE));
    cr_expect_not(psum_simd_path_supported(PSUM_SIMD_PATH_COUNT));
    cr_expect_eq(psum_b3_set_path(PSUM_SIMD_PATH_COUNT), PROCSUM_EINVAL);
    cr_expect_eq(psum_b3_set_path((psum_simd_path)-1), PROCSUM_EINVAL);
    /* Support is monotone: each path hands its leftovers to the one below. */
    for (int p = 1; p < PSUM_SIMD_PATH_COUNT; p++)
        if (psum_simd_path_supported((psum_simd_path)p))
            cr_expect(psum_simd_path_supported((psum_simd_path)(p - 1)), "%d without %d", p, p - 1);
    for (int p = 0; p < PSUM_SIMD_PATH_COUNT; p++) {
        int err = psum_b3_set_path((psum_simd_path)p);
        if (psum_simd_path_supported((psum_simd_path)p)) {
            cr_expect_eq(err, 0);
            cr_expect_eq(psum_b3_path(), (psum_simd_path)p);
        } else {
            psum_simd_path before = psum_b3_path();
            cr_expect_eq(err, PROCSUM_ENOSYS);
            cr_expect_eq(psum_b3_path(), before, "a refused path leaves the one in use");
        }
    }
}

/* The best supported path at or below p. */
static psum_simd_path best_up_to(psum_simd_path p)
{
    while (p > PSUM_SIMD_PORTABLE && !psum_simd_path_supported(p))
        p = (psum_simd_path)(p - 1);
    return p;
}

/*
 * PROCSUM_SIMD is read once, at the first use in a process: each case runs
 * in a child that starts with no choice made yet.
 */
static psum_simd_path path_in_child(const char *env)
{
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        if (env)
            setenv("PROCSUM_SIMD", env, 1);
        else
            unsetenv("PROCSUM_SIMD");
        _exit((int)psum_b3_path());
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    return (psum_simd_path)WEXITSTATUS(status);
}

Test(blake3_dispatch, environment_caps_the_path)
{
    /* The parent must not have chosen yet, or the children would inherit its choice. */
    psum_simd_path best = best_up_to(PSUM_SIMD_AVX512);
    cr_expect_eq(path_in_child(NULL), best);
    cr_expect_eq(path_in_child(""), best);
    cr_expect_eq(path_in_child("no-such-path"), best, "an unknown name leaves the best path");
    cr_expect_eq(path_in_child("portable"), PSUM_SIMD_PORTABLE);
    cr_expect_eq(path_in_child("sse41"), best_up_to(PSUM_SIMD_SSE41));
    cr_expect_eq(path_in_child("avx2"), best_up_to(PSUM_SIMD_AVX2));
    cr_expect_eq(path_in_child("avx512"), best_up_to(PSUM_SIMD_AVX512));
}
