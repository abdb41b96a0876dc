/*
 * The mappings of a Windows process: its modules from the loader, the
 * executable sections of each from its PE headers, cross-checked and split
 * by VirtualQuery; executable memory outside modules from VirtualQuery;.
 */
#include "win.h"

#include <psapi.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "pages.h"
#include "pe.h"
#include "target.h"

#define PAGE 4096u
#define HEADER_READ 4096u
#define MAX_HEADER_READ (4u << 20) /* 65535 section headers fit */
#define ENUM_ATTEMPTS 16
#define MAX_PATH_CHARS 32768u

static int module_set_push(module_set *s, const win_module *m)
{
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        win_module *items = realloc(s->items, cap * sizeof(*items));
        if (!items)
            return PROCSUM_ENOMEM;
        s->items = items;
        s->cap = cap;
    }
    s->items[s->count++] = *m;
    return 0;
}

static const win_module *module_with_base(const module_set *s, uintptr_t base)
{
    const win_module *m = psum_win_module_at(s, base);
    return m && m->base == base ? m : NULL;
}

static char *utf8_from_wide(const wchar_t *w)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    if (n <= 0)
        return NULL;
    char *s = malloc((size_t)n);
    if (s && WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) != n) {
        free(s);
        s = NULL;
    }
    return s;
}

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* ---- modules ---- */

/* The loader's module list; retried while it changes under the call. */
static int enum_modules(const psum_os_target *t, HMODULE **out, size_t *count)
{
    size_t cap = 256;
    HMODULE *mods = NULL;
    DWORD last = ERROR_PARTIAL_COPY;
    for (int attempt = 0; attempt < ENUM_ATTEMPTS; attempt++) {
        HMODULE *grown = realloc(mods, cap * sizeof(*mods));
        if (!grown) {
            free(mods);
            return PROCSUM_ENOMEM;
        }
        mods = grown;
        DWORD needed = 0;
        if (!EnumProcessModulesEx(t->process, mods, (DWORD)(cap * sizeof(*mods)), &needed, LIST_MODULES_ALL)) {
            last = GetLastError();
            /* ERROR_PARTIAL_COPY: the list changed while it was walked. */
            if (last == ERROR_PARTIAL_COPY || last == ERROR_NOACCESS) {
                Sleep(attempt < 4 ? 0 : 1);
                continue;
            }
            break;
        }
        size_t n = needed / sizeof(*mods);
        if (n > cap) {
            cap = n + 64; /* it grew meanwhile: again, with room */
            continue;
        }
        *out = mods;
        *count = n;
        return 0;
    }
    free(mods);
    if (psum_win_process_exited(t))
        return PROCSUM_ESRCH;
    return last == ERROR_PARTIAL_COPY || last == ERROR_NOACCESS ? PROCSUM_EAGAIN : psum_win_error(last);
}

static wchar_t *module_path(const psum_os_target *t, HMODULE h)
{
    for (DWORD cap = MAX_PATH; cap <= MAX_PATH_CHARS; cap *= 2) {
        wchar_t *buf = malloc(cap * sizeof(*buf));
        if (!buf)
            return NULL;
        DWORD n = t->self ? GetModuleFileNameW(h, buf, cap) : GetModuleFileNameExW(t->process, h, buf, cap);
        if (n > 0 && n < cap - 1) {
            buf[n] = L'\0';
            return buf;
        }
        free(buf);
        if (n == 0)
            return NULL; /* unloaded meanwhile */
    }
    return NULL;
}

/* Reads and parses a module's headers; 1 when it is to be skipped (gone, or not a PE image). */
static int module_headers(const psum_os_target *t, uintptr_t base, win_module *m)
{
    size_t len = HEADER_READ;
    for (;;) {
        uint8_t *hdr = malloc(len);
        if (!hdr)
            return PROCSUM_ENOMEM;
        if (psum_win_read_plain(t, base, hdr, len) != 0) {
            free(hdr);
            return 1;
        }
        psum_pe_image img;
        size_t need = 0;
        int err = psum_pe_parse(hdr, len, &img, &need);
        if (err == PROCSUM_ERANGE && need > len && need <= MAX_HEADER_READ) {
            free(hdr);
            len = need;
            continue;
        }
        if (err) {
            free(hdr);
            return err == PROCSUM_ENOMEM ? err : 1;
        }
        m->base = base;
        m->end = base + (uintptr_t)img.size_of_image;
        m->ranges = img.ranges;
        m->range_count = img.range_count;
        img.ranges = NULL;
        m->nt_offset = img.nt_offset;
        m->identity_len = len - img.nt_offset < PSUM_WIN_IDENTITY_BYTES ? len - img.nt_offset : PSUM_WIN_IDENTITY_BYTES;
        memcpy(m->identity, hdr + img.nt_offset, m->identity_len);
        psum_pe_free(&img);
        free(hdr);
        return m->end > base ? 0 : 1;
    }
}

