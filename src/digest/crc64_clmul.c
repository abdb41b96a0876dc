/*
 * CRC-64/XZ with the carry-less multiply (PCLMULQDQ), for where ISA-L is not
 * there: Windows, and Linux hosts without libisal. The message is folded 16
 * bytes at a time into a 128-bit remainder congruent to it modulo the
 * polynomial, in four independent lanes 64 bytes apart so that the
 * multiplies overlap; the lanes are folded into one, and the last 16 bytes
 * of remainder and the tail shorter than a block go through the table
 * code, which turns the remainder into the CRC.
 *
 * Folding, in the reflected bit order CRC-64/XZ uses (the first bit of the
 * message is the highest power): a remainder X = lo * x^64 + hi followed by
 * a distance of t bits is X * x^t = lo * x^(t+64) + hi * x^t, so each half
 * is multiplied by x^(t+64) or x^t reduced modulo P. In that bit order a
 * 64 x 64-bit carry-less product comes out one power short, so the
 * constants are x^(t+63) and x^(t-1) mod P, bit-reflected. They were
 * computed with a polynomial model checked against the bitwise CRC.
 */
#include "crc64.h"

#include <immintrin.h>
#include <string.h>

/* x^(t-1) mod P, reflected, for t = 128 + 64, 128, 512 + 64, 512: the low half of a pair multiplies lo. */
#define K_192 0xe05dd497ca393ae4ull
#define K_128 0xdabe95afc7875f40ull
#define K_576 0x6ae3efbb9dd441f3ull
#define K_512 0x081f6054a7842df4ull

static __m128i fold(__m128i x, __m128i next, __m128i k)
{
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

static __m128i load(const uint8_t *p)
{
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

uint64_t psum_crc64_clmul(uint64_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (len < 128)
        return psum_crc64_portable(crc, data, len);
    /* The register, inverted as CRC-64/XZ starts, is the same as XORed into the first eight bytes. */
    __m128i lane[4] = {_mm_xor_si128(load(p), _mm_cvtsi64_si128((long long)~crc)), load(p + 16), load(p + 32),
                       load(p + 48)};
    p += 64;
    len -= 64;
    const __m128i by64 = _mm_set_epi64x((long long)K_512, (long long)K_576);
    for (; len >= 64; p += 64, len -= 64)
        for (int i = 0; i < 4; i++)
            lane[i] = fold(lane[i], load(p + 16 * i), by64);
    const __m128i by16 = _mm_set_epi64x((long long)K_128, (long long)K_192);
    __m128i x = fold(fold(fold(lane[0], lane[1], by16), lane[2], by16), lane[3], by16);
    for (; len >= 16; p += 16, len -= 16)
        x = fold(x, load(p), by16);
    uint8_t rest[16];
    _mm_storeu_si128((__m128i *)(void *)rest, x);
    /* The remainder as a message of its own, from an all-zero register (inverted twice), then the tail. */
    return psum_crc64_portable(psum_crc64_portable(UINT64_MAX, rest, sizeof(rest)), p, len);
}
