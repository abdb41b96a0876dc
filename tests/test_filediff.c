/*
 * psum_page_diff: runs, their merging, stored bytes, counts and verdicts,
 * checked on hand-made pages and against a plain reference on random ones.
 */
#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compare/filediff.h"

#define PAGE PROCSUM_PAGE_SIZE
#define ADDR ((uintptr_t)0x7f1234560000u)
#define OFFSET ((uint64_t)0x3000u)
#define MAX_RUNS 64

static uint8_t file_page[PAGE], mem_page[PAGE];
static procsum_byte_run runs[MAX_RUNS + 1];

/* A page that looks like code: deterministic, varied bytes. */
static void setup_pages(void)
{
    uint32_t x = 0x12345678u;
    for (size_t i = 0; i < PAGE; i++) {
        x = x * 1103515245u + 12345u;
        file_page[i] = (uint8_t)(x >> 16);
    }
    memcpy(mem_page, file_page, PAGE);
    memset(runs, 0xA5, sizeof(runs));
}

typedef struct result {
    size_t total, bytes, bits;
    procsum_verdict verdict;
} result;

static result diff(size_t max_runs)
{
    result r;
    r.total = psum_page_diff(file_page, mem_page, ADDR, OFFSET, runs, max_runs, &r.bytes, &r.bits, &r.verdict);
    return r;
}

/* Checks one stored run against the pages: bounds, and every stored byte. */
static void check_run(const procsum_byte_run *run, size_t start, size_t len)
{
    cr_assert_eq(run->addr, ADDR + start, "run address %#zx, want %#zx", (size_t)run->addr, (size_t)(ADDR + start));
    cr_assert_eq(run->file_offset, OFFSET + start);
    cr_assert_eq(run->len, len, "run length %zu, want %zu", run->len, len);
    size_t keep = len < PROCSUM_RUN_BYTES ? len : PROCSUM_RUN_BYTES;
    for (size_t i = 0; i < PROCSUM_RUN_BYTES; i++) {
        uint8_t o = i < keep ? file_page[start + i] : 0, n = i < keep ? mem_page[start + i] : 0;
        cr_assert_eq(run->old_bytes[i], o, "old byte %zu", i);
        cr_assert_eq(run->new_bytes[i], n, "new byte %zu", i);
        cr_assert_eq(run->xor_mask[i], (uint8_t)(o ^ n), "xor byte %zu", i);
    }
}

static bool untouched(const procsum_byte_run *run)
{
    const uint8_t *b = (const uint8_t *)run;
    for (size_t i = 0; i < sizeof(*run); i++)
        if (b[i] != 0xA5)
            return false;
    return true;
}

TestSuite(filediff, .init = setup_pages);

Test(filediff, identical_pages_are_none)
{
    result r = diff(MAX_RUNS);
    cr_assert_eq(r.total, 0);
    cr_assert_eq(r.bytes, 0);
    cr_assert_eq(r.bits, 0);
    cr_assert_eq(r.verdict, PROCSUM_VERDICT_RESTORED);
    cr_assert(untouched(&runs[0]), "no run may be written");
}

Test(filediff, one_flipped_bit_is_a_bitflip)
{
    mem_page[1234] ^= 0x20;
    result r = diff(MAX_RUNS);
    cr_assert_eq(r.total, 1);
    cr_assert_eq(r.bytes, 1);
    cr_assert_eq(r.bits, 1);
    cr_assert_eq(r.verdict, PROCSUM_VERDICT_BITFLIP);
    check_run(&runs[0], 1234, 1);
    cr_assert_eq(runs[0].xor_mask[0], 0x20);
    cr_assert_eq(runs[0].old_bytes[0], file_page[1234]);
    cr_assert(untouched(&runs[1]));
}

Test(filediff, two_distant_bits_are_multi_bit)
{
    mem_page[100] ^= 0x01;
    mem_page[3000] ^= 0x80;
    result r = diff(MAX_RUNS);
    cr_assert_eq(r.total, 2);
    cr_assert_eq(r.bytes, 2);
    cr_assert_eq(r.bits, 2);
    cr_assert_eq(r.verdict, PROCSUM_VERDICT_MULTI_BIT);
    check_run(&runs[0], 100, 1);
    check_run(&runs[1], 3000, 1);
    cr_assert_eq(runs[0].xor_mask[0], 0x01);
    cr_assert_eq(runs[1].xor_mask[0], 0x80);
}

Test(filediff, several_scattered_single_bits_are_multi_bit)
{
    size_t at[] = {0, 9, 500, 2048, 4095};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
        mem_page[at[i]] ^= (uint8_t)(1u << (i % 8));
    result r = diff(MAX_RUNS);
    cr_assert_eq(r.total, 5);
    cr_assert_eq(r.bits, 5);
    cr_assert_eq(r.verdict, PROCSUM_VERDICT_MULTI_BIT);
    for (size_t i = 0; i < 5; i++)
        check_run(&runs[i], at[i], 1);
}