/*
 * Identity of the module's file (volume serial number and file index; 0/0
 * when unavailable), and whether the module was loaded away from the base
 * the file asks for (the loader rewrites the in-memory header, so the file's
 * is the one to ask) in a way that its file cannot tell: the file's base
 * relocations are applied to its bytes when they are compared (files.c),
 * in this process and in another; without them the module's code differs
 * from its file by fixups nobody can recompute.
 */
static void file_identity(win_module *m)
{
    m->dev = m->ino = 0;
    m->relocated = false;
    HANDLE f = CreateFileW(m->wpath, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
    if (f == INVALID_HANDLE_VALUE)
        return;
    BY_HANDLE_FILE_INFORMATION info;
    if (GetFileInformationByHandle(f, &info)) {
        m->dev = info.dwVolumeSerialNumber;
        m->ino = (uint64_t)info.nFileIndexHigh << 32 | info.nFileIndexLow;
    }
    uint8_t hdr[4096];
    DWORD n = 0;
    psum_pe_image img;
    size_t need = 0;
    if (ReadFile(f, hdr, sizeof(hdr), &n, NULL) && psum_pe_parse(hdr, n, &img, &need) == 0) {
        m->relocated = img.preferred_base != (uint64_t)m->base && img.reloc_size == 0;
        psum_pe_free(&img);
    }
    CloseHandle(f);
}

static int by_base(const void *a, const void *b)
{
    const win_module *x = a, *y = b;
    return x->base < y->base ? -1 : x->base > y->base;
}

/*
 * The modules the loader lists, each with its executable ranges and file
 * identity. In this process the loader lock is held while the list is
 * walked (the loader then cannot change it under the walk); the file
 * identities are taken after, from the previous listing when the same image
 * is still at the same address.
 */
static int collect_modules(psum_os_target *t, module_set *out)
{
    memset(out, 0, sizeof(*out));
    ULONG_PTR cookie = 0;
    bool locked = t->self && t->lock_loader && t->lock_loader(0, NULL, &cookie) >= 0;
    HMODULE *hm = NULL;
    size_t n = 0;
    int err = enum_modules(t, &hm, &n);
    uintptr_t main_base = t->self ? (uintptr_t)GetModuleHandleW(NULL) : (n ? (uintptr_t)hm[0] : 0);
    for (size_t i = 0; i < n && !err; i++) {
        win_module m = {0};
        int rc = module_headers(t, (uintptr_t)hm[i], &m);
        if (rc == 0) {
            m.wpath = module_path(t, hm[i]);
            m.path = m.wpath ? utf8_from_wide(m.wpath) : NULL;
            m.main = m.base == main_base;
            rc = m.path ? module_set_push(out, &m) : 1;
        }
        if (rc != 0)
            psum_win_module_free(&m);
        if (rc < 0)
            err = rc;
    }
    if (locked)
        t->unlock_loader(0, cookie);
    free(hm);
    if (err) {
        psum_win_module_set_free(out);
        return err;
    }
    qsort(out->items, out->count, sizeof(*out->items), by_base);
    /* Duplicates or overlaps would be a loader list read while it changed: keep the first. */
    size_t kept = 0;
    for (size_t i = 0; i < out->count; i++) {
        if (kept > 0 && out->items[i].base < out->items[kept - 1].end)
            psum_win_module_free(&out->items[i]);
        else
            out->items[kept++] = out->items[i];
    }
    out->count = kept;
    for (size_t i = 0; i < out->count; i++) {
        win_module *m = &out->items[i];
        const win_module *was = module_with_base(&t->modules, m->base);
        if (was && strcmp(was->path, m->path) == 0 && was->identity_len == m->identity_len &&
            memcmp(was->identity, m->identity, m->identity_len) == 0) {
            m->dev = was->dev;
            m->ino = was->ino;
            m->relocated = was->relocated;
        } else {
            file_identity(m);
        }
    }
    return 0;
}

/* ---- regions ---- */

static int push_region(psum_os_region_list *list, psum_os_region *r, const char *path)
{
    r->path = dup_string(path);
    if (!r->path)
        return PROCSUM_ENOMEM;
    int err = psum_os_region_list_push(list, r);
    if (err)
        free(r->path);
    return err;
}

/* Piece i of m's executable sections inside [start, end), one VirtualQuery region of it: false when none. */
static bool module_piece(const win_module *m, size_t i, uintptr_t start, uintptr_t end, DWORD protect,
                         psum_os_region *out)
{
    uintptr_t s = m->base + m->ranges[i].rva_start, e = m->base + m->ranges[i].rva_end;
    uintptr_t lo = s > start ? s : start, hi = e < end ? e : end;
    if (lo >= hi)
        return false;
    *out = (psum_os_region){
        .start = lo,
        .end = hi,
        .prot = psum_win_prot(protect),
        .kind = PROCSUM_REGION_FILE,
        .main_executable = m->main,
        .relocated = m->relocated,
        .dev = m->dev,
        .ino = m->ino,
        .file_offset = m->ranges[i].file_offset + (lo - s),
    };
    return true;
}

/* The parts of [start, end), one VirtualQuery region of an image, that lie in executable sections of m. */
static int push_module_pieces(psum_os_region_list *list, const win_module *m, uintptr_t start, uintptr_t end,
                              DWORD protect)
{
    for (size_t i = 0; i < m->range_count; i++) {
        psum_os_region r;
        if (!module_piece(m, i, start, end, protect, &r))
            continue;
        int err = push_region(list, &r, m->path);
        if (err)
            return err;
    }
    return 0;
}

/*
 * One walk over the address space. Images that are listed modules give
 * their executable sections, split where VirtualQuery finds the protection
 * changes; images the loader does not list (mapped meanwhile, or mapped as
 * data) are left out. Committed private and mapped memory is listed whatever
 * its protection, so that a page made writable for a moment keeps its
 * baseline; the core selects what is executable.
 */
static int walk_memory(const psum_os_target *t, const module_set *mods, psum_os_region_list *list)
{
    uintptr_t addr = t->min_addr;
    while (addr < t->max_addr) {
        MEMORY_BASIC_INFORMATION mbi;
        if (VirtualQueryEx(t->process, (LPCVOID)addr, &mbi, sizeof(mbi)) != sizeof(mbi))
            return psum_win_process_exited(t) ? PROCSUM_ESRCH : 0; /* past the last region */
        uintptr_t start = (uintptr_t)mbi.BaseAddress, end = start + mbi.RegionSize;
        if (end <= addr)
            break;
        if (mbi.State == MEM_COMMIT && start % PAGE == 0 && end % PAGE == 0) {
            int err = 0;
            if (mbi.Type == MEM_IMAGE) {
                const win_module *m = module_with_base(mods, (uintptr_t)mbi.AllocationBase);
                if (m)
                    err = push_module_pieces(list, m, start, end, mbi.Protect);
            } else {
                psum_os_region r = {
                    .start = start,
                    .end = end,
                    .prot = psum_win_prot(mbi.Protect),
                    .kind = mbi.Type == MEM_MAPPED ? PROCSUM_REGION_OTHER : PROCSUM_REGION_ANON,
                };
                err = push_region(list, &r, mbi.Type == MEM_MAPPED ? "[mapped]" : "[anon]");
            }
            if (err)
                return err;
        }
        addr = end;
    }
    return 0;
}

int psum_os_list_regions(psum_os_target *t, psum_os_region_list *list)
{
    psum_os_region_list_clear(list);
    module_set mods;
    int err = collect_modules(t, &mods);
    if (err)
        return err;
    err = walk_memory(t, &mods, list);
    if (err) {
        psum_os_region_list_clear(list);
        psum_win_module_set_free(&mods);
        return err;
    }
    psum_win_module_set_free(&t->modules);
    t->modules = mods;
    return 0;
}

/*
 * In this process the pass needs no answer: its modules' pages are read
 * under the loader's lock after the module was checked to be the one
 * listed, so PROCSUM_ENOSYS lets a second read alone confirm a page
 * (pass/pages.c). In another process the answer comes from what the last
 * listing knew of the module at that allocation: VirtualQueryEx gives the
 * allocation and the protection now, and the module's header bytes must
 * still be the ones listed (another DLL loaded at the same base has
 * others); the region is then cut from the module's sections as the
 * listing cuts it. An image the last listing did not know: PROCSUM_EAGAIN,
 * asked again at the next listing.
 */
int psum_os_region_at(psum_os_target *t, uintptr_t addr, psum_os_region *out)
{
    if (!t || !out)
        return PROCSUM_EINVAL;
    if (t->self)
        return PROCSUM_ENOSYS;
    MEMORY_BASIC_INFORMATION mbi;
    if (VirtualQueryEx(t->process, (LPCVOID)addr, &mbi, sizeof(mbi)) != sizeof(mbi))
        return psum_win_process_exited(t) ? PROCSUM_ESRCH : PROCSUM_EFAULT;
    uintptr_t start = (uintptr_t)mbi.BaseAddress, end = start + mbi.RegionSize;
    if (mbi.State != MEM_COMMIT || addr < start || addr >= end)
        return PROCSUM_EFAULT;
    if (mbi.Type != MEM_IMAGE) {
        *out = (psum_os_region){
            .start = start,
            .end = end,
            .prot = psum_win_prot(mbi.Protect),
            .kind = mbi.Type == MEM_MAPPED ? PROCSUM_REGION_OTHER : PROCSUM_REGION_ANON,
        };
        return 0;
    }
    const win_module *m = module_with_base(&t->modules, (uintptr_t)mbi.AllocationBase);
    uint8_t now[PSUM_WIN_IDENTITY_BYTES];
    if (!m || m->identity_len > sizeof(now) ||
        psum_win_read_plain(t, m->base + m->nt_offset, now, m->identity_len) != 0 ||
        memcmp(now, m->identity, m->identity_len) != 0)
        return PROCSUM_EAGAIN;
    for (size_t i = 0; i < m->range_count; i++)
        if (module_piece(m, i, start, end, mbi.Protect, out) && addr >= out->start && addr < out->end)
            return 0;
    return PROCSUM_EFAULT; /* no executable section there */
}
