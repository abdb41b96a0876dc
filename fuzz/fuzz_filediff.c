/*
 * psum_page_diff on two pages built from the input. Whole random pages
 * differ everywhere and say little, so the input mostly describes edits:
 *
 *   byte 0        bit 7 set: raw mode, else edit mode
 *   byte 1        max_runs (a runs array of exactly that size is passed)
 *   bytes 2..9    page address, little-endian
 *   bytes 10..17  page file offset, little-endian
 *   edit mode:    the file page is a fixed code-like pattern; the memory
 *                 page is that pattern XORed at each (offset: 2 bytes, mask:
 *                 1 byte) triple that follows
 *   raw mode:     the file page, then the memory page follow (a short input
 *                 leaves the rest of the memory page equal to the file page)
 *
 * The result is checked against the definitions in filediff.h directly
 * (every run starts and ends with a changed byte, has no gap of 8 equal
 * bytes, runs are 8 or more equal bytes apart and hold every changed byte),
 * not against a second implementation; and calls that ask for less (no runs,
 * NULL outputs) must agree with the call that asks for everything.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compare/filediff.h"
#include "fuzz_check.h"

#define PAGE PROCSUM_PAGE_SIZE
#define HEADER 18u
/* The most runs a page can hold: a changed byte every 9 bytes gives 456. */
#define ALL_RUNS 512u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void build_pages(const uint8_t *data, size_t size, uint8_t *file, uint8_t *mem)
{
    const uint8_t *rest = data + HEADER;
    size_t n = size - HEADER;
    if (data[0] & 0x80) {
        memset(file, 0, PAGE);
        memcpy(file, rest, n < PAGE ? n : PAGE);
        memcpy(mem, file, PAGE);
        if (n > PAGE)
            memcpy(mem, rest + PAGE, n - PAGE < PAGE ? n - PAGE : PAGE);
        return;
    }
    uint32_t x = 0x9e3779b9u;
    for (size_t i = 0; i < PAGE; i++) {
        x = x * 1664525u + 1013904223u;
        file[i] = (uint8_t)(x >> 24);
    }
    memcpy(mem, file, PAGE);
    for (size_t i = 0; i + 3 <= n; i += 3)
        mem[(rest[i] | (size_t)rest[i + 1] << 8) % PAGE] ^= rest[i + 2];
}

static unsigned bits_of(uint8_t x)
{
    unsigned b = 0;
    for (; x; x >>= 1)
        b += x & 1u;
    return b;
}