Test(filediff, two_bits_in_one_byte_are_a_patch)
{
    mem_page[77] ^= 0x41;
    result r = diff(MAX_RUNS);
    cr_assert_eq(r.total, 1);
    cr_assert_eq(r.bytes, 1);
    cr_assert_eq(r.bits, 2);
    cr_assert_eq(r.verdict, PROCSUM_VERDICT_PATCH);
}

Test(filediff, jmp_rel32_hook_is_one_patch_run)
{
    /* A prologue "push rbp; mov rbp,rsp; push r15" overwritten by "jmp rel32". */
    static const uint8_t prologue[] = {0x55, 0x48, 0x89, 0xE5, 0x41, 0x57};
    static const uint8_t hook[] = {0xE9, 0x12, 0x34, 0x56, 0x78};
    memcpy(file_page + 0x120, prologue, sizeof(prologue));
    memcpy(mem_page + 0x120, prologue, sizeof(prologue));
    memcpy(mem_page + 0x120, hook, sizeof(hook));
    result r = diff(MAX_RUNS);
    cr_assert_eq(r.total, 1);
    cr_assert_eq(r.bytes, 5);
    cr_assert_eq(r.verdict, PROCSUM_VERDICT_PATCH);
    check_run(&runs[0], 0x120, 5);
    cr_assert_arr_eq(runs[0].old_bytes, prologue, 5);
    cr_assert_arr_eq(runs[0].new_bytes, hook, 5);
    cr_assert_eq(runs[0].addr, ADDR + 0x120);
    cr_assert_eq(runs[0].file_offset, OFFSET + 0x120);
    size_t bits = 0;
    for (size_t i = 0; i < 5; i++)
        bits += (size_t)__builtin_popcount((unsigned)(prologue[i] ^ hook[i]));
    cr_assert_eq(r.bits, bits);
}

Test(filediff, hook_bytes_equal_to_old_ones_stay_in_the_run)
{
    static const uint8_t prologue[] = {0x55, 0x48, 0x89, 0xE5, 0x41};
    /* The third hook byte happens to equal the old 0x89: still one run of 5 bytes, 4 of them changed. */
    static const uint8_t hook[] = {0xE9, 0xFB, 0x89, 0x00, 0x00};
    memcpy(file_page + 64, prologue, sizeof(prologue));
    memcpy(mem_page + 64, hook, sizeof(hook));
    result r = diff(MAX_RUNS);
    cr_assert_eq(r.total, 1);
    cr_assert_eq(r.bytes, 4);
    cr_assert_eq(r.verdict, PROCSUM_VERDICT_PATCH);
    check_run(&runs[0], 64, 5);
    cr_assert_eq(runs[0].xor_mask[2], 0);
}

Test(filediff, run_ends_at_its_last_changed_byte)
{
    static const uint8_t prologue[] = {0x55, 0x48, 0x89, 0xE5, 0x41};
    /* The last hook byte equals the old one: the run is the 4 bytes that differ up to it. */
    static const uint8_t hook[] = {0xE9, 0x10, 0x20, 0x30, 0x41};
    memcpy(file_page + 200, prologue, sizeof(prologue));
    memcpy(mem_page + 200, hook, sizeof(hook));
    result r = diff(MAX_RUNS);
    cr_assert_eq(r.total, 1);
    check_run(&runs[0], 200, 4);
    cr_assert_eq(r.verdict, PROCSUM_VERDICT_PATCH);
}

Test(filediff, int3_breakpoint_is_a_patch)
{
    file_page[0x456] = 0x55; /* push rbp */
    memcpy(mem_page, file_page, PAGE);
    mem_page[0x456] = 0xCC;
    result r = diff(MAX_RUNS);
    cr_assert_eq(r.total, 1);
    cr_assert_eq(r.bytes, 1);
    cr_assert_eq(r.bits, 4); /* 0x55 ^ 0xCC = 0x99 */
    cr_assert_eq(r.verdict, PROCSUM_VERDICT_PATCH);
    check_run(&runs[0], 0x456, 1);
    cr_assert_eq(runs[0].old_bytes[0], 0x55);
    cr_assert_eq(runs[0].new_bytes[0], 0xCC);
    cr_assert_eq(runs[0].xor_mask[0], 0x99);
}

