/*
 * BLAKE3 kernel for AVX-512: sixteen inputs at once (eight and four for the
 * rest, on narrower registers), one 32-bit state word
 * of each input per 512-bit register; rotations are single VPRORD
 * instructions. Compiled with -mavx512f -mavx512vl; run only when the
 * dispatcher found AVX-512F and VL and the OS saves the ZMM state.
 */
#include "blake3_impl.h"

#include <immintrin.h>

/* Full unrolling keeps the vector arrays in registers. */
#if defined(__GNUC__)
#define PSUM_UNROLL _Pragma("GCC unroll 16")
#else
#define PSUM_UNROLL
#endif

#define DEGREE 16
typedef __m512i vec;

#define VMSG(i) m[i]
#if defined(__GNUC__)
/* An empty asm that takes and gives back four registers: the compiler keeps each step of four together. */
#define VFENCE(a, b, c, d) __asm__("" : "+v"(a), "+v"(b), "+v"(c), "+v"(d))
#else
#define VFENCE(a, b, c, d) ((void)0)
#endif
#define VADD(a, b) _mm512_add_epi32((a), (b))
#define VXOR(a, b) _mm512_xor_si512((a), (b))
#define VROT16(x) _mm512_ror_epi32((x), 16)
#define VROT12(x) _mm512_ror_epi32((x), 12)
#define VROT8(x) _mm512_ror_epi32((x), 8)
#define VROT7(x) _mm512_ror_epi32((x), 7)

static inline vec set1(uint32_t x)
{
    return _mm512_set1_epi32((int)x);
}

static inline __m128i ld128(const uint8_t *p)
{
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/*
 * m[w] lane i = word w of the block at in + i * stride (a 16x16 transpose).
 * The loads do the cross-lane half of it: x[k] of quarter q gets words
 * 4q..4q+3 of rows k, k+4, k+8, k+12 in its four 128-bit lanes; a 4x4
 * transpose inside each lane then leaves m[4q+j] lane 4L+k = row 4L+k's
 * word 4q+j. (Inserts from memory were measured cheaper than a full
 * in-register transpose.)
 */
static inline void load_transposed(vec m[16], const uint8_t *in, size_t stride)
{
    PSUM_UNROLL
    for (int q = 0; q < 4; q++) {
        vec x[4];
        PSUM_UNROLL
        for (int k = 0; k < 4; k++) {
            const uint8_t *p = in + 16 * q + (size_t)k * stride;
            vec t = _mm512_castsi128_si512(ld128(p));
            t = _mm512_inserti32x4(t, ld128(p + 4 * stride), 1);
            t = _mm512_inserti32x4(t, ld128(p + 8 * stride), 2);
            x[k] = _mm512_inserti32x4(t, ld128(p + 12 * stride), 3);
        }
        vec t0 = _mm512_unpacklo_epi32(x[0], x[1]);
        vec t1 = _mm512_unpackhi_epi32(x[0], x[1]);
        vec t2 = _mm512_unpacklo_epi32(x[2], x[3]);
        vec t3 = _mm512_unpackhi_epi32(x[2], x[3]);
        m[4 * q + 0] = _mm512_unpacklo_epi64(t0, t2);
        m[4 * q + 1] = _mm512_unpackhi_epi64(t0, t2);
        m[4 * q + 2] = _mm512_unpacklo_epi64(t1, t3);
        m[4 * q + 3] = _mm512_unpackhi_epi64(t1, t3);
    }
}

/* h[w] lane i is word w of CV i: stores the 16 CVs, 32 bytes each, in order. */
static inline void store_transposed(const vec h[8], uint8_t *out)
{
    vec s[8], a[4], b[4];
    PSUM_UNROLL
    for (int k = 0; k < 4; k++) {
        s[2 * k] = _mm512_unpacklo_epi32(h[2 * k], h[2 * k + 1]);
        s[2 * k + 1] = _mm512_unpackhi_epi32(h[2 * k], h[2 * k + 1]);
    }
    /* a[j] lane L: words 0..3 of CV 4L+j; b[j] lane L: its words 4..7. */
    a[0] = _mm512_unpacklo_epi64(s[0], s[2]);
    a[1] = _mm512_unpackhi_epi64(s[0], s[2]);
    a[2] = _mm512_unpacklo_epi64(s[1], s[3]);
    a[3] = _mm512_unpackhi_epi64(s[1], s[3]);
    b[0] = _mm512_unpacklo_epi64(s[4], s[6]);
    b[1] = _mm512_unpackhi_epi64(s[4], s[6]);
    b[2] = _mm512_unpacklo_epi64(s[5], s[7]);
    b[3] = _mm512_unpackhi_epi64(s[5], s[7]);
    PSUM_UNROLL
    for (int j = 0; j < 4; j += 2) {
        vec p_lo = _mm512_shuffle_i32x4(a[j], b[j], 0x44);         /* a.0 a.1 b.0 b.1 */
        vec q_lo = _mm512_shuffle_i32x4(a[j + 1], b[j + 1], 0x44); /* the same for CV 4L+j+1 */
        vec p_hi = _mm512_shuffle_i32x4(a[j], b[j], 0xEE);         /* a.2 a.3 b.2 b.3 */
        vec q_hi = _mm512_shuffle_i32x4(a[j + 1], b[j + 1], 0xEE);
        /* Each result is CV 4L+j then CV 4L+j+1. */
        _mm512_storeu_si512((void *)(out + (size_t)(0 + j) * PSUM_B3_OUT_LEN), _mm512_shuffle_i32x4(p_lo, q_lo, 0x88));
        _mm512_storeu_si512((void *)(out + (size_t)(4 + j) * PSUM_B3_OUT_LEN), _mm512_shuffle_i32x4(p_lo, q_lo, 0xDD));
        _mm512_storeu_si512((void *)(out + (size_t)(8 + j) * PSUM_B3_OUT_LEN), _mm512_shuffle_i32x4(p_hi, q_hi, 0x88));
        _mm512_storeu_si512((void *)(out + (size_t)(12 + j) * PSUM_B3_OUT_LEN), _mm512_shuffle_i32x4(p_hi, q_hi, 0xDD));
    }
}

static inline void counters(uint64_t counter, bool inc, vec *lo, vec *hi)
{
    vec base = set1((uint32_t)counter);
    vec add = inc ? _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) : _mm512_setzero_si512();
    vec l = _mm512_add_epi32(base, add);
    __mmask16 carry = _mm512_cmplt_epu32_mask(l, base);
    vec h = set1((uint32_t)(counter >> 32));
    *lo = l;
    *hi = _mm512_mask_add_epi32(h, carry, h, set1(1));
}

