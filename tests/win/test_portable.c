/*
 * The portable tests that matter, in plain C for Windows: API defaults and
 * names, BLAKE3 against the official vectors on every SIMD path this CPU
 * runs, CRC-64/XZ and XXH3 against their check values, and the region
 * hashers against digests computed on Linux (the same bytes must give the
 * same digest text on every platform).
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "digest/blake3.h"
#include "digest/crc64.h"
#include "digest/digest.h"
#include "procsum.h"

static void to_hex(const uint8_t *b, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[b[i] >> 4];
        hex[2 * i + 1] = digits[b[i] & 15];
    }
    hex[2 * n] = '\0';
}

/* Input byte i of the official vectors is i mod 251. */
static uint8_t *pattern(size_t len)
{
    uint8_t *buf = malloc(len ? len : 1);
    if (buf)
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)(i % 251);
    return buf;
}

static void api_defaults(void)
{
    procsum_options o;
    memset(&o, 0xA5, sizeof(o));
    procsum_options_init(&o);
    CHECK(o.check_period_ms == 1000, "period %u", o.check_period_ms);
    CHECK(!o.skip_libs && !o.search_once && !o.include_writable_code, "boolean defaults");
    CHECK(o.algorithm == PROCSUM_ALGO_BLAKE3, "algorithm %d", (int)o.algorithm);
    procsum_options_init(NULL); /* must not crash */

    CHECK(strcmp(procsum_version_string(), "0.1.0") == 0, "version %s", procsum_version_string());
    static const char *const names[] = {"blake3", "crc64", "xxh3"};
    static const size_t lens[] = {32, 8, 8};
    for (int a = 0; a < 3; a++) {
        procsum_algorithm parsed;
        CHECK(strcmp(procsum_algorithm_name((procsum_algorithm)a), names[a]) == 0, "name of %d", a);
        CHECK(procsum_algorithm_parse(names[a], &parsed) == 0 && parsed == (procsum_algorithm)a, "parse %s", names[a]);
        CHECK(procsum_digest_len((procsum_algorithm)a) == lens[a], "digest length of %s", names[a]);
    }
    procsum_algorithm parsed;
    CHECK(procsum_algorithm_parse("md5", &parsed) == PROCSUM_EINVAL, "unknown algorithm refused");
    CHECK(procsum_algorithm_parse(NULL, &parsed) == PROCSUM_EINVAL, "NULL name refused");
    CHECK(procsum_algorithm_name((procsum_algorithm)7) == NULL, "unknown algorithm has no name");
    CHECK(procsum_digest_len((procsum_algorithm)7) == 0, "unknown algorithm has no length");
    CHECK(strcmp(procsum_region_kind_name(PROCSUM_REGION_FILE), "file") == 0, "kind file");
    CHECK(strcmp(procsum_region_kind_name(PROCSUM_REGION_ANON), "anon") == 0, "kind anon");
    CHECK(strcmp(procsum_region_kind_name(PROCSUM_REGION_VDSO), "vdso") == 0, "kind vdso");
    CHECK(strcmp(procsum_region_kind_name(PROCSUM_REGION_OTHER), "other") == 0, "kind other");
}