/* Checks every run against the pages; returns whether some run holds two or more changed bytes. */
static bool check_runs(const procsum_byte_run *runs, size_t count, const uint8_t *file, const uint8_t *mem,
                       uintptr_t addr, uint64_t offset, size_t *bytes_in_runs)
{
    bool several = false;
    size_t prev_end = 0;
    *bytes_in_runs = 0;
    for (size_t k = 0; k < count; k++) {
        const procsum_byte_run *r = &runs[k];
        size_t at = (size_t)(r->addr - addr);
        FUZZ_CHECK(at < PAGE && r->len >= 1 && r->len <= PAGE - at, "run %zu: [%zu, +%zu) leaves the page", k, at,
                   r->len);
        FUZZ_CHECK(r->file_offset - offset == at, "run %zu: file offset and address disagree", k);
        FUZZ_CHECK(k == 0 || at >= prev_end + PSUM_DIFF_MERGE_GAP, "run %zu at %zu: under %u bytes after the last", k,
                   at, PSUM_DIFF_MERGE_GAP);
        FUZZ_CHECK(file[at] != mem[at] && file[at + r->len - 1] != mem[at + r->len - 1],
                   "run %zu: does not start and end with a changed byte", k);
        size_t equal = 0, changed = 0;
        for (size_t i = at; i < at + r->len; i++) {
            if (file[i] == mem[i]) {
                FUZZ_CHECK(++equal < PSUM_DIFF_MERGE_GAP, "run %zu: %u equal bytes inside it", k,
                           PSUM_DIFF_MERGE_GAP);
            } else {
                equal = 0;
                changed++;
            }
        }
        size_t keep = r->len < PROCSUM_RUN_BYTES ? r->len : PROCSUM_RUN_BYTES;
        for (size_t i = 0; i < keep; i++)
            FUZZ_CHECK(r->old_bytes[i] == file[at + i] && r->new_bytes[i] == mem[at + i] &&
                           r->xor_mask[i] == (file[at + i] ^ mem[at + i]),
                       "run %zu: stored byte %zu", k, i);
        several |= changed >= 2;
        *bytes_in_runs += changed;
        prev_end = at + r->len;
    }
    return several;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER)
        return 0;
    size_t max_runs = data[1];
    uintptr_t addr = (uintptr_t)le64(data + 2);
    uint64_t offset = le64(data + 10);

    /* Exact sizes, so that a read or write past any of them is caught. */
    uint8_t *file = malloc(PAGE), *mem = malloc(PAGE);
    procsum_byte_run *all = malloc(ALL_RUNS * sizeof(*all));
    procsum_byte_run *some = malloc((max_runs ? max_runs : 1) * sizeof(*some));
    FUZZ_CHECK(file && mem && all && some, "out of memory");
    build_pages(data, size, file, mem);

    size_t bytes = 0, bits = 0;
    bool heavy_byte = false;
    for (size_t i = 0; i < PAGE; i++) {
        unsigned b = bits_of((uint8_t)(file[i] ^ mem[i]));
        bytes += b != 0;
        bits += b;
        heavy_byte |= b >= 2;
    }

    size_t got_bytes, got_bits;
    procsum_verdict verdict;
    size_t total = psum_page_diff(file, mem, addr, offset, all, ALL_RUNS, &got_bytes, &got_bits, &verdict);
    FUZZ_CHECK(got_bytes == bytes && got_bits == bits, "counts %zu bytes %zu bits, the pages say %zu and %zu",
               got_bytes, got_bits, bytes, bits);
    FUZZ_CHECK(bytes <= PAGE && bits <= 8 * bytes && bits >= bytes, "counts out of bounds");
    FUZZ_CHECK(total <= ALL_RUNS && (total == 0) == (bytes == 0), "%zu runs for %zu changed bytes", total, bytes);
    size_t bytes_in_runs;
    bool several = check_runs(all, total, file, mem, addr, offset, &bytes_in_runs);
    FUZZ_CHECK(bytes_in_runs == bytes, "runs hold %zu of %zu changed bytes", bytes_in_runs, bytes);

    procsum_verdict want = bits == 0                ? PROCSUM_VERDICT_RESTORED
                           : bits == 1              ? PROCSUM_VERDICT_BITFLIP
                           : heavy_byte || several ? PROCSUM_VERDICT_PATCH
                                                    : PROCSUM_VERDICT_MULTI_BIT;
    FUZZ_CHECK(verdict == want, "verdict %d, the definitions give %d", (int)verdict, (int)want);

    /* Fewer slots: the same first runs, the same total and verdict. */
    procsum_verdict v2;
    size_t total2 = psum_page_diff(file, mem, addr, offset, some, max_runs, NULL, NULL, &v2);
    FUZZ_CHECK(total2 == total && v2 == verdict, "with %zu slots: %zu runs, verdict %d", max_runs, total2, (int)v2);
    size_t stored = total < max_runs ? total : max_runs;
    FUZZ_CHECK(stored == 0 || memcmp(some, all, stored * sizeof(*all)) == 0, "stored runs differ with %zu slots",
               max_runs);
    /* No slots and no outputs at all. */
    FUZZ_CHECK(psum_page_diff(file, mem, addr, offset, NULL, 0, NULL, NULL, NULL) == total,
               "without runs the total changes");

    free(some);
    free(all);
    free(mem);
    free(file);
    return 0;
}
