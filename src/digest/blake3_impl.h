/*
 * BLAKE3 internals shared by the tree logic (blake3.c), the per-ISA kernels
 * (blake3_portable.c, blake3_sse41.c, blake3_avx2.c, blake3_avx512.c) and
 * the dispatcher (blake3_dispatch.c). Not installed, not exported.
 */
#ifndef PSUM_BLAKE3_IMPL_H
#define PSUM_BLAKE3_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blake3.h"

/* Domain flags of the specification (section 2.1). */
enum {
    PSUM_B3_CHUNK_START = 1u << 0,
    PSUM_B3_CHUNK_END = 1u << 1,
    PSUM_B3_PARENT = 1u << 2,
    PSUM_B3_ROOT = 1u << 3,
    PSUM_B3_KEYED_HASH = 1u << 4,
};

#define PSUM_B3_BLOCKS_PER_CHUNK (PSUM_B3_CHUNK_LEN / PSUM_B3_BLOCK_LEN)

/* The IV: the first 32 bits of the fractional parts of the square roots of the first 8 primes. */
#define PSUM_B3_IV0 0x6A09E667u
#define PSUM_B3_IV1 0xBB67AE85u
#define PSUM_B3_IV2 0x3C6EF372u
#define PSUM_B3_IV3 0xA54FF53Au
#define PSUM_B3_IV4 0x510E527Fu
#define PSUM_B3_IV5 0x9B05688Cu
#define PSUM_B3_IV6 0x1F83D9ABu
#define PSUM_B3_IV7 0x5BE0CD19u

extern const uint32_t psum_b3_iv[8];

/*
 * The message word order of the 7 rounds: row r is the specification's
 * permutation {2,6,3,10,7,0,4,13,1,11,12,5,9,14,15,8} applied r times.
 * X(r, s0..s15) is expanded once per round, so that vector kernels index
 * their transposed message words with constants and never permute.
 * Within a round, G i (columns 0..3, then diagonals 0..3) takes the words
 * s[2i] and s[2i+1].
 */
#define PSUM_B3_FOR_EACH_ROUND(X)                                      \
    X(0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)         \
    X(1, 2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8)         \
    X(2, 3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1)         \
    X(3, 10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6)         \
    X(4, 12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4)         \
    X(5, 9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7)         \
    X(6, 11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13)

/*
 * The round for vector kernels that hold one state word of every lane per
 * register ("transposed": lane i is input i). The including file defines
 * VADD, VXOR, VROT16, VROT12, VROT8, VROT7 (right rotations) for its vector
 * type, names its state v[16], and defines VMSG(i) as message word i. The four G functions of
 * a half-round are interleaved step by step, to expose their independence,
 * and VFENCE(a, b, c, d) may pin that order: GCC's own scheduling of these
 * long dependency chains was measured 5-10% slower on AMD Zen 4.
 */
#define PSUM_B3_G4(a0, b0, c0, d0, a1, b1, c1, d1, a2, b2, c2, d2, a3, b3, c3, d3, x0, y0, x1, y1, x2, y2, x3, y3) \
    v[a0] = VADD(v[a0], x0);                                                                                       \
    v[a1] = VADD(v[a1], x1);                                                                                       \
    v[a2] = VADD(v[a2], x2);                                                                                       \
    v[a3] = VADD(v[a3], x3);                                                                                       \
    VFENCE(v[a0], v[a1], v[a2], v[a3]);                                                                            \
    v[a0] = VADD(v[a0], v[b0]);                                                                                    \
    v[a1] = VADD(v[a1], v[b1]);                                                                                    \
    v[a2] = VADD(v[a2], v[b2]);                                                                                    \
    v[a3] = VADD(v[a3], v[b3]);                                                                                    \
    VFENCE(v[a0], v[a1], v[a2], v[a3]);                                                                            \
    v[d0] = VROT16(VXOR(v[d0], v[a0]));                                                                            \
    v[d1] = VROT16(VXOR(v[d1], v[a1]));                                                                            \
    v[d2] = VROT16(VXOR(v[d2], v[a2]));                                                                            \
    v[d3] = VROT16(VXOR(v[d3], v[a3]));                                                                            \
    VFENCE(v[d0], v[d1], v[d2], v[d3]);                                                                            \
    v[c0] = VADD(v[c0], v[d0]);                                                                                    \
    v[c1] = VADD(v[c1], v[d1]);                                                                                    \
    v[c2] = VADD(v[c2], v[d2]);                                                                                    \
    v[c3] = VADD(v[c3], v[d3]);                                                                                    \
    VFENCE(v[c0], v[c1], v[c2], v[c3]);                                                                            \
    v[b0] = VROT12(VXOR(v[b0], v[c0]));                                                                            \
    v[b1] = VROT12(VXOR(v[b1], v[c1]));                                                                            \
    v[b2] = VROT12(VXOR(v[b2], v[c2]));                                                                            \
    v[b3] = VROT12(VXOR(v[b3], v[c3]));                                                                            \
    VFENCE(v[b0], v[b1], v[b2], v[b3]);                                                                            \
    v[a0] = VADD(v[a0], y0);                                                                                       \
    v[a1] = VADD(v[a1], y1);                                                                                       \
    v[a2] = VADD(v[a2], y2);                                                                                       \
    v[a3] = VADD(v[a3], y3);                                                                                       \
    VFENCE(v[a0], v[a1], v[a2], v[a3]);                                                                            \
    v[a0] = VADD(v[a0], v[b0]);                                                                                    \
    v[a1] = VADD(v[a1], v[b1]);                                                                                    \
    v[a2] = VADD(v[a2], v[b2]);                                                                                    \
    v[a3] = VADD(v[a3], v[b3]);                                                                                    \
    VFENCE(v[a0], v[a1], v[a2], v[a3]);                                                                            \
    v[d0] = VROT8(VXOR(v[d0], v[a0]));                                                                             \
    v[d1] = VROT8(VXOR(v[d1], v[a1]));                                                                             \
    v[d2] = VROT8(VXOR(v[d2], v[a2]));                                                                             \
    v[d3] = VROT8(VXOR(v[d3], v[a3]));                                                                             \
    VFENCE(v[d0], v[d1], v[d2], v[d3]);                                                                            \
    v[c0] = VADD(v[c0], v[d0]);                                                                                    \
    v[c1] = VADD(v[c1], v[d1]);                                                                                    \
    v[c2] = VADD(v[c2], v[d2]);                                                                                    \
    v[c3] = VADD(v[c3], v[d3]);                                                                                    \
    VFENCE(v[c0], v[c1], v[c2], v[c3]);                                                                            \
    v[b0] = VROT7(VXOR(v[b0], v[c0]));                                                                             \
    v[b1] = VROT7(VXOR(v[b1], v[c1]));                                                                             \
    v[b2] = VROT7(VXOR(v[b2], v[c2]));                                                                             \
    v[b3] = VROT7(VXOR(v[b3], v[c3]));                                                                             \
    VFENCE(v[b0], v[b1], v[b2], v[b3]);

