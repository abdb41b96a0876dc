/*
 * The executable ranges of a PE image, from its headers as mapped. Pure
 * parsing of a buffer: it never touches the image itself.
 */
#ifndef PSUM_WIN_PE_H
#define PSUM_WIN_PE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One executable range of an image, relative to its base. */
typedef struct psum_pe_range {
    uint32_t rva_start, rva_end; /* [start, end), page aligned */
    uint64_t file_offset;        /* offset in the PE file of the byte at rva_start */
} psum_pe_range;

/* One section as the loader maps it: SizeOfRawData bytes from the file, then zeros. */
typedef struct psum_pe_section {
    uint32_t va, vsize;
    uint32_t raw_ptr, raw_size;
    uint32_t characteristics;
} psum_pe_section;

typedef struct psum_pe_image {
    uint32_t nt_offset;       /* e_lfanew: where "PE\0\0" is */
    uint64_t size_of_image;   /* SizeOfImage rounded up to a page */
    uint32_t entry_rva;       /* 0 when the image has no entry point */
    uint64_t preferred_base;  /* ImageBase as the file gives it */
    uint32_t section_alignment;
    psum_pe_range *ranges;    /* owned; ascending, non-overlapping */
    size_t range_count;
    psum_pe_section *sections; /* owned; in header order */
    size_t section_count;
    uint32_t reloc_rva, reloc_size; /* the base relocation directory; 0 when there is none */
    uint32_t iat_rva, iat_size;     /* the import address table directory; 0 when there is none */
    bool pe32plus;                  /* 64-bit optional header: pointers (and import slots) are 8 bytes */
    uint32_t export_rva, export_size; /* the export directory; 0 when there is none */
    uint16_t machine;                 /* the file header's Machine: 0x8664 x64, 0x14c x86, 0xaa64 ARM64 */
} psum_pe_image;

/*
 * Parses the headers in hdr[0, len). Returns 0; PROCSUM_ERANGE with *need set
 * when the headers extend beyond len (call again with at least *need bytes);
 * PROCSUM_EBADMSG when they are not a PE image's; PROCSUM_ENOMEM.
 *
 * The ranges are the sections marked IMAGE_SCN_MEM_EXECUTE plus the section
 * holding the entry point, each rounded out to 4 KiB pages, one per section
 * (merged only where rounding makes them overlap, which happens only in
 * images whose SectionAlignment is below a page; their file layout is their
 * memory layout, so the file offset of any byte is its RVA).
 * Otherwise the file offset of rva_start is the section's PointerToRawData
 * plus the offset in the section.
 */
int psum_pe_parse(const uint8_t *hdr, size_t len, psum_pe_image *out, size_t *need);
void psum_pe_free(psum_pe_image *img);

/*
 * Where the bytes of an image page come from. A range's page at file offset
 * o holds, byte by byte, the file's bytes at o + i while o + i lies in
 * [raw_ptr, raw_ptr + raw_len), and zeros elsewhere: the loader copies
 * SizeOfRawData bytes of a section (no more than its VirtualSize rounded to
 * a page) and fills the rest of its pages with zeros, whatever the file
 * holds next (the following section). va is the RVA of the byte at raw_ptr.
 */
typedef struct psum_pe_view {
    uint64_t raw_ptr, raw_len;
    uint32_t va;
} psum_pe_view;

/*
 * The view of the section whose page starts at file offset o (as a range's
 * file_offset and its multiples of a page give it); false when o is in no
 * section (the headers, or past them all). A section that has file bytes at
 * o wins over one whose zero-filled tail only covers o. Images whose
 * SectionAlignment is below a page are laid out in the file as in memory:
 * the whole file, at RVA = file offset.
 */
bool psum_pe_view_at(const psum_pe_image *img, uint64_t o, psum_pe_view *out);

/*
 * Applies the base relocations in relocs[0, len) (the .reloc directory's
 * bytes) that lie wholly in buf[0, buf_len), which holds the image bytes
 * from RVA rva (negative: before the image), for an image loaded delta
 * bytes away from its ImageBase: what the loader does to those bytes.
 */
void psum_pe_relocate(const uint8_t *relocs, size_t len, int64_t rva, uint8_t *buf, size_t buf_len, uint64_t delta);

/*
 * MinGW's runtime pseudo-relocations. Where code or data refers to a
 * variable of another DLL without dllimport, the linker leaves a list that
 * the program's start-up code (_pei386_runtime_relocator) walks before
 * main: each entry names an import address table slot (sym), a field of
 * the image (target) and its width in bits; the runtime adds the imported
 * variable's address minus the slot's own address to the field, which may
 * lie in .text. Version 2 of the list starts with the words 0, 0, 1 and
 * lies in a read-only data section; nothing in the headers points at it.
 */
typedef struct psum_pe_pseudo {
    uint32_t sym, target; /* RVAs: the import slot, the field rewritten */
    unsigned bytes;       /* the field's width: 1, 2, 4 or 8 */
    uint64_t add;         /* set by the caller: the slot's value minus the slot's address, as the runtime adds it */
} psum_pe_pseudo;

/*
 * Finds the version 2 list in data[0, len), the raw bytes of a section at
 * RVA va: the first header (0, 0, 1 at a 4-byte aligned place) followed by
 * at least one entry that can be one (sym a whole, aligned slot inside the
 * import address table, or inside the image when there is none; target a whole
 * field inside the image; width 8, 16, 32 or 64), and every valid entry
 * after it. *out (malloc'ed, add 0) and *count; both 0/NULL when there is
 * none. 0 or PROCSUM_ENOMEM.
 */
int psum_pe_pseudo_find(const psum_pe_image *img, const uint8_t *data, size_t len, uint32_t va, psum_pe_pseudo **out,
                        size_t *count);

/*
 * Applies the pseudo-relocations whose field lies wholly in buf[0, buf_len),
 * which holds the image bytes from RVA rva (negative: before the image):
 * what the runtime does to those bytes after the loader.
 */
void psum_pe_pseudo_apply(const psum_pe_pseudo *p, size_t count, int64_t rva, uint8_t *buf, size_t buf_len);

/*
 * The file offset of the byte at rva, and how many of the section's file
 * bytes follow it (*left); false when no section holds file bytes there.
 */
bool psum_pe_rva_offset(const psum_pe_image *img, uint32_t rva, uint64_t *off, uint64_t *left);

/* Called for each named export by psum_pe_exports: the export's RVA and its name (len bytes, not terminated). */
typedef int (*psum_pe_export_fn)(void *ctx, uint32_t rva, const char *name, size_t len);

/*
 * Walks the export directory in dir[0, len), the bytes of the image from
 * RVA dir_rva (the directory's own bytes: its tables and names lie inside
 * it in the files linkers write). Calls fn for each export that has a name
 * inside dir and an RVA outside it (one inside is a forwarder, a name of
 * another DLL's export, not code). Returns 0, what fn returned when not 0
 * (the walk stops), or PROCSUM_EBADMSG when the directory's header does
 * not fit in dir.
 */
int psum_pe_exports(const uint8_t *dir, size_t len, uint32_t dir_rva, psum_pe_export_fn fn, void *ctx);

#endif
