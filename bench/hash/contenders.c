/* The contenders: the list of everything measured, what each row is compared with, and its label. */
#include <stdio.h>
#include <string.h>

#include "hash_bench.h"

contender contenders[MAX_CONTENDERS];
int n_contenders;

contender *contender_add(const char *algo, const char *impl, const char *mode, kind k, psum_simd_path path, run_fn *run)
{
    contender *c = &contenders[n_contenders++];
    memset(c, 0, sizeof *c);
    c->algo = algo;
    c->impl = impl;
    c->mode = mode;
    c->kind = k;
    c->path = path;
    c->run = run;
    for (int i = 0; i < N_SETS; i++)
        c->best[i] = -1;
    return c;
}

/* Every in-process contender: the memory read, each BLAKE3 path, the official code, CRC-64 and XXH3. */
void contenders_add_all(const char *asm_module, const char *c_module)
{
    const char *loads = have_avx512() ? "avx512 loads" : have_avx2() ? "avx2 loads" : "scalar loads";
    contender_add("memory read", loads, "", K_MEMREAD, 0, run_memread);
    contender_add("read loop", "64-bit sums", "page by page", K_READLOOP, 0, run_readloop);
    for (int p = 0; p < PSUM_SIMD_PATH_COUNT; p++) {
        if (!psum_simd_path_supported((psum_simd_path)p))
            continue;
        contender_add("BLAKE3", psum_simd_path_name((psum_simd_path)p), "stream", K_B3_STREAM, (psum_simd_path)p,
                      run_b3_stream);
        contender_add("BLAKE3", psum_simd_path_name((psum_simd_path)p), "pages", K_B3_PAGES, (psum_simd_path)p,
                      run_b3_pages);
    }
    if (load_official(&officials[0], "official C (asm)", asm_module))
        contender_add("BLAKE3", "official C, asm kernels", "stream", K_B3_OFFICIAL, 0, run_official);
    if (load_official(&officials[1], "official C (intrinsics)", c_module))
        contender_add("BLAKE3", "official C, intrinsics", "stream", K_B3_OFFICIAL, 1, run_official);
    contender_add("CRC-64", "ISA-L", "stream", K_CRC_STREAM, 0, run_crc_stream);
    contender_add("CRC-64", "ISA-L", "pages", K_CRC_PAGES, 0, run_crc_pages);
    contender_add("CRC-64", "ISA-L", "pages, no prefetch", K_CRC_PAGES_PLAIN, 0, run_crc_pages_plain);
    if (strcmp(psum_crc64_builtin_name(), "PCLMUL") == 0)
        contender_add("CRC-64", "carry-less multiply (no ISA-L)", "stream", K_CRC_CLMUL, 0, run_crc_clmul);
    contender_add("CRC-64", "table (no ISA-L)", "stream", K_CRC_TABLE, 0, run_crc_table);
    contender_add("XXH3", "run-time dispatch", "stream", K_XXH_STREAM, 0, run_xxh_stream);
    contender_add("XXH3", "run-time dispatch", "pages", K_XXH_PAGES, 0, run_xxh_pages);
    contender_add("XXH3", "run-time dispatch", "pages, no prefetch", K_XXH_PAGES_PLAIN, 0, run_xxh_pages_plain);
    contender_add("XXH3", "XXH3_64bits (SSE2)", "stream", K_XXH_SSE2, 0, run_xxh_sse2);
}

double contender_gbps(const contender *c, const dataset *d, int di)
{
    return c->best[di] > 0 ? (double)d->bytes / c->best[di] / 1e9 : 0;
}

const contender *contender_find(kind k, psum_simd_path path)
{
    for (int i = 0; i < n_contenders; i++)
        if (contenders[i].kind == k && (k == K_TOOL || contenders[i].path == path))
            return &contenders[i];
    return NULL;
}

/* What each row is compared with, and the target, if any. */
const contender *contender_reference(const contender *c, psum_simd_path best_path, double *target)
{
    *target = 0;
    switch (c->kind) {
    case K_B3_STREAM:
    case K_B3_PAGES:
        if (c->path == best_path && c->kind == K_B3_PAGES)
            *target = 1.0;
        return officials[0].dl ? contender_find(K_B3_OFFICIAL, 0) : NULL;
    case K_B3_OFFICIAL:
        return c->path == 0 ? NULL : contender_find(K_B3_OFFICIAL, 0);
    case K_CRC_STREAM:
    case K_CRC_PAGES:
    case K_XXH_STREAM:
    case K_XXH_PAGES:
        *target = 0.9;
        return contender_find(K_MEMREAD, 0);
    case K_CRC_PAGES_PLAIN:
    case K_CRC_CLMUL:
    case K_CRC_TABLE:
    case K_XXH_PAGES_PLAIN:
    case K_XXH_SSE2:
        return contender_find(K_MEMREAD, 0);
    case K_TOOL:
        return c->argv == B3SUM_ARGV ? contender_find(K_B3_PAGES, best_path) : contender_find(K_XXH_PAGES, 0);
    case K_MEMREAD:
        return NULL;
    case K_READLOOP:
        return contender_find(K_MEMREAD, 0);
    }
    return NULL;
}

void contender_label(const contender *c, char *buf, size_t n)
{
    snprintf(buf, n, "%s %s%s%s", c->algo, c->impl, *c->mode ? " " : "", c->mode);
}
