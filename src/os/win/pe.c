/*
 * PE headers, read with explicit little-endian loads at the offsets the PE
 * format fixes, so that no structure layout or alignment is assumed.
 */
#include "pe.h"

#include <stdbool.h>
#include <stdlib.h>

#include "procsum.h"

#define PAGE 4096u
#define SCN_MEM_EXECUTE 0x20000000u
#define MAX_SECTIONS 65535u

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

void psum_pe_free(psum_pe_image *img)
{
    if (!img)
        return;
    free(img->ranges);
    free(img->sections);
    *img = (psum_pe_image){0};
}

static int by_start(const void *a, const void *b)
{
    const psum_pe_range *x = a, *y = b;
    return x->rva_start < y->rva_start ? -1 : x->rva_start > y->rva_start;
}

int psum_pe_parse(const uint8_t *hdr, size_t len, psum_pe_image *out, size_t *need)
{
    *out = (psum_pe_image){0};
    *need = 0;
    if (len < 64) {
        *need = 64;
        return PROCSUM_ERANGE;
    }
    if (le16(hdr) != 0x5A4D) /* "MZ" */
        return PROCSUM_EBADMSG;
    uint32_t nt = le32(hdr + 0x3C);
    if (nt < 64 || nt > 0x10000000u)
        return PROCSUM_EBADMSG;
    /* Signature, file header (20 bytes), optional header through CheckSum (68 bytes). */
    uint64_t opt = (uint64_t)nt + 24;
    if (opt + 68 > len) {
        *need = (size_t)(opt + 68);
        return PROCSUM_ERANGE;
    }
    if (le32(hdr + nt) != 0x00004550) /* "PE\0\0" */
        return PROCSUM_EBADMSG;
    const uint8_t *fh = hdr + nt + 4;
    uint32_t nsections = le16(fh + 2);
    uint32_t opt_size = le16(fh + 16);
    const uint8_t *oh = hdr + opt;
    uint16_t magic = le16(oh);
    if ((magic != 0x10b && magic != 0x20b) || opt_size < 68 || nsections > MAX_SECTIONS)
        return PROCSUM_EBADMSG;
    uint32_t entry = le32(oh + 16);
    uint64_t image_base = magic == 0x20b ? le64(oh + 24) : le32(oh + 28);
    uint32_t salign = le32(oh + 32);
    uint32_t size_of_image = le32(oh + 56);
    if (salign == 0 || (salign & (salign - 1)) != 0 || size_of_image == 0)
        return PROCSUM_EBADMSG;
    uint64_t sec = opt + opt_size;
    uint64_t sec_end = sec + (uint64_t)nsections * 40;
    if (sec_end > len) {
        *need = (size_t)sec_end;
        return PROCSUM_ERANGE;
    }

    uint64_t image_end = align_up(size_of_image, PAGE);
    /* An image ends below 4 GiB: its end must fit the 32-bit addresses of its sections. */
    if (image_end > UINT32_MAX)
        return PROCSUM_EBADMSG;
    uint64_t round = salign > PAGE ? salign : PAGE;
    bool low_alignment = salign < PAGE;
    /* The base relocation directory (entry 5), where the optional header has one. */
    uint32_t dirs_at = magic == 0x20b ? 112 : 96;
    uint32_t reloc_rva = 0, reloc_size = 0, iat_rva = 0, iat_size = 0, export_rva = 0, export_size = 0;
    if (opt_size >= dirs_at + 6 * 8 && le32(oh + dirs_at - 4) > 5) {
        reloc_rva = le32(oh + dirs_at + 5 * 8);
        reloc_size = le32(oh + dirs_at + 5 * 8 + 4);
    }
    /* The import address table directory (entry 12). */
    if (opt_size >= dirs_at + 13 * 8 && le32(oh + dirs_at - 4) > 12) {
        iat_rva = le32(oh + dirs_at + 12 * 8);
        iat_size = le32(oh + dirs_at + 12 * 8 + 4);
    }
    /* The export directory (entry 0). */
    if (opt_size >= dirs_at + 8 && le32(oh + dirs_at - 4) > 0) {
        export_rva = le32(oh + dirs_at);
        export_size = le32(oh + dirs_at + 4);
    }
    psum_pe_range *ranges = malloc((nsections ? nsections : 1) * sizeof(*ranges));
    psum_pe_section *sections = malloc((nsections ? nsections : 1) * sizeof(*sections));
    if (!ranges || !sections) {
        free(ranges);
        free(sections);
        return PROCSUM_ENOMEM;
    }
    size_t n = 0;
    for (uint32_t i = 0; i < nsections; i++) {
        const uint8_t *s = hdr + sec + (uint64_t)i * 40;
        uint32_t vsize = le32(s + 8), va = le32(s + 12), raw_size = le32(s + 16), raw_ptr = le32(s + 20);
        uint32_t characteristics = le32(s + 36);
        sections[i] = (psum_pe_section){
            .va = va, .vsize = vsize, .raw_ptr = raw_ptr, .raw_size = raw_size, .characteristics = characteristics};
        uint64_t size = vsize ? vsize : raw_size;
        if (size == 0)
            continue;
        bool holds_entry = entry != 0 && entry >= va && (uint64_t)entry < (uint64_t)va + size;
        if (!(characteristics & SCN_MEM_EXECUTE) && !holds_entry)
            continue;
        /* The loader maps a section at a multiple of SectionAlignment; one elsewhere is no image. */
        if (!low_alignment && va % salign != 0) {
            free(ranges);
            free(sections);
            return PROCSUM_EBADMSG;
        }
        uint64_t start = va & ~(uint64_t)(PAGE - 1);
        uint64_t end = align_up((uint64_t)va + size, round);
        if (end > image_end)
            end = image_end;
        if (start >= end)
            continue;
        ranges[n].rva_start = (uint32_t)start;
        ranges[n].rva_end = (uint32_t)end;
        ranges[n].file_offset = low_alignment ? start : (uint64_t)raw_ptr + (start - va);
        n++;
    }
    qsort(ranges, n, sizeof(*ranges), by_start);
    /* Merge ranges that rounding made overlap; the first keeps its file offset. */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && ranges[i].rva_start < ranges[m - 1].rva_end) {
            if (ranges[i].rva_end > ranges[m - 1].rva_end)
                ranges[m - 1].rva_end = ranges[i].rva_end;
        } else {
            ranges[m++] = ranges[i];
        }
    }
    out->nt_offset = nt;
    out->size_of_image = image_end;
    out->entry_rva = entry;
    out->preferred_base = image_base;
    out->section_alignment = salign;
    out->ranges = ranges;
    out->range_count = m;
    out->sections = sections;
    out->section_count = nsections;
    out->reloc_rva = reloc_rva;
    out->reloc_size = reloc_size;
    out->iat_rva = iat_rva;
    out->iat_size = iat_size;
    out->pe32plus = magic == 0x20b;
    out->export_rva = export_rva;
    out->export_size = export_size;
    out->machine = le16(fh);
    return 0;
}