static void hash_group(const uint8_t *in, size_t blocks, const uint32_t key[8], uint64_t counter, bool inc,
                       uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out, size_t next_inputs)
{
    const uint8_t *next = in + DEGREE * blocks * PSUM_B3_BLOCK_LEN;
    const size_t stride = blocks * PSUM_B3_BLOCK_LEN;
    vec h[8];
    PSUM_UNROLL
    for (int i = 0; i < 8; i++)
        h[i] = set1(key[i]);
    vec ctr_lo, ctr_hi;
    counters(counter, inc, &ctr_lo, &ctr_hi);

    uint32_t block_flags = (uint32_t)flags | flags_start;
    for (size_t b = 0; b < blocks; b++) {
        if (b + 1 == blocks)
            block_flags |= flags_end;
        psum_b3_prefetch_block(next, next_inputs, stride, b);
        vec m[16];
        load_transposed(m, in + b * PSUM_B3_BLOCK_LEN, stride);
        VFENCE(m[0], m[1], m[2], m[3]);
        VFENCE(m[4], m[5], m[6], m[7]);
        VFENCE(m[8], m[9], m[10], m[11]);
        VFENCE(m[12], m[13], m[14], m[15]);
        vec v[16] = {
            h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7],
            set1(PSUM_B3_IV0), set1(PSUM_B3_IV1), set1(PSUM_B3_IV2), set1(PSUM_B3_IV3),
            ctr_lo, ctr_hi, set1(PSUM_B3_BLOCK_LEN), set1(block_flags),
        };
        PSUM_B3_FOR_EACH_ROUND(PSUM_B3_VROUND)
        PSUM_UNROLL
        for (int i = 0; i < 8; i++)
            h[i] = VXOR(v[i], v[i + 8]);
        block_flags = flags;
    }
    store_transposed(h, out);
}

/*
 * Eight and four inputs at once, for leftovers and the upper tree levels:
 * the same transposed code on 256- and 128-bit registers, with AVX-512VL's
 * rotations and its 32 registers (the AVX2 and SSE4.1 kernels have neither).
 */
#undef VADD
#undef VXOR
#undef VROT16
#undef VROT12
#undef VROT8
#undef VROT7
#define VADD(a, b) _mm256_add_epi32((a), (b))
#define VXOR(a, b) _mm256_xor_si256((a), (b))
#define VROT16(x) _mm256_ror_epi32((x), 16)
#define VROT12(x) _mm256_ror_epi32((x), 12)
#define VROT8(x) _mm256_ror_epi32((x), 8)
#define VROT7(x) _mm256_ror_epi32((x), 7)

