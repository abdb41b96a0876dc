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