Test(filediff, single_bit_patch_can_only_be_a_bitflip)
{
    /* Documented limit: int3 (0xCC) over "int imm8" (0xCD), or jz -> jnz, differs in one bit. */
    file_page[10] = 0xCD;
    memcpy(mem_page, file_page, PAGE);
    mem_page[10] = 0xCC;
    result r = diff(MAX_RUNS);
    cr_assert_eq(r.verdict, PROCSUM_VERDICT_BITFLIP);
}

Test(filediff, every_byte_changed_is_one_long_run)
{
    for (size_t i = 0; i < PAGE; i++)
        mem_page[i] = (uint8_t)~file_page[i];
    result r = diff(MAX_RUNS);
    cr_assert_eq(r.total, 1);
    cr_assert_eq(r.bytes, PAGE);
    cr_assert_eq(r.bits, PAGE * 8);
    cr_assert_eq(r.verdict, PROCSUM_VERDICT_PATCH);
    check_run(&runs[0], 0, PAGE);
    for (size_t i = 0; i < PROCSUM_RUN_BYTES; i++)
        cr_assert_eq(runs[0].xor_mask[i], 0xFF);
}

Test(filediff, runs_at_the_page_edges)
{
    mem_page[0] ^= 0xFF;
    mem_page[1] ^= 0x0F;
    mem_page[4090] ^= 0x03;
    mem_page[4095] ^= 0x30;
    result r = diff(MAX_RUNS);
    cr_assert_eq(r.total, 2);
    check_run(&runs[0], 0, 2);
    check_run(&runs[1], 4090, 6);
    cr_assert_eq(runs[1].xor_mask[5], 0x30);
    cr_assert_eq(runs[1].xor_mask[6], 0, "bytes past the run are zero");
}

Test(filediff, seven_equal_bytes_merge_eight_separate)
{
    /* Bytes 10..12 changed; 13..19 equal (7); 20 changed: one run 10..20. */
    for (size_t i = 10; i <= 12; i++)
        mem_page[i] ^= 0x11;
    mem_page[20] ^= 0x11;
    /* Bytes 1000..1002 changed; 1003..1010 equal (8); 1011 changed: two runs. */
    for (size_t i = 1000; i <= 1002; i++)
        mem_page[i] ^= 0x11;
    mem_page[1011] ^= 0x11;
    result r = diff(MAX_RUNS);
    cr_assert_eq(r.total, 3);
    cr_assert_eq(r.bytes, 8);
    check_run(&runs[0], 10, 11);
    check_run(&runs[1], 1000, 3);
    check_run(&runs[2], 1011, 1);
}

Test(filediff, close_single_bits_merge_into_a_patch)
{
    /* Two one-bit changes with 7 equal bytes between them: one run of 2 changed bytes. */
    mem_page[300] ^= 0x04;
    mem_page[308] ^= 0x04;
    result r = diff(MAX_RUNS);
    cr_assert_eq(r.total, 1);
    check_run(&runs[0], 300, 9);
    cr_assert_eq(r.verdict, PROCSUM_VERDICT_PATCH);
}

Test(filediff, single_bits_eight_apart_stay_multi_bit)
{
    /* Two one-bit changes with 8 equal bytes between them: two runs. */
    mem_page[300] ^= 0x04;
    mem_page[309] ^= 0x04;
    result r = diff(MAX_RUNS);
    cr_assert_eq(r.total, 2);
    check_run(&runs[0], 300, 1);
    check_run(&runs[1], 309, 1);
    cr_assert_eq(r.verdict, PROCSUM_VERDICT_MULTI_BIT);
}

Test(filediff, long_run_keeps_16_bytes_and_true_length)
{
    for (size_t i = 2000; i < 2020; i++)
        mem_page[i] ^= 0x5A;
    result r = diff(MAX_RUNS);
    cr_assert_eq(r.total, 1);
    check_run(&runs[0], 2000, 20);
    cr_assert_eq(r.bytes, 20);
}

Test(filediff, max_runs_truncates_but_counts_all)
{
    for (size_t k = 0; k < 10; k++)
        mem_page[100 + k * 300] ^= 0x01; /* one bit each, far apart */
    mem_page[3900] ^= 0x81;              /* the 11th run, two bits: makes it a patch */
    result r = diff(3);
    cr_assert_eq(r.total, 11);
    cr_assert_eq(r.bytes, 11);
    cr_assert_eq(r.bits, 12);
    cr_assert_eq(r.verdict, PROCSUM_VERDICT_PATCH, "runs past max_runs still decide the verdict");
    for (size_t k = 0; k < 3; k++)
        check_run(&runs[k], 100 + k * 300, 1);
    cr_assert(untouched(&runs[3]), "nothing may be written past max_runs");
}