static void api_errors(void)
{
    static const int codes[] = {PROCSUM_EPERM,  PROCSUM_ENOENT, PROCSUM_ESRCH,   PROCSUM_EIO,    PROCSUM_EAGAIN,
                                PROCSUM_ENOMEM, PROCSUM_EACCES, PROCSUM_EFAULT,  PROCSUM_EBUSY,  PROCSUM_EINVAL,
                                PROCSUM_ERANGE, PROCSUM_ENOSYS, PROCSUM_EBADMSG, PROCSUM_ECANCELED};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        CHECK(strcmp(procsum_strerror(codes[i]), "unknown error") != 0, "words for %d", codes[i]);
        CHECK(strncmp(procsum_err_name(codes[i]), "PROCSUM_E", 9) == 0, "name for %d", codes[i]);
    }
    CHECK(strcmp(procsum_strerror(0), "success") == 0, "success");
    CHECK(strcmp(procsum_strerror(-4242), "unknown error") == 0, "unknown code");
    CHECK(strcmp(procsum_err_name(-4242), "PROCSUM_EUNKNOWN") == 0, "unknown name");

    procsum_checker *c = (procsum_checker *)1;
    CHECK(procsum_start(NULL, NULL, NULL, &c) == PROCSUM_EINVAL && c == NULL, "start without options");
    procsum_options o;
    procsum_options_init(&o);
    o.algorithm = (procsum_algorithm)9;
    CHECK(procsum_start(&o, NULL, NULL, &c) == PROCSUM_EINVAL, "start with a bad algorithm");
    CHECK(procsum_start(&o, NULL, NULL, NULL) == PROCSUM_EINVAL, "start without out");
    CHECK(procsum_stop(NULL) == 0, "stop NULL");
    CHECK(procsum_mismatch_count(NULL) == 0, "count NULL");
    CHECK(procsum_benchmark(&o, NULL) == PROCSUM_EINVAL, "benchmark without out");
    procsum_benchmark_result_free(NULL);
}

