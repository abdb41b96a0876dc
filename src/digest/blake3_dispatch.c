/*
 * Chooses the BLAKE3 kernel once. The CPU is asked with CPUID, and the OS
 * with XGETBV: AVX2 needs the OS to save the YMM state, AVX-512 the opmask
 * and ZMM states too, so a CPU whose OS has not enabled them never takes
 * those paths. The answer is cached; PROCSUM_SIMD (read at the same moment)
 * may cap it. Which kernels exist depends on the build: meson.build defines
 * PSUM_B3_HAVE_SSE41, _AVX2 and _AVX512 for the ones it compiled.
 */
#include "blake3_impl.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "procsum.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define PSUM_X86 1
#include <cpuid.h>
#endif

enum {
    CPU_DETECTED = 1u << 0,
    CPU_SSE41 = 1u << 1,
    CPU_AVX = 1u << 2, /* AVX and the OS saves YMM */
    CPU_AVX2 = 1u << 3,
    CPU_AVX512 = 1u << 4, /* AVX-512 F and VL, and the OS saves opmask and ZMM */
    CPU_PCLMUL = 1u << 5, /* carry-less multiply (CRC-64 without ISA-L, crc64_clmul.c) */
};

static atomic_uint cpu_features; /* 0 until detected */
static atomic_int current_path = -1;

static psum_b3_hash_many_fn *const kernels[PSUM_SIMD_PATH_COUNT] = {
    [PSUM_SIMD_PORTABLE] = psum_b3_hash_many_portable,
#if defined(PSUM_B3_HAVE_SSE41)
    [PSUM_SIMD_SSE41] = psum_b3_hash_many_sse41,
#endif
#if defined(PSUM_B3_HAVE_AVX2)
    [PSUM_SIMD_AVX2] = psum_b3_hash_many_avx2,
#endif
#if defined(PSUM_B3_HAVE_AVX512)
    [PSUM_SIMD_AVX512] = psum_b3_hash_many_avx512,
#endif
};

static const char *const names[PSUM_SIMD_PATH_COUNT] = {"portable", "sse41", "avx2", "avx512"};

#if defined(PSUM_X86)
static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

static unsigned detect(void)
{
    unsigned f = CPU_DETECTED;
#if defined(PSUM_X86)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return f;
    if (c & bit_SSE4_1)
        f |= CPU_SSE41;
    if (c & bit_PCLMUL)
        f |= CPU_PCLMUL;
    if (!(c & bit_OSXSAVE) || !(c & bit_AVX))
        return f;
    uint64_t xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) /* XMM and YMM state */
        return f;
    f |= CPU_AVX;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return f;
    if (b & bit_AVX2)
        f |= CPU_AVX2;
    /* XMM, YMM, opmask, ZMM0-15 upper halves, ZMM16-31. */
    if ((xcr0 & 0xE6) == 0xE6 && (b & bit_AVX512F) && (b & bit_AVX512VL))
        f |= CPU_AVX512;
#endif
    return f;
}

static unsigned features(void)
{
    unsigned f = atomic_load_explicit(&cpu_features, memory_order_relaxed);
    if (!f) {
        f = detect();
        atomic_store_explicit(&cpu_features, f, memory_order_relaxed);
    }
    return f;
}

bool psum_cpu_has_pclmul(void)
{
    unsigned f = features();
    return (f & CPU_PCLMUL) && (f & CPU_SSE41);
}

const char *psum_simd_path_name(psum_simd_path p)
{
    return (unsigned)p < PSUM_SIMD_PATH_COUNT ? names[p] : "unknown";
}

bool psum_simd_path_supported(psum_simd_path p)
{
    if ((unsigned)p >= PSUM_SIMD_PATH_COUNT || !kernels[p])
        return false;
    unsigned f = features();
    /* Each path hands leftovers to the one below it, so it needs that one too. */
    switch (p) {
    case PSUM_SIMD_PORTABLE: return true;
    case PSUM_SIMD_SSE41: return (f & CPU_SSE41) != 0;
    case PSUM_SIMD_AVX2: return (f & CPU_AVX2) && psum_simd_path_supported(PSUM_SIMD_SSE41);
    case PSUM_SIMD_AVX512: return (f & CPU_AVX512) && psum_simd_path_supported(PSUM_SIMD_AVX2);
    case PSUM_SIMD_PATH_COUNT: break;
    }
    return false;
}

/* The best path at or below `cap` that can run here. */
static psum_simd_path best_up_to(psum_simd_path cap)
{
    int p = (int)cap;
    while (p > 0 && !psum_simd_path_supported((psum_simd_path)p))
        p--;
    return (psum_simd_path)p;
}

static psum_simd_path initial_path(void)
{
    psum_simd_path cap = PSUM_SIMD_AVX512;
    const char *env = getenv("PROCSUM_SIMD");
    if (env && *env) {
        for (int p = 0; p < PSUM_SIMD_PATH_COUNT; p++)
            if (strcmp(env, names[p]) == 0)
                cap = (psum_simd_path)p;
        /* Anything else ("auto", a typo) leaves the best path. */
    }
    return best_up_to(cap);
}

static psum_simd_path path_now(void)
{
    int p = atomic_load_explicit(&current_path, memory_order_relaxed);
    if (p < 0) {
        int expected = -1;
        int chosen = (int)initial_path();
        /* A concurrent first use computes the same answer; a set_path in between wins. */
        if (atomic_compare_exchange_strong_explicit(&current_path, &expected, chosen, memory_order_relaxed,
                                                    memory_order_relaxed))
            p = chosen;
        else
            p = expected;
    }
    return (psum_simd_path)p;
}

psum_simd_path psum_b3_path(void)
{
    return path_now();
}

int psum_b3_set_path(psum_simd_path p)
{
    if ((unsigned)p >= PSUM_SIMD_PATH_COUNT)
        return PROCSUM_EINVAL;
    if (!psum_simd_path_supported(p))
        return PROCSUM_ENOSYS;
    atomic_store_explicit(&current_path, (int)p, memory_order_relaxed);
    return 0;
}

psum_b3_hash_many_fn *psum_b3_hash_many_current(void)
{
    return kernels[path_now()];
}

void psum_simd_vzeroupper(void)
{
#if defined(PSUM_X86)
    if (features() & CPU_AVX)
        __asm__ __volatile__("vzeroupper" ::: "memory");
#endif
}