Test(filediff, no_run_storage_and_null_outputs)
{
    mem_page[5] ^= 0x01;
    mem_page[4000] ^= 0x01;
    size_t bytes = 99, bits = 99;
    procsum_verdict v = PROCSUM_VERDICT_RESTORED;
    cr_assert_eq(psum_page_diff(file_page, mem_page, ADDR, OFFSET, NULL, 0, &bytes, &bits, &v), 2);
    cr_assert_eq(bytes, 2);
    cr_assert_eq(bits, 2);
    cr_assert_eq(v, PROCSUM_VERDICT_MULTI_BIT);
    cr_assert_eq(psum_page_diff(file_page, mem_page, ADDR, OFFSET, NULL, 5, NULL, NULL, NULL), 2,
                 "runs NULL with max_runs > 0 stores nothing");
}

Test(filediff, verdict_names)
{
    cr_assert_str_eq(procsum_verdict_name(PROCSUM_VERDICT_RESTORED), "restored");
    cr_assert_str_eq(procsum_verdict_name(PROCSUM_VERDICT_BITFLIP), "bitflip");
    cr_assert_str_eq(procsum_verdict_name(PROCSUM_VERDICT_MULTI_BIT), "multi-bit");
    cr_assert_str_eq(procsum_verdict_name(PROCSUM_VERDICT_PATCH), "patch");
    cr_assert_str_eq(procsum_verdict_name((procsum_verdict)42), "unknown");
}

/* ---- random pages against a plain reference ---------------------------- */

typedef struct ref_run {
    size_t start, len, changed;
} ref_run;

/* The definitions in filediff.h, written as directly as possible. */
static size_t reference(ref_run *out, size_t *bytes, size_t *bits, procsum_verdict *verdict)
{
    size_t n = 0;
    bool patch = false;
    *bytes = *bits = 0;
    for (size_t i = 0; i < PAGE; i++) {
        uint8_t x = (uint8_t)(file_page[i] ^ mem_page[i]);
        if (!x)
            continue;
        int b = __builtin_popcount(x);
        ++*bytes;
        *bits += (size_t)b;
        if (b >= 2)
            patch = true;
        /* Equal bytes since the previous run's end. */
        if (n > 0 && i - (out[n - 1].start + out[n - 1].len) < PSUM_DIFF_MERGE_GAP) {
            out[n - 1].len = i - out[n - 1].start + 1;
            out[n - 1].changed++;
        } else {
            out[n++] = (ref_run){i, 1, 1};
        }
    }
    for (size_t k = 0; k < n; k++)
        if (out[k].changed >= 2)
            patch = true;
    *verdict = *bits == 0 ? PROCSUM_VERDICT_RESTORED
               : *bits == 1 ? PROCSUM_VERDICT_BITFLIP
               : patch      ? PROCSUM_VERDICT_PATCH
                            : PROCSUM_VERDICT_MULTI_BIT;
    return n;
}

Test(filediff, random_pages_match_the_reference)
{
    static ref_run ref[PAGE];
    static procsum_byte_run all[PAGE];
    srand(20240607);
    size_t seen[PROCSUM_VERDICT_RESTORED + 1] = {0};
    for (int round = 0; round < 3000; round++) {
        memcpy(mem_page, file_page, PAGE);
        int edits = rand() % 12;
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)rand() % PAGE;
            switch (rand() % 3) {
            case 0: mem_page[at] ^= (uint8_t)(1u << (rand() % 8)); break;
            case 1: mem_page[at] = (uint8_t)rand(); break;
            default:
                for (size_t k = at; k < PAGE && k < at + (size_t)(rand() % 24); k++)
                    mem_page[k] = (uint8_t)rand();
            }
        }
        size_t rb, rbits, bytes, bits;
        procsum_verdict rv, v;
        size_t rn = reference(ref, &rb, &rbits, &rv);
        size_t n = psum_page_diff(file_page, mem_page, ADDR, OFFSET, all, PAGE, &bytes, &bits, &v);
        cr_assert_eq(n, rn, "round %d: %zu runs, reference %zu", round, n, rn);
        cr_assert_eq(bytes, rb);
        cr_assert_eq(bits, rbits);
        cr_assert_eq(v, rv, "round %d: verdict %s, reference %s", round, procsum_verdict_name(v),
                     procsum_verdict_name(rv));
        for (size_t k = 0; k < n; k++) {
            check_run(&all[k], ref[k].start, ref[k].len);
            cr_assert_neq(all[k].xor_mask[0], 0, "a run starts with a changed byte");
        }
        seen[v]++;
    }
    /* The rounds must really exercise every verdict. */
    for (int k = PROCSUM_VERDICT_BITFLIP; k <= PROCSUM_VERDICT_RESTORED; k++)
        cr_assert_gt(seen[k], 0, "verdict %s never produced", procsum_verdict_name((procsum_verdict)k));
}