/* Official vectors: unkeyed for these lengths, keyed for a few. */
static const struct {
    size_t len;
    const char *hex;
} VECTORS[] = {
    {0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
    {1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"},
    {1023, "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11"},
    {1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"},
    {1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444"},
    {2048, "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a"},
    {2049, "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030"},
    {3072, "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2"},
    {3073, "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3"},
    {4096, "015094013f57a5277b59d8475c0501042c0b642e531b0a1c8f58d2163229e969"},
    {4097, "9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb995"},
    {5120, "9cadc15fed8b5d854562b26a9536d9707cadeda9b143978f319ab34230535833"},
    {5121, "628bd2cb2004694adaab7bbd778a25df25c47b9d4155a55f8fbd79f2fe154cff"},
    {6144, "3e2e5b74e048f3add6d21faab3f83aa44d3b2278afb83b80b3c35164ebeca205"},
    {6145, "f1323a8631446cc50536a9f705ee5cb619424d46887f3c376c695b70e0f0507f"},
    {7168, "61da957ec2499a95d6b8023e2b0e604ec7f6b50e80a9678b89d2628e99ada77a"},
    {7169, "a003fc7a51754a9b3c7fae0367ab3d782dccf28855a03d435f8cfe74605e7817"},
    {8192, "aae792484c8efe4f19e2ca7d371d8c467ffb10748d8a5a1ae579948f718a2a63"},
    {8193, "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b"},
    {16384, "f875d6646de28985646f34ee13be9a576fd515f76b5b0a26bb324735041ddde4"},
    {31744, "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47"},
    {102400, "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085"},
};

static const uint8_t TEST_KEY[PSUM_B3_KEY_LEN] = {'w', 'h', 'a', 't', 's', ' ', 't', 'h', 'e', ' ', 'E',
                                                  'l', 'v', 'i', 's', 'h', ' ', 'w', 'o', 'r', 'd', ' ',
                                                  'f', 'o', 'r', ' ', 'f', 'r', 'i', 'e', 'n', 'd'};

static const struct {
    size_t len;
    const char *hex;
} KEYED_VECTORS[] = {
    {0, "92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26"},
    {1, "6d7878dfff2f485635d39013278ae14f1454b8c0a3a2d34bc1ab38228a80c95b"},
    {1024, "75c46f6f3d9eb4f55ecaaee480db732e6c2105546f1e675003687c31719c7ba4"},
    {4096, "befc660aea2f1718884cd8deb9902811d332f4fc4a38cf7c7300d597a081bfc0"},
    {8193, "954a2a75420c8d6547e3ba5b98d963e6fa6491addc8c023189cc519821b4a1f5"},
};

/* b3sum of 8 and 4 pattern pages, unkeyed and keyed. */
static const char REGION8_HEX[] = "162183d1f9184474f5a5c9e6224e66720cdb6523f822e52d9b1efa30893f48f9";
static const char REGION8_KEYED_HEX[] = "b55ea5b43fc6d975a3084de4a7947e3416bdcfc67f090999f54903e1298e6b0f";

static void blake3_on_current_path(const char *path)
{
    uint8_t *in = pattern(102400);
    if (!in) {
        CHECK(0, "out of memory");
        return;
    }
    uint8_t out[PSUM_B3_OUT_LEN];
    char hex[2 * PSUM_B3_OUT_LEN + 1];
    for (size_t i = 0; i < sizeof(VECTORS) / sizeof(VECTORS[0]); i++) {
        psum_b3_hash(NULL, in, VECTORS[i].len, out);
        to_hex(out, sizeof(out), hex);
        CHECK(strcmp(hex, VECTORS[i].hex) == 0, "%s: len %zu: %s", path, VECTORS[i].len, hex);
    }
    for (size_t i = 0; i < sizeof(KEYED_VECTORS) / sizeof(KEYED_VECTORS[0]); i++) {
        psum_b3_hash(TEST_KEY, in, KEYED_VECTORS[i].len, out);
        to_hex(out, sizeof(out), hex);
        CHECK(strcmp(hex, KEYED_VECTORS[i].hex) == 0, "%s: keyed len %zu: %s", path, KEYED_VECTORS[i].len, hex);
    }
    /* The region hasher, fed in uneven batches, gives b3sum's digest and the page CVs computed alone. */
    for (int keyed = 0; keyed < 2; keyed++) {
        const uint8_t *key = keyed ? TEST_KEY : NULL;
        psum_b3_region r;
        uint8_t cvs[8 * PSUM_B3_OUT_LEN];
        psum_b3_region_init(&r, key);
        psum_b3_region_pages(&r, in, 3, cvs);
        psum_b3_region_pages(&r, in + 3 * 4096, 1, cvs + 3 * PSUM_B3_OUT_LEN);
        psum_b3_region_pages(&r, in + 4 * 4096, 4, cvs + 4 * PSUM_B3_OUT_LEN);
        psum_b3_region_final(&r, out);
        to_hex(out, sizeof(out), hex);
        CHECK(strcmp(hex, keyed ? REGION8_KEYED_HEX : REGION8_HEX) == 0, "%s: region keyed=%d: %s", path, keyed, hex);
        for (size_t p = 0; p < 8; p++) {
            uint8_t cv[PSUM_B3_OUT_LEN];
            psum_b3_page_cv(key, in + p * 4096, p, cv);
            CHECK(memcmp(cv, cvs + p * PSUM_B3_OUT_LEN, sizeof(cv)) == 0, "%s: page %zu cv keyed=%d", path, p, keyed);
        }
    }
    free(in);
}

static void blake3_every_path(void)
{
    int paths = 0;
    for (int p = 0; p < PSUM_SIMD_PATH_COUNT; p++) {
        if (!psum_simd_path_supported((psum_simd_path)p))
            continue;
        CHECK(psum_b3_set_path((psum_simd_path)p) == 0, "switch to %s", psum_simd_path_name((psum_simd_path)p));
        printf("  blake3 path %s\n", psum_simd_path_name(psum_b3_path()));
        blake3_on_current_path(psum_simd_path_name((psum_simd_path)p));
        paths++;
    }
    CHECK(paths >= 1, "the portable path at least");
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void crc64_and_xxh3(void)
{
    CHECK(psum_crc64(0, "123456789", 9) == 0x995DC9BBDF1939FAull, "CRC-64/XZ check value");
    CHECK(psum_crc64(psum_crc64(0, "1234", 4), "56789", 5) == 0x995DC9BBDF1939FAull, "CRC-64 continued");
    CHECK(psum_crc64(0, "", 0) == 0, "CRC-64 of nothing");
    CHECK(psum_xxh3("", 0) == 0x2D06800538D394C2ull, "XXH3 of nothing");
    CHECK(psum_xxh3("123456789", 9) == 0x72DCB18B67A17DFFull, "XXH3 of 123456789");
    /* Without ISA-L, a page goes through the carry-less multiply where the CPU has it: the table's values. */
    static uint8_t page[4096 + 3];
    for (size_t i = 0; i < sizeof(page); i++)
        page[i] = (uint8_t)(i * 131u + (i >> 7));
    printf("  CRC-64 without ISA-L: %s\n", psum_crc64_prepare());
    for (size_t len = 4000; len < sizeof(page); len += 13)
        CHECK(psum_crc64(7, page + 3, len - 3) == psum_crc64_portable(7, page + 3, len - 3),
              "CRC-64 of %zu bytes as the table gives it", len - 3);
}

/* Region hashers over 4 pattern pages, against digests computed on Linux with ISA-L-free C and libxxhash. */
static void region_hashers(void)
{
    static const struct {
        procsum_algorithm algo;
        uint64_t pages[4];
        uint64_t region;
    } want[] = {
        {PROCSUM_ALGO_CRC64,
         {0xc11ca2ad6897cf60ull, 0x418413bc5c1e61f2ull, 0xeb4ef44ad0391c0full, 0x33fade32cba2bafdull},
         0x91e4405b26cb0198ull},
        {PROCSUM_ALGO_XXH3,
         {0x7135ffa504f1bc71ull, 0x040c7b32b8767f94ull, 0x47a5fc5f0c2ee5baull, 0x8f82bdc631c4ee31ull},
         0x7c49e7409179d06eull},
    };
    uint8_t *in = pattern(4 * 4096);
    if (!in) {
        CHECK(0, "out of memory");
        return;
    }
    for (size_t a = 0; a < sizeof(want) / sizeof(want[0]); a++) {
        psum_region_hasher h;
        uint8_t digests[4 * 8], region[PROCSUM_MAX_DIGEST] = {0};
        psum_region_hasher_init(&h, want[a].algo);
        psum_region_hasher_pages(&h, in, 1, digests);
        psum_region_hasher_pages(&h, in + 4096, 3, digests + 8);
        psum_region_hasher_final(&h, region);
        const char *name = procsum_algorithm_name(want[a].algo);
        for (size_t p = 0; p < 4; p++) {
            CHECK(be64(digests + 8 * p) == want[a].pages[p], "%s page %zu", name, p);
            uint8_t alone[PROCSUM_MAX_DIGEST];
            psum_page_digest_at(want[a].algo, in + p * 4096, p, alone);
            CHECK(memcmp(alone, digests + 8 * p, 8) == 0, "%s page %zu alone", name, p);
        }
        CHECK(be64(region) == want[a].region, "%s region", name);
    }
    /* BLAKE3 through the same interface: the region digest is b3sum's. */
    psum_region_hasher h;
    uint8_t digests[4 * PSUM_B3_OUT_LEN], region[PROCSUM_MAX_DIGEST];
    char hex[2 * PSUM_B3_OUT_LEN + 1];
    psum_region_hasher_init(&h, PROCSUM_ALGO_BLAKE3);
    psum_region_hasher_pages(&h, in, 4, digests);
    psum_region_hasher_final(&h, region);
    to_hex(region, PSUM_B3_OUT_LEN, hex);
    CHECK(strcmp(hex, "f875d6646de28985646f34ee13be9a576fd515f76b5b0a26bb324735041ddde4") == 0, "blake3 region %s",
          hex);
    free(in);
}

int main(void)
{
    RUN(api_defaults);
    RUN(api_errors);
    RUN(blake3_every_path);
    RUN(crc64_and_xxh3);
    RUN(region_hashers);
    return check_summary("test_portable");
}
