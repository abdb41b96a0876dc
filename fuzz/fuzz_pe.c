/*
 * psum_pe_parse (and psum_pe_exports, the input taken as an export
 * directory) on arbitrary bytes: the start of a PE file or of a mapped
 * image, made by anyone. Beyond the sanitizers' findings, a parsed image
 * must keep the promises of pe.h that the Windows backend builds its
 * regions from: ranges page aligned, ascending, apart, inside SizeOfImage;
 * and a caller that starts with 64 bytes and grows its buffer to *need each
 * time PROCSUM_ERANGE asks must end with what the whole input gives.
 * The whole input, read as a section's bytes, is also searched for a
 * pseudo-relocation list: every entry found must lie in the image, and
 * applying them to a window stays inside it.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "os/win/pe.h"
#include "procsum.h"

#define PAGE 4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_image(const psum_pe_image *img, size_t len)
{
    FUZZ_CHECK(img->nt_offset >= 64 && (uint64_t)img->nt_offset + 4 <= len, "e_lfanew %" PRIu32 " outside the headers",
               img->nt_offset);
    FUZZ_CHECK(img->size_of_image > 0 && img->size_of_image % PAGE == 0, "SizeOfImage %" PRIu64 " not whole pages",
               img->size_of_image);
    FUZZ_CHECK(img->section_alignment != 0 && (img->section_alignment & (img->section_alignment - 1)) == 0,
               "SectionAlignment %" PRIu32 " not a power of two", img->section_alignment);
    FUZZ_CHECK(img->range_count == 0 || img->ranges != NULL, "ranges missing");
    for (size_t i = 0; i < img->range_count; i++) {
        const psum_pe_range *r = &img->ranges[i];
        FUZZ_CHECK(r->rva_start < r->rva_end, "range %zu: [%#" PRIx32 ", %#" PRIx32 ") empty or reversed", i,
                   r->rva_start, r->rva_end);
        FUZZ_CHECK(r->rva_start % PAGE == 0 && r->rva_end % PAGE == 0, "range %zu: [%#" PRIx32 ", %#" PRIx32
                   ") not page aligned", i, r->rva_start, r->rva_end);
        FUZZ_CHECK(r->rva_end <= img->size_of_image, "range %zu ends at %#" PRIx32 " past SizeOfImage %#" PRIx64, i,
                   r->rva_end, img->size_of_image);
        if (img->section_alignment < PAGE)
            FUZZ_CHECK(r->file_offset == r->rva_start, "low alignment: file offset %#" PRIx64 " is not the RVA",
                       r->file_offset);
        if (i > 0)
            FUZZ_CHECK(img->ranges[i - 1].rva_end <= r->rva_start, "ranges %zu and %zu overlap or descend", i - 1, i);
    }
}

static bool same_image(const psum_pe_image *a, const psum_pe_image *b)
{
    if (a->nt_offset != b->nt_offset || a->size_of_image != b->size_of_image || a->entry_rva != b->entry_rva ||
        a->preferred_base != b->preferred_base || a->section_alignment != b->section_alignment ||
        a->range_count != b->range_count)
        return false;
    for (size_t i = 0; i < a->range_count; i++)
        if (a->ranges[i].rva_start != b->ranges[i].rva_start || a->ranges[i].rva_end != b->ranges[i].rva_end ||
            a->ranges[i].file_offset != b->ranges[i].file_offset)
            return false;
    return true;
}

/* Parses data[0, len) from an exact-size copy, so that any read past len is caught. */
static int parse(const uint8_t *data, size_t len, psum_pe_image *img, size_t *need)
{
    uint8_t *copy = malloc(len ? len : 1);
    FUZZ_CHECK(copy != NULL, "out of memory");
    if (len)
        memcpy(copy, data, len);
    memset(img, 0x5A, sizeof(*img));
    *need = (size_t)-1;
    int err = psum_pe_parse(copy, len, img, need);
    free(copy);
    FUZZ_CHECK(err == 0 || err == PROCSUM_ERANGE || err == PROCSUM_EBADMSG || err == PROCSUM_ENOMEM,
               "unexpected code %d", err);
    if (err == PROCSUM_ERANGE)
        FUZZ_CHECK(*need > len, "PROCSUM_ERANGE asks for %zu bytes but had %zu", *need, len);
    if (err)
        FUZZ_CHECK(img->ranges == NULL && img->range_count == 0, "ranges left behind on failure (%d)", err);
    else
        check_image(img, len);
    return err;
}

