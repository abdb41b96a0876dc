/*
 * Files behind module pages: open one by path and identity, read it at an
 * offset. A PE image is read as its loader lays it out, so that a page of
 * memory is compared with what the loader made of the file, not with the
 * file's bytes at the same offsets: a section's last page holds its raw
 * data and then zeros (the file holds the next section there), and an
 * image of this process loaded away from its ImageBase has the file's base
 * relocations applied. Offsets stay the file's own: a page of a section is
 * read at PointerToRawData plus its offset in the section.
 */
#include <stdlib.h>
#include <string.h>

#include "win.h"

#include "files.h"
#include "pe.h"

#define HEADER_READ 4096u
#define MAX_HEADER_READ (4u << 20)
#define MAX_RELOCS (64u << 20)
/* A fixup is at most 8 bytes: read this much on each side so that one across the edge is applied too. */
#define FIXUP_MARGIN 8u

struct psum_os_file {
    HANDLE handle;
    bool pe;              /* a PE image: read through its sections */
    psum_pe_image image;
    uint64_t delta;       /* load base minus ImageBase in this process; 0 when not relocated */
    uint8_t *relocs;      /* the base relocation directory's bytes when delta is not 0 */
    size_t relocs_len;
};

static int read_plain(HANDLE h, uint64_t offset, void *buf, size_t len, size_t *got);
static int image_layout(psum_os_file *f, const wchar_t *path);

const psum_pe_image *psum_win_file_image(const psum_os_file *f)
{
    return f->pe ? &f->image : NULL;
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

int psum_os_file_open(const char *path, uint64_t dev, uint64_t ino, psum_os_file **out)
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
    int err = image_layout(f, w);
    free(w);
    if (err) {
        psum_os_file_close(f);
        return err;
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
 * Whether f is a PE image, its sections, and, where this process loaded it
 * away from its ImageBase, its base relocations. A file that is not a PE
 * image is read as it is (0); only a failed allocation or read fails.
 */
static int image_layout(psum_os_file *f, const wchar_t *path)
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
    /* The module of this process loaded from this path, without taking a reference. */
    HMODULE m = NULL;
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT, path, &m) || !m)
        return 0;
    uint64_t delta = (uint64_t)(uintptr_t)m - f->image.preferred_base;
    uint64_t at = 0;
    if (delta == 0 || f->image.reloc_size == 0 || f->image.reloc_size > MAX_RELOCS ||
        !file_offset_of(&f->image, f->image.reloc_rva, f->image.reloc_size, &at))
        return 0;
    f->relocs = malloc(f->image.reloc_size);
    if (!f->relocs)
        return PROCSUM_ENOMEM;
    int err = read_plain(f->handle, at, f->relocs, f->image.reloc_size, &got);
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
    if (!err && f->delta)
        psum_pe_relocate(f->relocs, f->relocs_len, (int64_t)v->va + (int64_t)offset - FIXUP_MARGIN - (int64_t)v->raw_ptr,
                         tmp, wide, f->delta);
    memcpy(buf, tmp + FIXUP_MARGIN, len);
    free(tmp);
    if (got) {
        /* The file's bytes inside [offset, offset + len). */
        uint64_t a = lo > offset ? lo : offset, b = lo + read < offset + len ? lo + read : offset + len;
        *got = b > a ? (size_t)(b - a) : 0;
    }
    return err;
}

/* Windows names a module's file by its path alone: a file replaced since it was loaded is not reached. */
int psum_os_file_open_mapped(psum_os_target *t, const psum_os_region *r, psum_os_file **out)
{
    (void)t;
    if (!out || !r)
        return PROCSUM_EINVAL;
    *out = NULL;
    return r->file_deleted ? PROCSUM_ENOENT : psum_os_file_open(r->path, r->dev, r->ino, out);
}

int psum_os_file_read(psum_os_file *f, uint64_t offset, void *buf, size_t len, size_t *got)
{
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
    free(f);
}

/* FILETIME counts 100 ns steps since 1601. */
static int64_t filetime_ns(FILETIME t)
{
    return (int64_t)((((uint64_t)t.dwHighDateTime << 32) | t.dwLowDateTime) * 100u);
}

int psum_os_file_state_of(psum_os_file *f, psum_os_file_state *out)
{
    if (!f || !out)
        return PROCSUM_EINVAL;
    BY_HANDLE_FILE_INFORMATION info;
    if (!GetFileInformationByHandle(f->handle, &info))
        return psum_os_last_error();
    out->size = ((uint64_t)info.nFileSizeHigh << 32) | info.nFileSizeLow;
    out->mtime_ns = filetime_ns(info.ftLastWriteTime);
    /* The change time (metadata too) where the file system keeps one; else the write time again. */
    FILE_BASIC_INFO basic;
    out->ctime_ns = GetFileInformationByHandleEx(f->handle, FileBasicInfo, &basic, sizeof(basic))
                        ? (int64_t)basic.ChangeTime.QuadPart * 100
                        : out->mtime_ns;
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
