/*
 * XXH3 for one instruction set each: xxhash.h's header-only code compiled
 * once per set with that set's flags (xxh3_isa.c), so that no process has
 * to map libxxhash for it. digest.c asks the CPU which to use.
 */
#ifndef PSUM_XXH3_ISA_H
#define PSUM_XXH3_ISA_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t psum_xxh3_fn(const void *data, size_t len);
typedef uint64_t psum_xxh3_secret_fn(const void *data, size_t len, const void *secret, size_t secret_len);

/* The build's baseline (SSE2 on x86-64). */
psum_xxh3_fn psum_xxh3_base;
psum_xxh3_secret_fn psum_xxh3_secret_base;
psum_xxh3_fn psum_xxh3_avx2;
psum_xxh3_secret_fn psum_xxh3_secret_avx2;
psum_xxh3_fn psum_xxh3_avx512;
psum_xxh3_secret_fn psum_xxh3_secret_avx512;

#endif
