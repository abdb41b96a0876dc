/* Files behind module pages: open one by path and identity, read it at an offset. */
#include <stdlib.h>

#include "win.h"

struct psum_os_file {
    HANDLE handle;
};

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
    free(w);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD code = GetLastError();
        return code == ERROR_FILE_NOT_FOUND || code == ERROR_PATH_NOT_FOUND ? PROCSUM_ENOENT : psum_win_error(code);
    }
    BY_HANDLE_FILE_INFORMATION info;
    /* The same identity the region list gives: volume serial number and file index. */
    if (!GetFileInformationByHandle(h, &info) || (uint64_t)info.dwVolumeSerialNumber != dev ||
        (((uint64_t)info.nFileIndexHigh << 32) | info.nFileIndexLow) != ino) {
        CloseHandle(h);
        return PROCSUM_ENOENT;
    }
    psum_os_file *f = malloc(sizeof(*f));
    if (!f) {
        CloseHandle(h);
        return PROCSUM_ENOMEM;
    }
    f->handle = h;
    *out = f;
    return 0;
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
    size_t done = 0;
    int err = 0;
    while (done < len) {
        OVERLAPPED at = {0};
        uint64_t pos = offset + done;
        at.Offset = (DWORD)pos;
        at.OffsetHigh = (DWORD)(pos >> 32);
        DWORD want = len - done > 0x40000000u ? 0x40000000u : (DWORD)(len - done);
        DWORD n = 0;
        if (!ReadFile(f->handle, (char *)buf + done, want, &n, &at)) {
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