/* psum_pe_pseudo_find over data as a section at RVA 0x1000, then psum_pe_pseudo_apply to a guarded window. */
static void check_pseudo(const psum_pe_image *img, const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    FUZZ_CHECK(copy != NULL, "out of memory");
    if (len)
        memcpy(copy, data, len);
    psum_pe_pseudo *list = NULL;
    size_t n = 0;
    int err = psum_pe_pseudo_find(img, copy, len, 0x1000, &list, &n);
    FUZZ_CHECK(err == 0 || err == PROCSUM_ENOMEM, "unexpected code %d", err);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(list[i].bytes == 1 || list[i].bytes == 2 || list[i].bytes == 4 || list[i].bytes == 8,
                   "entry %zu: width %u", i, list[i].bytes);
        FUZZ_CHECK((uint64_t)list[i].target + list[i].bytes <= img->size_of_image,
                   "entry %zu: field at %#" PRIx32 " past SizeOfImage", i, list[i].target);
        list[i].add = 0x0101010101010101u;
    }
    /* A page-sized window with a guard byte on each side that must stay untouched. */
    uint8_t window[PAGE + 2];
    memset(window, 0xEE, sizeof(window));
    for (uint32_t at = 0; n && at < 3 * PAGE; at += PAGE) {
        psum_pe_pseudo_apply(list, n, (int64_t)at - 8, window + 1, PAGE);
        FUZZ_CHECK(window[0] == 0xEE && window[PAGE + 1] == 0xEE, "a field was applied outside the window");
    }
    free(list);
    free(copy);
}

/* The export walk's promises: each name inside the directory, non-empty, without a NUL; each RVA outside it. */
typedef struct export_bounds {
    const uint8_t *dir;
    size_t len;
    uint32_t rva;
} export_bounds;

static int check_export(void *ctx, uint32_t rva, const char *name, size_t len)
{
    const export_bounds *b = ctx;
    const uint8_t *n = (const uint8_t *)name;
    FUZZ_CHECK(len > 0 && n >= b->dir && n + len < b->dir + b->len, "export name outside the directory");
    FUZZ_CHECK(memchr(name, '\0', len) == NULL && n[len] == '\0', "export name not one terminated string");
    FUZZ_CHECK(rva < b->rva || rva - b->rva >= b->len, "forwarder %#" PRIx32 " given as code", rva);
    return 0;
}

static void walk_exports(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy != NULL, "out of memory");
    if (size)
        memcpy(copy, data, size);
    export_bounds b = {.dir = copy, .len = size, .rva = 0x1000};
    int err = psum_pe_exports(copy, size, b.rva, check_export, &b);
    FUZZ_CHECK(err == 0 || (err == PROCSUM_EBADMSG && size < 40), "unexpected code %d", err);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    walk_exports(data, size);
    psum_pe_image whole, step;
    size_t need_whole, need;
    int err_whole = parse(data, size, &whole, &need_whole);

    /* The documented way to call it: start small, grow to *need while it asks. */
    size_t len = size < 64 ? size : 64;
    int err;
    for (int calls = 0;; calls++) {
        FUZZ_CHECK(calls < 8, "still asking for more after %d calls", calls);
        err = parse(data, len, &step, &need);
        if (err != PROCSUM_ERANGE || need > size)
            break;
        len = need;
    }
    FUZZ_CHECK(err == err_whole, "growing the buffer ends in %d, the whole input gives %d", err, err_whole);
    if (err == PROCSUM_ERANGE)
        FUZZ_CHECK(need == need_whole, "asks for %zu, the whole input for %zu", need, need_whole);
    if (err == 0)
        FUZZ_CHECK(same_image(&step, &whole), "the headers alone and the whole input differ");
    if (err_whole == 0)
        check_pseudo(&whole, data, size);

    psum_pe_free(&step);
    psum_pe_free(&whole);
    psum_pe_free(NULL);
    return 0;
}
