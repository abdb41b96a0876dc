/* BLAKE3 in plain C11: the compression function and the one-lane kernel. */
#include "blake3_impl.h"

const uint32_t psum_b3_iv[8] = {
    PSUM_B3_IV0, PSUM_B3_IV1, PSUM_B3_IV2, PSUM_B3_IV3, PSUM_B3_IV4, PSUM_B3_IV5, PSUM_B3_IV6, PSUM_B3_IV7,
};

static inline uint32_t rotr32(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

/* The quarter-round G on state words a, b, c, d with message words x, y. */
#define G(a, b, c, d, x, y)                \
    do {                                   \
        v[a] = v[a] + v[b] + (x);          \
        v[d] = rotr32(v[d] ^ v[a], 16);    \
        v[c] = v[c] + v[d];                \
        v[b] = rotr32(v[b] ^ v[c], 12);    \
        v[a] = v[a] + v[b] + (y);          \
        v[d] = rotr32(v[d] ^ v[a], 8);     \
        v[c] = v[c] + v[d];                \
        v[b] = rotr32(v[b] ^ v[c], 7);     \
    } while (0)

/* One round: G on the four columns, then on the four diagonals. */
#define ROUND(r, s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15) \
    G(0, 4, 8, 12, m[s0], m[s1]);                                                     \
    G(1, 5, 9, 13, m[s2], m[s3]);                                                     \
    G(2, 6, 10, 14, m[s4], m[s5]);                                                    \
    G(3, 7, 11, 15, m[s6], m[s7]);                                                    \
    G(0, 5, 10, 15, m[s8], m[s9]);                                                    \
    G(1, 6, 11, 12, m[s10], m[s11]);                                                  \
    G(2, 7, 8, 13, m[s12], m[s13]);                                                   \
    G(3, 4, 9, 14, m[s14], m[s15]);

void psum_b3_compress(const uint32_t cv[8], const uint8_t block[PSUM_B3_BLOCK_LEN], uint32_t block_len,
                      uint64_t counter, uint32_t flags, uint32_t out[8])
{
    uint32_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = psum_b3_load32(block + 4 * i);

    uint32_t v[16] = {
        cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6], cv[7],
        PSUM_B3_IV0, PSUM_B3_IV1, PSUM_B3_IV2, PSUM_B3_IV3,
        (uint32_t)counter, (uint32_t)(counter >> 32), block_len, flags,
    };

    PSUM_B3_FOR_EACH_ROUND(ROUND)

    for (int i = 0; i < 8; i++)
        out[i] = v[i] ^ v[i + 8];
}

void psum_b3_hash_many_portable(const uint8_t *in, size_t n, size_t blocks, const uint32_t key[8],
                                uint64_t counter, bool inc_counter, uint8_t flags, uint8_t flags_start,
                                uint8_t flags_end, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t cv[8];
        for (int w = 0; w < 8; w++)
            cv[w] = key[w];
        const uint8_t *input = in + i * blocks * PSUM_B3_BLOCK_LEN;
        uint64_t ctr = counter + (inc_counter ? i : 0);
        for (size_t b = 0; b < blocks; b++) {
            uint32_t f = flags;
            if (b == 0)
                f |= flags_start;
            if (b + 1 == blocks)
                f |= flags_end;
            psum_b3_compress(cv, input + b * PSUM_B3_BLOCK_LEN, PSUM_B3_BLOCK_LEN, ctr, f, cv);
        }
        /* Input i is read in full before output i is written: out may equal in. */
        for (int w = 0; w < 8; w++)
            psum_b3_store32(out + i * PSUM_B3_OUT_LEN + 4 * (size_t)w, cv[w]);
    }
}
