/*
 * Files behind module pages: open one by path and identity, read it at an
 * offset. A PE image is read as its loader lays it out, so that a page of
 * memory is compared with what the loader made of the file, not with the
 * file's bytes at the same offsets: a section's last page holds its raw
 * data and then zeros (the file holds the next section there); an image
 * loaded away from its ImageBase (in this process or in the target) has
 * the file's base relocations applied; and MinGW's runtime
 * pseudo-relocations are applied after them, with the imported addresses
 * the target's import slots hold (read once). For a file this process
 * maps, that layout is made at the first read rather than when the file is
 * opened: a pass opens each module's file for its state alone (size and
 * times), and the relocations and import slots would cost a first pass
 * over a few modules tens of milliseconds under Wine for nothing.
 * Offsets stay the file's own: a page of a section is read at
 * PointerToRawData plus its offset in the section.
 */
#include <stdlib.h>
#include <string.h>

#include "win.h"

#include "files.h"
#include "pe.h"
#include "target.h"

#define HEADER_READ 4096u
#define MAX_HEADER_READ (4u << 20)
#define MAX_RELOCS (64u << 20)
/* Read-only data sections searched for a pseudo-relocation list; larger ones are not MinGW's. */
#define MAX_PSEUDO_SECTION (16u << 20)
#define SCN_CNT_INITIALIZED_DATA 0x00000040u
#define SCN_MEM_EXECUTE 0x20000000u
#define SCN_MEM_WRITE 0x80000000u
/* A fixup is at most 8 bytes: read this much on each side so that one across the edge is applied too. */
#define FIXUP_MARGIN 8u

struct psum_os_file {
    HANDLE handle;
    bool pe;              /* a PE image: read through its sections */
    psum_pe_image image;
    uint64_t delta;       /* load base minus ImageBase where the process maps it; 0 when not relocated */
    uint8_t *relocs;      /* the base relocation directory's bytes when delta is not 0 */
    size_t relocs_len;
    psum_pe_pseudo *pseudo; /* MinGW's runtime pseudo-relocations, each with what it adds there */
    size_t pseudo_count;
    bool laid_out;   /* the fields above are known (image_layout ran) */
    int layout_err;  /* what image_layout returned */
    uintptr_t base;  /* not laid out yet: where this process loaded the file (0: nowhere) */
};

/* The process that maps the file, and where: the base relocations and pseudo-relocations to recompute. */
typedef struct load_site {
    HANDLE process;
    uintptr_t base; /* 0: not loaded there; read the file's bytes as the loader lays them out, no fixups */
} load_site;

static int read_plain(HANDLE h, uint64_t offset, void *buf, size_t len, size_t *got);
static int image_layout(psum_os_file *f, const load_site *at);
static int open_at(const char *path, uint64_t dev, uint64_t ino, const load_site *site, psum_os_file **out);

/* The layout of a file this process maps, made on its first use. */
static int laid_out(psum_os_file *f)
{
    if (!f->laid_out) {
        load_site own = {.process = GetCurrentProcess(), .base = f->base};
        f->layout_err = image_layout(f, &own);
        f->laid_out = true;
    }
    return f->layout_err;
}

const psum_pe_image *psum_win_file_image(psum_os_file *f)
{
    return laid_out(f) == 0 && f->pe ? &f->image : NULL;
}

/* The path is UTF-8, as the region lists give it. */
static wchar_t *wide_path(const char *path)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, NULL, 0);
    if (n <= 0)
        return NULL;
    wchar_t *w = malloc((size_t)n * sizeof(*w));
    if (w && MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, w, n) != n) {
        free(w);
        w = NULL;
    }
    return w;
}

/* The calling process's module loaded from w, without taking a reference; base 0 when there is none. */
static load_site own_site(const wchar_t *w)
{
    HMODULE m = NULL;
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT, w, &m))
        m = NULL;
    return (load_site){.process = GetCurrentProcess(), .base = (uintptr_t)m};
}

int psum_os_file_open(const char *path, uint64_t dev, uint64_t ino, psum_os_file **out)
{
    return open_at(path, dev, ino, NULL, out);
}

