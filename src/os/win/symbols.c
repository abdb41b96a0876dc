/*
 * The functions a PE file names: its export table, read through the file
 * (psum_os_file_read, as the loader lays the sections out) and parsed by
 * pe.c. Exports have no size: each is taken to reach to the end of its
 * section's file bytes, so the export at or before a byte names it (a
 * function that is not exported is named after the export before it in the
 * same section). Windows builds have no libelf and no Capstone: this is
 * all they say of a change's code.
 */
#include <stdlib.h>

#include "win.h"

#include "files.h"
#include "pe.h"

/* The export directory is read whole: larger ones are refused. */
#define MAX_EXPORTS_BYTES ((size_t)16 << 20)

typedef struct export_walk {
    const psum_pe_image *img;
    psum_os_symbol_list *out;
} export_walk;

static int add_export(void *ctx, uint32_t rva, const char *name, size_t len)
{
    export_walk *w = ctx;
    uint64_t off, left;
    if (!psum_pe_rva_offset(w->img, rva, &off, &left))
        return 0; /* not in a section's file bytes: not code this file holds */
    return psum_os_symbol_list_push(w->out, off, left, 3, name, len);
}

static psum_machine machine_of(uint16_t m)
{
    switch (m) {
    case 0x8664: return PSUM_MACHINE_X86_64;
    case 0x14c: return PSUM_MACHINE_X86_32;
    case 0xaa64: return PSUM_MACHINE_ARM64;
    default: return PSUM_MACHINE_UNKNOWN;
    }
}

bool psum_os_symbols_loaded(bool load_now)
{
    (void)load_now;
    return true; /* the export table is read by hand */
}

int psum_os_file_symbols(psum_os_file *f, bool may_load, psum_os_symbol_list *out)
{
    (void)may_load;
    *out = (psum_os_symbol_list){0};
    const psum_pe_image *img = f ? psum_win_file_image(f) : NULL;
    if (!img)
        return PROCSUM_EBADMSG;
    out->machine = machine_of(img->machine);
    uint64_t off, left;
    if (img->export_size == 0 || !psum_pe_rva_offset(img, img->export_rva, &off, &left))
        return 0; /* nothing exported */
    size_t len = img->export_size < left ? img->export_size : (size_t)left;
    if (len > MAX_EXPORTS_BYTES)
        return PROCSUM_ERANGE;
    uint8_t *dir = malloc(len ? len : 1);
    if (!dir)
        return PROCSUM_ENOMEM;
    int err = psum_os_file_read(f, off, dir, len, NULL);
    export_walk w = {.img = img, .out = out};
    if (!err)
        err = psum_pe_exports(dir, len, img->export_rva, add_export, &w);
    free(dir);
    if (err)
        psum_os_symbol_list_free(out);
    return err;
}