/* r[i] word j becomes r[j] word i, for an 8x8 matrix of 32-bit words. */
static inline void transpose8(__m256i r[8])
{
    __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]);
    __m256i t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]);
    __m256i t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]);
    __m256i t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]);
    __m256i t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    __m256i u00 = _mm256_unpacklo_epi64(t0, t2);
    __m256i u01 = _mm256_unpackhi_epi64(t0, t2);
    __m256i u02 = _mm256_unpacklo_epi64(t1, t3);
    __m256i u03 = _mm256_unpackhi_epi64(t1, t3);
    __m256i u10 = _mm256_unpacklo_epi64(t4, t6);
    __m256i u11 = _mm256_unpackhi_epi64(t4, t6);
    __m256i u12 = _mm256_unpacklo_epi64(t5, t7);
    __m256i u13 = _mm256_unpackhi_epi64(t5, t7);
    r[0] = _mm256_permute2x128_si256(u00, u10, 0x20);
    r[1] = _mm256_permute2x128_si256(u01, u11, 0x20);
    r[2] = _mm256_permute2x128_si256(u02, u12, 0x20);
    r[3] = _mm256_permute2x128_si256(u03, u13, 0x20);
    r[4] = _mm256_permute2x128_si256(u00, u10, 0x31);
    r[5] = _mm256_permute2x128_si256(u01, u11, 0x31);
    r[6] = _mm256_permute2x128_si256(u02, u12, 0x31);
    r[7] = _mm256_permute2x128_si256(u03, u13, 0x31);
}

static void hash_group8(const uint8_t *in, size_t blocks, const uint32_t key[8], uint64_t counter, bool inc,
                        uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out)
{
    const size_t stride = blocks * PSUM_B3_BLOCK_LEN;
    __m256i h[8];
    PSUM_UNROLL
    for (int i = 0; i < 8; i++)
        h[i] = _mm256_set1_epi32((int)key[i]);
    __m256i base = _mm256_set1_epi32((int)(uint32_t)counter);
    __m256i ctr_lo = _mm256_add_epi32(base, inc ? _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7) : _mm256_setzero_si256());
    __m256i ctr_hi = _mm256_set1_epi32((int)(uint32_t)(counter >> 32));
    ctr_hi = _mm256_mask_add_epi32(ctr_hi, _mm256_cmplt_epu32_mask(ctr_lo, base), ctr_hi, _mm256_set1_epi32(1));

    uint32_t block_flags = (uint32_t)flags | flags_start;
    for (size_t b = 0; b < blocks; b++) {
        if (b + 1 == blocks)
            block_flags |= flags_end;
        __m256i m[16];
        PSUM_UNROLL
        for (int q = 0; q < 2; q++) {
            PSUM_UNROLL
            for (int i = 0; i < 8; i++)
                m[8 * q + i] = _mm256_loadu_si256(
                    (const __m256i *)(const void *)(in + (size_t)i * stride + b * PSUM_B3_BLOCK_LEN + 32 * q));
            transpose8(&m[8 * q]);
        }
        __m256i v[16] = {
            h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7],
            _mm256_set1_epi32((int)PSUM_B3_IV0), _mm256_set1_epi32((int)PSUM_B3_IV1),
            _mm256_set1_epi32((int)PSUM_B3_IV2), _mm256_set1_epi32((int)PSUM_B3_IV3),
            ctr_lo, ctr_hi, _mm256_set1_epi32(PSUM_B3_BLOCK_LEN), _mm256_set1_epi32((int)block_flags),
        };
        PSUM_B3_FOR_EACH_ROUND(PSUM_B3_VROUND)
        PSUM_UNROLL
        for (int i = 0; i < 8; i++)
            h[i] = VXOR(v[i], v[i + 8]);
        block_flags = flags;
    }
    transpose8(h);
    PSUM_UNROLL
    for (int i = 0; i < 8; i++)
        _mm256_storeu_si256((__m256i *)(void *)(out + (size_t)i * PSUM_B3_OUT_LEN), h[i]);
}

#undef VADD
#undef VXOR
#undef VROT16
#undef VROT12
#undef VROT8
#undef VROT7
#define VADD(a, b) _mm_add_epi32((a), (b))
#define VXOR(a, b) _mm_xor_si128((a), (b))
#define VROT16(x) _mm_ror_epi32((x), 16)
#define VROT12(x) _mm_ror_epi32((x), 12)
#define VROT8(x) _mm_ror_epi32((x), 8)
#define VROT7(x) _mm_ror_epi32((x), 7)