/* One round of a transposed kernel: columns, then diagonals. */
#define PSUM_B3_VROUND(r, s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15)             \
    PSUM_B3_G4(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15, VMSG(s0), VMSG(s1), VMSG(s2), VMSG(s3), \
               VMSG(s4), VMSG(s5), VMSG(s6), VMSG(s7))                                                     \
    PSUM_B3_G4(0, 5, 10, 15, 1, 6, 11, 12, 2, 7, 8, 13, 3, 4, 9, 14, VMSG(s8), VMSG(s9), VMSG(s10),          \
               VMSG(s11), VMSG(s12), VMSG(s13), VMSG(s14), VMSG(s15))

/*
 * The compression function, truncated to the 8 words that chaining values
 * and 32-byte outputs use. out may alias cv.
 */
void psum_b3_compress(const uint32_t cv[8], const uint8_t block[PSUM_B3_BLOCK_LEN], uint32_t block_len,
                      uint64_t counter, uint32_t flags, uint32_t out[8]);

/*
 * The one operation the per-ISA kernels provide: hashes n inputs of `blocks`
 * whole 64-byte blocks each, stored back to back (input i starts at
 * in + i * blocks * 64), every one from the chaining value `key`.
 *  - input i uses the counter `counter + i` if inc_counter, else `counter`;
 *  - every block gets `flags`, the first also `flags_start`, the last also
 *    `flags_end`;
 *  - the chaining value of input i is written to out + 32 * i, as bytes in
 *    the specification's (little-endian) order.
 * Whole chunks are blocks = 16, inc_counter, CHUNK_START and CHUNK_END;
 * parent nodes are blocks = 1 over consecutive pairs of CVs, counter 0,
 * flags PARENT. out may equal in (outputs never overtake unread inputs),
 * but may not overlap it otherwise.
 */
typedef void psum_b3_hash_many_fn(const uint8_t *in, size_t n, size_t blocks, const uint32_t key[8],
                                  uint64_t counter, bool inc_counter, uint8_t flags, uint8_t flags_start,
                                  uint8_t flags_end, uint8_t *out);

/*
 * One kernel per instruction set, each in its own file compiled with its own
 * flags; only the dispatcher calls them, and only those that the CPU and the
 * OS support (a wider kernel hands its leftover inputs to the narrower ones).
 */
psum_b3_hash_many_fn psum_b3_hash_many_portable;
psum_b3_hash_many_fn psum_b3_hash_many_sse41;
psum_b3_hash_many_fn psum_b3_hash_many_avx2;
psum_b3_hash_many_fn psum_b3_hash_many_avx512;

/* The kernel in use, chosen once (see blake3_dispatch.c). */
psum_b3_hash_many_fn *psum_b3_hash_many_current(void);

/*
 * Clears the upper halves of the vector registers (VZEROUPPER) when the CPU
 * and the OS use AVX, and does nothing otherwise. For after calls into
 * libraries that return with them dirty, which slows later SSE code.
 */
void psum_simd_vzeroupper(void);

/*
 * Prefetching for the kernels' chunk groups: while one group of chunks is
 * hashed, block b of each chunk of the next group is asked for, so that
 * the next group finds its 16 KiB (AVX-512) in the cache. Only inputs the
 * caller handed in are named (next_inputs of them): the caller's pages
 * are ones the process has in memory, and a prefetch names nothing else.
 * Parent levels (one block per input) are in the cache already.
 */
static inline size_t psum_b3_next_inputs(size_t n_after, size_t blocks, size_t degree)
{
    if (blocks <= 1)
        return 0;
    return n_after < degree ? n_after : degree;
}

static inline void psum_b3_prefetch_block(const uint8_t *next, size_t next_inputs, size_t stride, size_t b)
{
    for (size_t i = 0; i < next_inputs; i++)
        __builtin_prefetch(next + i * stride + b * PSUM_B3_BLOCK_LEN, 0, 3);
}

static inline uint32_t psum_b3_load32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void psum_b3_store32(uint8_t *p, uint32_t w)
{
    p[0] = (uint8_t)w;
    p[1] = (uint8_t)(w >> 8);
    p[2] = (uint8_t)(w >> 16);
    p[3] = (uint8_t)(w >> 24);
}

#endif
