/*
 * CRC-64/XZ in plain C, for platforms without ISA-L and processes where it
 * cannot be loaded: the reflected ECMA-182 polynomial, eight table lookups
 * per 8 bytes ("slicing by eight"); and the choice, without ISA-L, between
 * it and the carry-less multiply code (crc64_clmul.c).
 */
#include "crc64.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "blake3.h"

#define POLY_REFLECTED 0xC96C5795D7870F42ull

static uint64_t table[8][256];
/* 0: not built, 1: one thread builds it, 2: ready (release: the table's stores come before). */
static atomic_int table_state;

static void build_table(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint64_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ ((c & 1) ? POLY_REFLECTED : 0);
        table[0][i] = c;
    }
    for (unsigned i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

/* Whether the table can be used: built here by the first caller; false while another thread builds it. */
static bool table_ready(void)
{
    if (atomic_load_explicit(&table_state, memory_order_acquire) == 2)
        return true;
    int none = 0;
    if (!atomic_compare_exchange_strong_explicit(&table_state, &none, 1, memory_order_acq_rel, memory_order_acquire))
        return false;
    build_table();
    atomic_store_explicit(&table_state, 2, memory_order_release);
    return true;
}

uint64_t psum_crc64_portable(uint64_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
    if (!table_ready()) {
        /* Bit by bit meanwhile: the same values, without the table another thread is writing. */
        while (len--) {
            crc ^= *p++;
            for (int k = 0; k < 8; k++)
                crc = (crc >> 1) ^ ((crc & 1) ? POLY_REFLECTED : 0);
        }
        return ~crc;
    }
    while (len >= 8) {
        uint64_t v = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
                     (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
        crc ^= v;
        crc = table[7][crc & 0xff] ^ table[6][(crc >> 8) & 0xff] ^ table[5][(crc >> 16) & 0xff] ^
              table[4][(crc >> 24) & 0xff] ^ table[3][(crc >> 32) & 0xff] ^ table[2][(crc >> 40) & 0xff] ^
              table[1][(crc >> 48) & 0xff] ^ table[0][crc >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

/* The carry-less multiply where the build has its code and the CPU runs it (BLAKE3's dispatcher asks the CPU once). */
static bool clmul_usable(void)
{
#if defined(PSUM_HAVE_CRC64_CLMUL)
    return psum_cpu_has_pclmul();
#else
    return false;
#endif
}

uint64_t psum_crc64_builtin(uint64_t crc, const void *data, size_t len)
{
#if defined(PSUM_HAVE_CRC64_CLMUL)
    /* Below a few blocks the table is as fast and needs no CPU question. */
    if (len >= 256 && clmul_usable())
        return psum_crc64_clmul(crc, data, len);
#endif
    return psum_crc64_portable(crc, data, len);
}

const char *psum_crc64_builtin_name(void)
{
    return clmul_usable() ? "PCLMUL" : "portable";
}

#ifndef PSUM_HAVE_ISAL
uint64_t psum_crc64(uint64_t crc, const void *data, size_t len)
{
    return psum_crc64_builtin(crc, data, len);
}

const char *psum_crc64_prepare(void)
{
    return psum_crc64_builtin_name();
}
#endif