/* r[i] word j becomes r[j] word i. */
static inline void transpose4(__m128i r[4])
{
    __m128i t0 = _mm_unpacklo_epi32(r[0], r[1]);
    __m128i t1 = _mm_unpackhi_epi32(r[0], r[1]);
    __m128i t2 = _mm_unpacklo_epi32(r[2], r[3]);
    __m128i t3 = _mm_unpackhi_epi32(r[2], r[3]);
    r[0] = _mm_unpacklo_epi64(t0, t2);
    r[1] = _mm_unpackhi_epi64(t0, t2);
    r[2] = _mm_unpacklo_epi64(t1, t3);
    r[3] = _mm_unpackhi_epi64(t1, t3);
}

static void hash_group4(const uint8_t *in, size_t blocks, const uint32_t key[8], uint64_t counter, bool inc,
                        uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out)
{
    const size_t stride = blocks * PSUM_B3_BLOCK_LEN;
    __m128i h[8];
    PSUM_UNROLL
    for (int i = 0; i < 8; i++)
        h[i] = _mm_set1_epi32((int)key[i]);
    __m128i base = _mm_set1_epi32((int)(uint32_t)counter);
    __m128i ctr_lo = _mm_add_epi32(base, inc ? _mm_setr_epi32(0, 1, 2, 3) : _mm_setzero_si128());
    __m128i ctr_hi = _mm_set1_epi32((int)(uint32_t)(counter >> 32));
    ctr_hi = _mm_mask_add_epi32(ctr_hi, _mm_cmplt_epu32_mask(ctr_lo, base), ctr_hi, _mm_set1_epi32(1));

    uint32_t block_flags = (uint32_t)flags | flags_start;
    for (size_t b = 0; b < blocks; b++) {
        if (b + 1 == blocks)
            block_flags |= flags_end;
        __m128i m[16];
        PSUM_UNROLL
        for (int q = 0; q < 4; q++) {
            PSUM_UNROLL
            for (int i = 0; i < 4; i++)
                m[4 * q + i] = _mm_loadu_si128(
                    (const __m128i *)(const void *)(in + (size_t)i * stride + b * PSUM_B3_BLOCK_LEN + 16 * q));
            transpose4(&m[4 * q]);
        }
        __m128i v[16] = {
            h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7],
            _mm_set1_epi32((int)PSUM_B3_IV0), _mm_set1_epi32((int)PSUM_B3_IV1),
            _mm_set1_epi32((int)PSUM_B3_IV2), _mm_set1_epi32((int)PSUM_B3_IV3),
            ctr_lo, ctr_hi, _mm_set1_epi32(PSUM_B3_BLOCK_LEN), _mm_set1_epi32((int)block_flags),
        };
        PSUM_B3_FOR_EACH_ROUND(PSUM_B3_VROUND)
        PSUM_UNROLL
        for (int i = 0; i < 8; i++)
            h[i] = VXOR(v[i], v[i + 8]);
        block_flags = flags;
    }
    transpose4(&h[0]);
    transpose4(&h[4]);
    PSUM_UNROLL
    for (int i = 0; i < 4; i++) {
        _mm_storeu_si128((__m128i *)(void *)(out + (size_t)i * PSUM_B3_OUT_LEN), h[i]);
        _mm_storeu_si128((__m128i *)(void *)(out + (size_t)i * PSUM_B3_OUT_LEN + 16), h[4 + i]);
    }
}

void psum_b3_hash_many_avx512(const uint8_t *in, size_t n, size_t blocks, const uint32_t key[8], uint64_t counter,
                              bool inc_counter, uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out)
{
    const size_t input_len = blocks * PSUM_B3_BLOCK_LEN;
    while (n >= DEGREE) {
        hash_group(in, blocks, key, counter, inc_counter, flags, flags_start, flags_end, out,
                   psum_b3_next_inputs(n - DEGREE, blocks, DEGREE));
        in += DEGREE * input_len;
        out += DEGREE * PSUM_B3_OUT_LEN;
        counter += inc_counter ? DEGREE : 0;
        n -= DEGREE;
    }
    if (n >= 8) {
        hash_group8(in, blocks, key, counter, inc_counter, flags, flags_start, flags_end, out);
        in += 8 * input_len;
        out += 8 * PSUM_B3_OUT_LEN;
        counter += inc_counter ? 8 : 0;
        n -= 8;
    }
    if (n >= 4) {
        hash_group4(in, blocks, key, counter, inc_counter, flags, flags_start, flags_end, out);
        in += 4 * input_len;
        out += 4 * PSUM_B3_OUT_LEN;
        counter += inc_counter ? 4 : 0;
        n -= 4;
    }
    if (n)
        psum_b3_hash_many_portable(in, n, blocks, key, counter, inc_counter, flags, flags_start, flags_end, out);
}
