/*
 * XXH3_64bits and its keyed form for the instruction set this file is
 * compiled for: meson.build builds it once per set, with the set's -m flags
 * and PSUM_XXH3_ISA naming it; xxhash.h then picks the matching vector code
 * (XXH_VECTOR follows the compiler's flags).
 */
#include "xxh3_isa.h"

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

#define PSUM_CAT_(a, b) a##_##b
#define PSUM_CAT(a, b) PSUM_CAT_(a, b)

uint64_t PSUM_CAT(psum_xxh3, PSUM_XXH3_ISA)(const void *data, size_t len)
{
    return XXH3_64bits(data, len);
}

uint64_t PSUM_CAT(psum_xxh3_secret, PSUM_XXH3_ISA)(const void *data, size_t len, const void *secret,
                                                  size_t secret_len)
{
    return XXH3_64bits_withSecret(data, len, secret, secret_len);
}