/* The bytes of a section the loader takes from the file: no more than its pages hold. */
static uint64_t loaded_raw(const psum_pe_section *s)
{
    uint64_t raw = s->raw_size;
    return s->vsize && raw > align_up(s->vsize, PAGE) ? align_up(s->vsize, PAGE) : raw;
}

bool psum_pe_view_at(const psum_pe_image *img, uint64_t o, psum_pe_view *out)
{
    if (img->section_alignment < PAGE) {
        *out = (psum_pe_view){.raw_ptr = 0, .raw_len = UINT64_MAX, .va = 0};
        return true;
    }
    const psum_pe_section *covering = NULL;
    for (size_t i = 0; i < img->section_count; i++) {
        const psum_pe_section *s = &img->sections[i];
        uint64_t size = s->vsize ? s->vsize : s->raw_size, raw = loaded_raw(s);
        if (s->raw_ptr == 0 || o < s->raw_ptr)
            continue;
        uint64_t at = o - s->raw_ptr;
        if (at < raw) {
            covering = s;
            break;
        }
        if (!covering && at < align_up(size, PAGE))
            covering = s;
    }
    if (!covering)
        return false;
    *out = (psum_pe_view){.raw_ptr = covering->raw_ptr, .raw_len = loaded_raw(covering), .va = covering->va};
    return true;
}

/* Adds delta (its low n bytes) to the n-byte little-endian field at p. */
static void add_le(uint8_t *p, unsigned n, uint64_t delta)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    v += delta;
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void psum_pe_relocate(const uint8_t *relocs, size_t len, int64_t rva, uint8_t *buf, size_t buf_len, uint64_t delta)
{
    size_t at = 0;
    while (len - at >= 8) {
        uint32_t page = le32(relocs + at), size = le32(relocs + at + 4);
        if (size < 8 || size > len - at)
            return; /* a malformed block ends the list, as it ends the loader's walk */
        for (size_t e = at + 8; e + 2 <= at + size; e += 2) {
            uint16_t entry = le16(relocs + e);
            unsigned type = entry >> 12;
            int64_t where = (int64_t)page + (entry & 0xFFFu) - rva;
            uint64_t d = delta;
            unsigned n;
            switch (type) {
            case 1: n = 2; d = delta >> 16; break;           /* HIGH: the upper half of a 32-bit address */
            case 2: n = 2; break;                             /* LOW */
            case 3: n = 4; break;                             /* HIGHLOW */
            case 10: n = 8; break;                            /* DIR64 */
            case 4: e += 2; continue;                         /* HIGHADJ: its second slot is not an entry */
            default: continue;                                /* ABSOLUTE pads a block; others are not x86 */
            }
            if (where >= 0 && (uint64_t)where + n <= buf_len)
                add_le(buf + where, n, d);
        }
        at += size;
    }
}