/* site NULL: the calling process, wherever it loaded the file. */
static int open_at(const char *path, uint64_t dev, uint64_t ino, const load_site *site, psum_os_file **out)
{
    if (!path || !out)
        return PROCSUM_EINVAL;
    *out = NULL;
    wchar_t *w = wide_path(path);
    if (!w)
        return PROCSUM_ENOENT;
    HANDLE h = CreateFileW(w, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD code = GetLastError();
        free(w);
        return code == ERROR_FILE_NOT_FOUND || code == ERROR_PATH_NOT_FOUND ? PROCSUM_ENOENT : psum_win_error(code);
    }
    BY_HANDLE_FILE_INFORMATION info;
    /* The same identity the region list gives: volume serial number and file index. */
    if (!GetFileInformationByHandle(h, &info) || (uint64_t)info.dwVolumeSerialNumber != dev ||
        (((uint64_t)info.nFileIndexHigh << 32) | info.nFileIndexLow) != ino) {
        CloseHandle(h);
        free(w);
        return PROCSUM_ENOENT;
    }
    psum_os_file *f = calloc(1, sizeof(*f));
    if (!f) {
        CloseHandle(h);
        free(w);
        return PROCSUM_ENOMEM;
    }
    f->handle = h;
    load_site at = site ? *site : own_site(w);
    free(w);
    if (at.process == GetCurrentProcess()) {
        f->base = at.base; /* laid out at the first read */
    } else {
        /* Another process's import slots are read now, while its handle is sure to be open. */
        f->layout_err = image_layout(f, &at);
        f->laid_out = true;
        if (f->layout_err) {
            int err = f->layout_err;
            psum_os_file_close(f);
            return err;
        }
    }
    *out = f;
    return 0;
}

/* The file offset of an RVA that lies in a section's raw data; false when none holds it. */
static bool file_offset_of(const psum_pe_image *img, uint32_t rva, uint32_t len, uint64_t *out)
{
    for (size_t i = 0; i < img->section_count; i++) {
        const psum_pe_section *s = &img->sections[i];
        if (rva >= s->va && (uint64_t)rva + len <= (uint64_t)s->va + s->raw_size) {
            *out = (uint64_t)s->raw_ptr + (rva - s->va);
            return true;
        }
    }
    return false;
}

/*
 * The pseudo-relocation list of f's image, if it has one, with what each
 * entry adds where the image is loaded at `at`: the runtime adds the
 * imported address its slot holds minus the slot's own address. An entry
 * whose slot cannot be read is dropped: its field is compared as the file
 * has it.
 */
static int pseudo_relocations(psum_os_file *f, const load_site *at)
{
    const psum_pe_image *img = &f->image;
    for (size_t i = 0; i < img->section_count && !f->pseudo; i++) {
        const psum_pe_section *s = &img->sections[i];
        uint32_t c = s->characteristics;
        if (!(c & SCN_CNT_INITIALIZED_DATA) || (c & (SCN_MEM_EXECUTE | SCN_MEM_WRITE)) || s->raw_size == 0 ||
            s->raw_size > MAX_PSEUDO_SECTION)
            continue;
        uint8_t *data = malloc(s->raw_size);
        if (!data)
            return PROCSUM_ENOMEM;
        size_t got = 0;
        int err = read_plain(f->handle, s->raw_ptr, data, s->raw_size, &got);
        if (!err)
            err = psum_pe_pseudo_find(img, data, got, s->va, &f->pseudo, &f->pseudo_count);
        free(data);
        if (err)
            return err;
    }
    size_t kept = 0;
    for (size_t i = 0; i < f->pseudo_count; i++) {
        psum_pe_pseudo *p = &f->pseudo[i];
        uintptr_t slot = at->base + p->sym;
        uint8_t v[8] = {0};
        size_t n = img->pe32plus ? 8 : 4;
        SIZE_T copied = 0;
        if (!ReadProcessMemory(at->process, (LPCVOID)slot, v, n, &copied) || copied != n)
            continue;
        uint64_t value = 0;
        for (size_t b = 0; b < n; b++)
            value |= (uint64_t)v[b] << (8 * b);
        p->add = value - (uint64_t)slot;
        f->pseudo[kept++] = *p;
    }
    f->pseudo_count = kept;
    return 0;
}

