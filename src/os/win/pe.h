/*
 * The executable ranges of a PE image, from its headers as mapped. Pure
 * parsing of a buffer: it never touches the image itself.
 */
#ifndef PSUM_WIN_PE_H
#define PSUM_WIN_PE_H

#include <stddef.h>
#include <stdint.h>

/* One executable range of an image, relative to its base. */
typedef struct psum_pe_range {
    uint32_t rva_start, rva_end; /* [start, end), page aligned */
    uint64_t file_offset;        /* offset in the PE file of the byte at rva_start */
} psum_pe_range;

typedef struct psum_pe_image {
    uint32_t nt_offset;       /* e_lfanew: where "PE\0\0" is */
    uint64_t size_of_image;   /* SizeOfImage rounded up to a page */
    uint32_t entry_rva;       /* 0 when the image has no entry point */
    uint64_t preferred_base;  /* ImageBase as the file gives it */
    uint32_t section_alignment;
    psum_pe_range *ranges;    /* owned; ascending, non-overlapping */
    size_t range_count;
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

#endif