/* Whether the 12 bytes at p can be a version 2 entry of img, whose width then goes to *bytes. */
static bool pseudo_entry(const psum_pe_image *img, const uint8_t *p, unsigned *bytes)
{
    uint32_t sym = le32(p), target = le32(p + 4), bits = le32(p + 8);
    uint64_t slot = img->pe32plus ? 8 : 4;
    if (bits != 8 && bits != 16 && bits != 32 && bits != 64)
        return false;
    uint64_t lo = 0, hi = img->size_of_image;
    if (img->iat_size > 0) {
        lo = img->iat_rva;
        hi = (uint64_t)img->iat_rva + img->iat_size;
    }
    /* Import slots are pointers, aligned as pointers are. */
    if (sym < lo || (uint64_t)sym + slot > hi || sym % slot != 0 || (uint64_t)target + bits / 8 > img->size_of_image)
        return false;
    *bytes = bits / 8;
    return true;
}

int psum_pe_pseudo_find(const psum_pe_image *img, const uint8_t *data, size_t len, uint32_t va, psum_pe_pseudo **out,
                        size_t *count)
{
    *out = NULL;
    *count = 0;
    unsigned bytes;
    /* The list is made of 32-bit words, aligned as the section's RVA says. */
    size_t at = (4 - va % 4) % 4;
    for (; at + 24 <= len; at += 4)
        if (le32(data + at) == 0 && le32(data + at + 4) == 0 && le32(data + at + 8) == 1 &&
            pseudo_entry(img, data + at + 12, &bytes))
            break;
    if (at + 24 > len)
        return 0;
    size_t n = 0;
    for (size_t e = at + 12; e + 12 <= len && pseudo_entry(img, data + e, &bytes); e += 12)
        n++;
    psum_pe_pseudo *list = malloc(n * sizeof(*list));
    if (!list)
        return PROCSUM_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = data + at + 12 + 12 * i;
        pseudo_entry(img, p, &bytes);
        list[i] = (psum_pe_pseudo){.sym = le32(p), .target = le32(p + 4), .bytes = bytes};
    }
    *out = list;
    *count = n;
    return 0;
}

void psum_pe_pseudo_apply(const psum_pe_pseudo *p, size_t count, int64_t rva, uint8_t *buf, size_t buf_len)
{
    /* The runtime sign-extends a narrow field, adds, and keeps the low bytes: the same as adding modulo its width. */
    for (size_t i = 0; i < count; i++) {
        int64_t where = (int64_t)p[i].target - rva;
        if (where >= 0 && (uint64_t)where + p[i].bytes <= buf_len)
            add_le(buf + where, p[i].bytes, p[i].add);
    }
}

bool psum_pe_rva_offset(const psum_pe_image *img, uint32_t rva, uint64_t *off, uint64_t *left)
{
    if (img->section_alignment < PAGE) {
        *off = rva;
        *left = img->size_of_image > rva ? img->size_of_image - rva : 0;
        return *left > 0;
    }
    for (size_t i = 0; i < img->section_count; i++) {
        const psum_pe_section *s = &img->sections[i];
        uint64_t raw = loaded_raw(s);
        if (s->raw_ptr != 0 && rva >= s->va && rva - s->va < raw) {
            *off = (uint64_t)s->raw_ptr + (rva - s->va);
            *left = raw - (rva - s->va);
            return true;
        }
    }
    return false;
}

int psum_pe_exports(const uint8_t *dir, size_t len, uint32_t dir_rva, psum_pe_export_fn fn, void *ctx)
{
    /* IMAGE_EXPORT_DIRECTORY: 40 bytes; the counts and the three tables' RVAs from offset 24. */
    if (len < 40)
        return PROCSUM_EBADMSG;
    uint32_t nfuncs = le32(dir + 20), nnames = le32(dir + 24);
    uint32_t funcs = le32(dir + 28), names = le32(dir + 32), ordinals = le32(dir + 36);
    for (uint32_t i = 0; i < nnames; i++) {
        /* Each RVA is checked to lie inside dir before it is read: the counts come from the file. */
        uint64_t name_at = (uint64_t)names + 4u * i - dir_rva, ord_at = (uint64_t)ordinals + 2u * i - dir_rva;
        if (names < dir_rva || ordinals < dir_rva || name_at + 4 > len || ord_at + 2 > len)
            return 0;
        uint32_t ord = le16(dir + ord_at);
        uint64_t func_at = (uint64_t)funcs + 4u * ord - dir_rva;
        if (ord >= nfuncs || funcs < dir_rva || func_at + 4 > len)
            continue;
        uint32_t rva = le32(dir + func_at);
        uint32_t name_rva = le32(dir + name_at);
        if (rva == 0 || (rva >= dir_rva && rva - dir_rva < len) || name_rva < dir_rva || name_rva - dir_rva >= len)
            continue;
        const char *name = (const char *)dir + (name_rva - dir_rva);
        size_t n = 0, room = len - (name_rva - dir_rva);
        while (n < room && name[n] != '\0')
            n++;
        if (n == 0 || n == room)
            continue;
        int err = fn(ctx, rva, name, n);
        if (err)
            return err;
    }
    return 0;
}