/*
 * Whether f is a PE image, its sections, and, where it is loaded at
 * site->base, its base relocations (when away from its ImageBase) and
 * pseudo-relocations. A file that is not a PE image is read as it is (0);
 * only a failed allocation or read fails.
 */
static int image_layout(psum_os_file *f, const load_site *site)
{
    size_t len = HEADER_READ, got = 0;
    for (;;) {
        uint8_t *hdr = malloc(len);
        if (!hdr)
            return PROCSUM_ENOMEM;
        int err = read_plain(f->handle, 0, hdr, len, &got);
        size_t need = 0;
        if (!err)
            err = psum_pe_parse(hdr, got, &f->image, &need);
        free(hdr);
        if (err == PROCSUM_ERANGE && need > len && need <= MAX_HEADER_READ && got == len) {
            len = need;
            continue;
        }
        if (err == PROCSUM_ENOMEM || err == PROCSUM_EIO)
            return err;
        if (err)
            return 0;
        break;
    }
    f->pe = true;
    if (site->base == 0)
        return 0;
    int err = pseudo_relocations(f, site);
    if (err)
        return err;
    uint64_t delta = (uint64_t)site->base - f->image.preferred_base;
    uint64_t at = 0;
    if (delta == 0 || f->image.reloc_size == 0 || f->image.reloc_size > MAX_RELOCS ||
        !file_offset_of(&f->image, f->image.reloc_rva, f->image.reloc_size, &at))
        return 0;
    f->relocs = malloc(f->image.reloc_size);
    if (!f->relocs)
        return PROCSUM_ENOMEM;
    err = read_plain(f->handle, at, f->relocs, f->image.reloc_size, &got);
    if (err)
        return err;
    f->relocs_len = got;
    f->delta = delta;
    return 0;
}

/*
 * A page of the image as the loader made it: the section's raw bytes, zeros
 * past them, the base relocations applied. Read FIXUP_MARGIN bytes wider on
 * each side so that a fixup across either edge is applied to the bytes
 * inside.
 */
static int read_image(psum_os_file *f, const psum_pe_view *v, uint64_t offset, void *buf, size_t len, size_t *got)
{
    size_t wide = len + 2 * FIXUP_MARGIN;
    uint8_t *tmp = malloc(wide);
    if (!tmp)
        return PROCSUM_ENOMEM;
    memset(tmp, 0, wide);
    /* [lo, hi): the wide read's file bytes, clipped to the section's raw data. */
    uint64_t from = offset >= FIXUP_MARGIN ? offset - FIXUP_MARGIN : 0;
    uint64_t lo = from > v->raw_ptr ? from : v->raw_ptr;
    uint64_t raw_end = v->raw_len > UINT64_MAX - v->raw_ptr ? UINT64_MAX : v->raw_ptr + v->raw_len;
    uint64_t hi = offset + len + FIXUP_MARGIN;
    if (hi > raw_end)
        hi = raw_end;
    size_t start = (size_t)(from + FIXUP_MARGIN - offset); /* where `from` lands in tmp */
    int err = 0;
    size_t read = 0;
    if (lo < hi)
        err = read_plain(f->handle, lo, tmp + start + (lo - from), (size_t)(hi - lo), &read);
    int64_t rva = (int64_t)v->va + (int64_t)offset - FIXUP_MARGIN - (int64_t)v->raw_ptr;
    if (!err && f->delta)
        psum_pe_relocate(f->relocs, f->relocs_len, rva, tmp, wide, f->delta);
    if (!err)
        psum_pe_pseudo_apply(f->pseudo, f->pseudo_count, rva, tmp, wide);
    memcpy(buf, tmp + FIXUP_MARGIN, len);
    free(tmp);
    if (got) {
        /* The file's bytes inside [offset, offset + len). */
        uint64_t a = lo > offset ? lo : offset, b = lo + read < offset + len ? lo + read : offset + len;
        *got = b > a ? (size_t)(b - a) : 0;
    }
    return err;
}

