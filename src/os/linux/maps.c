/*
 * One line of /proc/PID/maps:
 *   start-end perms offset major:minor inode   path
 * Numbers are hexadecimal except the inode. The path is everything after the
 * padding that follows the inode: it may be empty (anonymous memory), a
 * bracketed kernel name ([vdso], [anon:name]), contain spaces, or end in
 * " (deleted)" once the file was unlinked.
 */
#include "maps.h"

#include <stdlib.h>
#include <string.h>

static const char DELETED_SUFFIX[] = PSUM_MAPS_DELETED_SUFFIX;

/* Reads hex digits from *p up to end; fails if there are none or too many. */
static bool take_hex(const char **p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    int digits = 0;
    while (*p < end) {
        char ch = **p;
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            d = (unsigned)(ch - 'A' + 10);
        else
            break;
        if (++digits > 16)
            return false;
        v = (v << 4) | d;
        (*p)++;
    }
    *out = v;
    return digits > 0;
}

static bool take_dec(const char **p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    int digits = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        unsigned d = (unsigned)(**p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        digits++;
        (*p)++;
    }
    *out = v;
    return digits > 0;
}

static bool take_char(const char **p, const char *end, char want)
{
    if (*p >= end || **p != want)
        return false;
    (*p)++;
    return true;
}

static void skip_spaces(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
}

/* Fields are separated by at least one space. */
static bool take_separator(const char **p, const char *end)
{
    if (*p >= end || (**p != ' ' && **p != '\t'))
        return false;
    skip_spaces(p, end);
    return true;
}

static procsum_region_kind kind_of(const char *path, size_t len)
{
    if (len == 0 || (len >= 6 && memcmp(path, "[anon:", 6) == 0))
        return PROCSUM_REGION_ANON;
    if (len == 6 && memcmp(path, "[vdso]", 6) == 0)
        return PROCSUM_REGION_VDSO;
    if (path[0] == '/')
        return PROCSUM_REGION_FILE;
    return PROCSUM_REGION_OTHER;
}

int psum_maps_parse_fields(const char *line, size_t len, psum_os_region *out, const char **name, size_t *name_len)
{
    const char *p = line, *end = line + len;
    uint64_t start, stop, offset, major, minor, inode;

    while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
        end--;
    memset(out, 0, sizeof(*out));

    if (!take_hex(&p, end, &start) || !take_char(&p, end, '-') || !take_hex(&p, end, &stop))
        return PROCSUM_EBADMSG;
    if (stop <= start || stop > UINTPTR_MAX || !take_separator(&p, end))
        return PROCSUM_EBADMSG;

    if (end - p < 4)
        return PROCSUM_EBADMSG;
    if ((p[0] != 'r' && p[0] != '-') || (p[1] != 'w' && p[1] != '-') || (p[2] != 'x' && p[2] != '-') ||
        (p[3] != 'p' && p[3] != 's'))
        return PROCSUM_EBADMSG;
    out->prot = (p[0] == 'r' ? PSUM_PROT_R : 0u) | (p[1] == 'w' ? PSUM_PROT_W : 0u) |
                (p[2] == 'x' ? PSUM_PROT_X : 0u);
    p += 4;
    if (!take_separator(&p, end) || !take_hex(&p, end, &offset) || !take_separator(&p, end))
        return PROCSUM_EBADMSG;
    if (!take_hex(&p, end, &major) || !take_char(&p, end, ':') || !take_hex(&p, end, &minor) ||
        !take_separator(&p, end))
        return PROCSUM_EBADMSG;
    if (!take_dec(&p, end, &inode))
        return PROCSUM_EBADMSG;
    if (p < end && *p != ' ' && *p != '\t')
        return PROCSUM_EBADMSG;
    skip_spaces(&p, end);

    psum_maps_name_fields(out, &p, (size_t)(end - p), name_len);
    *name = p;
    out->start = (uintptr_t)start;
    out->end = (uintptr_t)stop;
    if (out->kind == PROCSUM_REGION_FILE) {
        out->dev = psum_maps_dev(major, minor);
        out->ino = inode;
        out->file_offset = offset;
    }
    return 0;
}

uint64_t psum_maps_dev(uint64_t major, uint64_t minor)
{
    /* The same packing as the kernel's dev_t, so stat() results compare equal. */
    return ((major & 0xfffff000u) << 32) | ((major & 0xfffu) << 8) | ((minor & 0xffffff00u) << 12) |
           (minor & 0xffu);
}

void psum_maps_name_fields(psum_os_region *out, const char **name, size_t len, size_t *path_len)
{
    bool deleted = false;
    size_t suffix = sizeof(DELETED_SUFFIX) - 1;
    if (len > suffix && (*name)[0] == '/' && memcmp(*name + len - suffix, DELETED_SUFFIX, suffix) == 0) {
        deleted = true;
        len -= suffix;
    }
    out->kind = kind_of(*name, len);
    out->path = NULL;
    out->file_deleted = deleted;
    if (len == 0) {
        *name = "[anon]";
        len = 6;
    }
    *path_len = len;
}

int psum_maps_parse_line(const char *line, size_t len, psum_os_region *out)
{
    const char *name;
    size_t name_len;
    int err = psum_maps_parse_fields(line, len, out, &name, &name_len);
    if (err)
        return err;
    return psum_maps_copy_name(out, name, name_len);
}

int psum_maps_copy_name(psum_os_region *out, const char *name, size_t len)
{
    out->path = malloc(len + 1);
    if (!out->path)
        return PROCSUM_ENOMEM;
    memcpy(out->path, name, len);
    out->path[len] = '\0';
    return 0;
}
