/*
 * BLAKE3 kernel for AVX2: eight inputs at once, one 32-bit state word of
 * each input per 256-bit register. Compiled with -mavx2; run only when the
 * dispatcher found AVX2 and the OS saves the YMM state.
 */
#include "blake3_impl.h"

#include <immintrin.h>

/* Full unrolling keeps the vector arrays in registers. */
#if defined(__GNUC__)
#define PSUM_UNROLL _Pragma("GCC unroll 16")
#else
#define PSUM_UNROLL
#endif

#define DEGREE 8
typedef __m256i vec;

/*
 * With only 16 registers for 16 state words, the message words are read
 * from memory by the additions that use them (see hash_group).
 */
#define VMSG(i) _mm256_load_si256(&msg[i])
#if defined(__GNUC__)
/* An empty asm that takes and gives back four registers: the compiler keeps each step of four together. */
#define VFENCE(a, b, c, d) __asm__("" : "+v"(a), "+v"(b), "+v"(c), "+v"(d))
#else
#define VFENCE(a, b, c, d) ((void)0)
#endif
#define VADD(a, b) _mm256_add_epi32((a), (b))
#define VXOR(a, b) _mm256_xor_si256((a), (b))
#define VROT16(x) _mm256_shuffle_epi8((x), rot16_mask)
#define VROT8(x) _mm256_shuffle_epi8((x), rot8_mask)
#define VROT12(x) _mm256_or_si256(_mm256_srli_epi32((x), 12), _mm256_slli_epi32((x), 20))
#define VROT7(x) _mm256_or_si256(_mm256_srli_epi32((x), 7), _mm256_slli_epi32((x), 25))

static inline vec set1(uint32_t x)
{
    return _mm256_set1_epi32((int)x);
}

/* r[i] word j becomes r[j] word i, for an 8x8 matrix of 32-bit words. */
static inline void transpose8(vec r[8])
{
    /* Within each 128-bit half (words 4L..4L+3): interleave pairs of rows... */
    vec t0 = _mm256_unpacklo_epi32(r[0], r[1]);
    vec t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    vec t2 = _mm256_unpacklo_epi32(r[2], r[3]);
    vec t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    vec t4 = _mm256_unpacklo_epi32(r[4], r[5]);
    vec t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    vec t6 = _mm256_unpacklo_epi32(r[6], r[7]);
    vec t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    /* ...then quads: u<g><j> half L holds rows 4g..4g+3 of word 4L+j... */
    vec u00 = _mm256_unpacklo_epi64(t0, t2);
    vec u01 = _mm256_unpackhi_epi64(t0, t2);
    vec u02 = _mm256_unpacklo_epi64(t1, t3);
    vec u03 = _mm256_unpackhi_epi64(t1, t3);
    vec u10 = _mm256_unpacklo_epi64(t4, t6);
    vec u11 = _mm256_unpackhi_epi64(t4, t6);
    vec u12 = _mm256_unpacklo_epi64(t5, t7);
    vec u13 = _mm256_unpackhi_epi64(t5, t7);
    /* ...and the halves: word j from the low halves, word 4 + j from the high ones. */
    r[0] = _mm256_permute2x128_si256(u00, u10, 0x20);
    r[1] = _mm256_permute2x128_si256(u01, u11, 0x20);
    r[2] = _mm256_permute2x128_si256(u02, u12, 0x20);
    r[3] = _mm256_permute2x128_si256(u03, u13, 0x20);
    r[4] = _mm256_permute2x128_si256(u00, u10, 0x31);
    r[5] = _mm256_permute2x128_si256(u01, u11, 0x31);
    r[6] = _mm256_permute2x128_si256(u02, u12, 0x31);
    r[7] = _mm256_permute2x128_si256(u03, u13, 0x31);
}

/* m[w] lane i = word w of the block at in + i * stride. */
static inline void load_transposed(vec m[16], const uint8_t *in, size_t stride)
{
    PSUM_UNROLL
    for (int q = 0; q < 2; q++) {
        PSUM_UNROLL
        for (int i = 0; i < DEGREE; i++)
            m[8 * q + i] = _mm256_loadu_si256((const __m256i *)(const void *)(in + (size_t)i * stride + 32 * q));
        transpose8(&m[8 * q]);
    }
}

static inline void counters(uint64_t counter, bool inc, vec *lo, vec *hi)
{
    vec base = set1((uint32_t)counter);
    vec add = inc ? _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7) : _mm256_setzero_si256();
    vec l = _mm256_add_epi32(base, add);
    vec sign = set1(0x80000000u);
    vec carry = _mm256_cmpgt_epi32(_mm256_xor_si256(base, sign), _mm256_xor_si256(l, sign));
    *lo = l;
    *hi = _mm256_sub_epi32(set1((uint32_t)(counter >> 32)), carry);
}

static void hash_group(const uint8_t *in, size_t blocks, const uint32_t key[8], uint64_t counter, bool inc,
                       uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out, size_t next_inputs)
{
    const uint8_t *next = in + DEGREE * blocks * PSUM_B3_BLOCK_LEN;
    const vec rot16_mask = _mm256_set_epi8(13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2, 13, 12, 15, 14,
                                           9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2);
    const vec rot8_mask = _mm256_set_epi8(12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1, 12, 15, 14, 13, 8,
                                          11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1);
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
        vec m[16], msg[16];
        load_transposed(m, in + b * PSUM_B3_BLOCK_LEN, stride);
        PSUM_UNROLL
        for (int i = 0; i < 16; i++)
            _mm256_store_si256(&msg[i], m[i]);
        /* Keeps the compiler from turning msg back into registers, which it would then spill. */
#if defined(__GNUC__)
        __asm__("" : : "r"(msg) : "memory");
#endif
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

    /* h[w] lane i is word w of CV i: transposed, h[i] is CV i. */
    transpose8(h);
    PSUM_UNROLL
    for (int i = 0; i < DEGREE; i++)
        _mm256_storeu_si256((__m256i *)(void *)(out + (size_t)i * PSUM_B3_OUT_LEN), h[i]);
}

void psum_b3_hash_many_avx2(const uint8_t *in, size_t n, size_t blocks, const uint32_t key[8], uint64_t counter,
                            bool inc_counter, uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out)
{
    while (n >= DEGREE) {
        hash_group(in, blocks, key, counter, inc_counter, flags, flags_start, flags_end, out,
                   psum_b3_next_inputs(n - DEGREE, blocks, DEGREE));
        in += DEGREE * blocks * PSUM_B3_BLOCK_LEN;
        out += DEGREE * PSUM_B3_OUT_LEN;
        counter += inc_counter ? DEGREE : 0;
        n -= DEGREE;
    }
    /* AVX2 implies SSE4.1 here: the dispatcher offers AVX2 only on top of it. */
    if (n)
        psum_b3_hash_many_sse41(in, n, blocks, key, counter, inc_counter, flags, flags_start, flags_end, out);
}