/*
 * Windows names a module's file by its path alone: a file replaced since it
 * was loaded is not reached. The fixups are recomputed for where the
 * target's last listing found the module.
 */
int psum_os_file_open_mapped(psum_os_target *t, const psum_os_region *r, psum_os_file **out)
{
    if (!out || !r)
        return PROCSUM_EINVAL;
    *out = NULL;
    if (r->file_deleted)
        return PROCSUM_ENOENT;
    const win_module *m = t ? psum_win_module_at(&t->modules, r->start) : NULL;
    if (!m)
        return open_at(r->path, r->dev, r->ino, NULL, out);
    load_site site = {.process = t->process, .base = m->base};
    return open_at(r->path, r->dev, r->ino, &site, out);
}

int psum_os_file_read(psum_os_file *f, uint64_t offset, void *buf, size_t len, size_t *got)
{
    int err = laid_out(f);
    if (err) {
        if (got)
            *got = 0;
        return err;
    }
    psum_pe_view v;
    if (f->pe && psum_pe_view_at(&f->image, offset, &v))
        return read_image(f, &v, offset, buf, len, got);
    return read_plain(f->handle, offset, buf, len, got);
}

static int read_plain(HANDLE h, uint64_t offset, void *buf, size_t len, size_t *got)
{
    size_t done = 0;
    int err = 0;
    while (done < len) {
        OVERLAPPED at = {0};
        uint64_t pos = offset + done;
        at.Offset = (DWORD)pos;
        at.OffsetHigh = (DWORD)(pos >> 32);
        DWORD want = len - done > 0x40000000u ? 0x40000000u : (DWORD)(len - done);
        DWORD n = 0;
        if (!ReadFile(h, (char *)buf + done, want, &n, &at)) {
            DWORD code = GetLastError();
            if (code != ERROR_HANDLE_EOF)
                err = psum_win_error(code);
            break;
        }
        if (n == 0)
            break;
        done += n;
    }
    if (got)
        *got = done;
    /* Past the end of the file a mapping holds zeros. */
    for (size_t i = done; i < len; i++)
        ((unsigned char *)buf)[i] = 0;
    return err;
}

void psum_os_file_close(psum_os_file *f)
{
    if (!f)
        return;
    CloseHandle(f->handle);
    psum_pe_free(&f->image);
    free(f->relocs);
    free(f->pseudo);
    free(f);
}

int psum_os_file_state_of(psum_os_file *f, psum_os_file_state *out)
{
    if (!f || !out)
        return PROCSUM_EINVAL;
    /*
     * Size, links and times only: GetFileInformationByHandle would also ask
     * the volume's serial number, which Wine answers through its mount
     * manager in another process (about a millisecond each time).
     */
    FILE_STANDARD_INFO standard;
    FILE_BASIC_INFO basic;
    if (!GetFileInformationByHandleEx(f->handle, FileStandardInfo, &standard, sizeof(standard)) ||
        !GetFileInformationByHandleEx(f->handle, FileBasicInfo, &basic, sizeof(basic)))
        return psum_os_last_error();
    out->size = (uint64_t)standard.EndOfFile.QuadPart;
    out->links = standard.NumberOfLinks;
    out->mtime_ns = (int64_t)basic.LastWriteTime.QuadPart * 100; /* 100 ns steps since 1601 */
    /* The change time (metadata too) where the file system keeps one; else the write time again. */
    out->ctime_ns = basic.ChangeTime.QuadPart != 0 ? (int64_t)basic.ChangeTime.QuadPart * 100 : out->mtime_ns;
    return 0;
}

/*
 * Reading below the cache would need FILE_FLAG_NO_BUFFERING with
 * sector-aligned buffers; image pages on Windows are compared with the
 * file through the cache, and reports say so.
 */
int psum_os_file_read_below_cache(psum_os_file *f, uint64_t offset, void *buf, size_t len)
{
    (void)f;
    (void)offset;
    (void)buf;
    (void)len;
    return PROCSUM_ENOSYS;
}
