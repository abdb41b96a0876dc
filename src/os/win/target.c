/*
 * The Windows view of a process: its modules from the loader, the
 * executable sections of each from its PE headers, cross-checked and split
 * by VirtualQuery; executable memory outside modules from VirtualQuery; and
 * reads that fail instead of faulting (ReadProcessMemory), with the module
 * being read pinned by a reference so that the loader cannot unmap it.
 */
#include "win.h"

#include <psapi.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "pe.h"

#define PAGE 4096u
#define HEADER_READ 4096u
#define MAX_HEADER_READ (4u << 20) /* 65535 section headers fit */
#define ENUM_ATTEMPTS 16
#define MAX_PATH_CHARS 32768u
/* Bytes of the NT headers compared before a read, to know the module pinned is the one listed. */
#define IDENTITY_BYTES 128u

/* ntdll's loader lock: holds module lists still while they are walked. */
typedef LONG(NTAPI *ldr_lock_fn)(ULONG flags, ULONG *disposition, ULONG_PTR *cookie);
typedef LONG(NTAPI *ldr_unlock_fn)(ULONG flags, ULONG_PTR cookie);

typedef struct win_module {
    uintptr_t base, end;
    bool main;
    uint64_t dev, ino;
    bool relocated;  /* loaded away from the base its file asks for: its code differs from the file by the fixups */
    char *path;      /* UTF-8 */
    wchar_t *wpath;  /* as the loader gives it */
    psum_pe_range *ranges;
    size_t range_count;
    uint32_t nt_offset;
    uint8_t identity[IDENTITY_BYTES];
    size_t identity_len;
} win_module;

typedef struct module_set {
    win_module *items; /* ascending base, non-overlapping */
    size_t count, cap;
} module_set;

struct psum_os_target {
    long pid;
    HANDLE process;  /* GetCurrentProcess() for pid 0 */
    bool self;
    uintptr_t min_addr, max_addr;
    ldr_lock_fn lock_loader;     /* NULL when ntdll does not export it */
    ldr_unlock_fn unlock_loader;
    module_set modules;          /* as of the last listing */
};

/* ---- small helpers ---- */

static void module_free(win_module *m)
{
    free(m->path);
    free(m->wpath);
    free(m->ranges);
    memset(m, 0, sizeof(*m));
}

static void module_set_free(module_set *s)
{
    for (size_t i = 0; i < s->count; i++)
        module_free(&s->items[i]);
    free(s->items);
    memset(s, 0, sizeof(*s));
}

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

/* The module whose image holds addr, or NULL. */
static const win_module *module_at(const module_set *s, uintptr_t addr)
{
    size_t lo = 0, hi = s->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->items[mid].base <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const win_module *m = &s->items[lo - 1];
    return addr < m->end ? m : NULL;
}

static const win_module *module_with_base(const module_set *s, uintptr_t base)
{
    const win_module *m = module_at(s, base);
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

static bool process_exited(const psum_os_target *t)
{
    DWORD code;
    return !t->self && GetExitCodeProcess(t->process, &code) && code != STILL_ACTIVE;
}

unsigned psum_win_prot(DWORD protect)
{
    unsigned prot;
    switch (protect & 0xFFu) {
    case PAGE_READONLY: prot = PSUM_PROT_R; break;
    case PAGE_READWRITE:
    case PAGE_WRITECOPY: prot = PSUM_PROT_R | PSUM_PROT_W; break;
    case PAGE_EXECUTE: prot = PSUM_PROT_X; break;
    case PAGE_EXECUTE_READ:
    /* Copy-on-write code is code until written: then it turns PAGE_EXECUTE_READWRITE. */
    case PAGE_EXECUTE_WRITECOPY: prot = PSUM_PROT_R | PSUM_PROT_X; break;
    case PAGE_EXECUTE_READWRITE: prot = PSUM_PROT_R | PSUM_PROT_W | PSUM_PROT_X; break;
    default: prot = 0; break; /* PAGE_NOACCESS, or nothing we know */
    }
    /* Touching a guard page raises an exception once and disarms it: never read one. */
    if (protect & PAGE_GUARD)
        prot &= PSUM_PROT_X;
    return prot;
}

/* ---- targets ---- */

int psum_os_target_open(long pid, psum_os_target **out)
{
    if (!out || pid < 0)
        return PROCSUM_EINVAL;
    *out = NULL;
    if ((unsigned long)pid > 0xFFFFFFFFul)
        return PROCSUM_ESRCH;
    psum_os_target *t = calloc(1, sizeof(*t));
    if (!t)
        return PROCSUM_ENOMEM;
    t->pid = pid;
    if (pid == 0) {
        t->self = true;
        t->process = GetCurrentProcess();
    } else {
        t->process = OpenProcess(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, FALSE, (DWORD)pid);
        if (!t->process) {
            DWORD e = GetLastError();
            free(t);
            /* OpenProcess says "invalid parameter" for a process id that is not in use. */
            return e == ERROR_INVALID_PARAMETER ? PROCSUM_ESRCH : psum_win_error(e);
        }
        if (process_exited(t)) {
            CloseHandle(t->process);
            free(t);
            return PROCSUM_ESRCH;
        }
    }
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    t->min_addr = (uintptr_t)si.lpMinimumApplicationAddress;
    t->max_addr = (uintptr_t)si.lpMaximumApplicationAddress;
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    if (ntdll) {
        /* Through void (*)(void), the generic function pointer type, to the real prototypes. */
        void (*lock)(void) = (void (*)(void))GetProcAddress(ntdll, "LdrLockLoaderLock");
        void (*unlock)(void) = (void (*)(void))GetProcAddress(ntdll, "LdrUnlockLoaderLock");
        if (lock && unlock) {
            t->lock_loader = (ldr_lock_fn)lock;
            t->unlock_loader = (ldr_unlock_fn)unlock;
        }
    }
    *out = t;
    return 0;
}

void psum_os_target_close(psum_os_target *t)
{
    if (!t)
        return;
    module_set_free(&t->modules);
    if (!t->self)
        CloseHandle(t->process);
    free(t);
}

/* ---- reading ---- */

/*
 * Whether [addr, addr + len) is committed and readable now. ReadProcessMemory
 * alone is not enough: Wine serves it through /proc/PID/mem, which reads
 * PAGE_NOACCESS and even released memory (its address space stays mapped),
 * and would hand back bytes that were never there.
 */
static bool readable_now(const psum_os_target *t, uintptr_t addr, size_t len)
{
    uintptr_t end = addr + len;
    while (addr < end) {
        MEMORY_BASIC_INFORMATION mbi;
        if (VirtualQueryEx(t->process, (LPCVOID)addr, &mbi, sizeof(mbi)) != sizeof(mbi))
            return false;
        uintptr_t region_end = (uintptr_t)mbi.BaseAddress + mbi.RegionSize;
        if (mbi.State != MEM_COMMIT || !(psum_win_prot(mbi.Protect) & PSUM_PROT_R) || region_end <= addr)
            return false;
        addr = region_end;
    }
    return true;
}

static int read_plain(const psum_os_target *t, uintptr_t addr, void *buf, size_t len)
{
    if (!readable_now(t, addr, len))
        return process_exited(t) ? PROCSUM_ESRCH : PROCSUM_EFAULT;
    SIZE_T got = 0;
    if (ReadProcessMemory(t->process, (LPCVOID)addr, buf, len, &got))
        return got == len ? 0 : PROCSUM_EFAULT;
    DWORD e = GetLastError();
    if (process_exited(t))
        return PROCSUM_ESRCH;
    int err = psum_win_error(e);
    /* Whatever else a failed copy says (partial copy, no access, bad address), the memory is not readable. */
    return err == PROCSUM_EIO || err == PROCSUM_EINVAL ? PROCSUM_EFAULT : err;
}

/*
 * Reads from a module of this process while holding a reference on it, so
 * that a FreeLibrary on another thread cannot unmap it under the read; a
 * module that is no longer the one listed gives PROCSUM_EFAULT.
 */
static int read_pinned(const psum_os_target *t, const win_module *m, uintptr_t addr, void *buf, size_t len)
{
    HMODULE h = NULL;
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS, (LPCWSTR)addr, &h))
        return PROCSUM_EFAULT; /* unloaded since it was listed */
    int err = (uintptr_t)h == m->base ? 0 : PROCSUM_EFAULT;
    if (!err) {
        uint8_t now[IDENTITY_BYTES];
        err = read_plain(t, m->base + m->nt_offset, now, m->identity_len);
        if (!err && memcmp(now, m->identity, m->identity_len) != 0)
            err = PROCSUM_EFAULT; /* another image was loaded at the same address */
    }
    if (!err)
        err = read_plain(t, addr, buf, len);
    FreeLibrary(h);
    return err;
}

int psum_os_read(psum_os_target *t, uintptr_t addr, void *buf, size_t len)
{
    if (len == 0)
        return 0;
    if (addr + len < addr)
        return PROCSUM_EFAULT;
    if (t->self) {
        const win_module *m = module_at(&t->modules, addr);
        if (m && addr + len <= m->end)
            return read_pinned(t, m, addr, buf, len);
    }
    return read_plain(t, addr, buf, len);
}

int psum_os_resident(psum_os_target *t, uintptr_t addr, size_t npages, bool *resident)
{
    if (!t || (npages && !resident) || addr % PAGE != 0)
        return PROCSUM_EINVAL;
    PSAPI_WORKING_SET_EX_INFORMATION info[64];
    for (size_t done = 0; done < npages;) {
        size_t n = npages - done < 64 ? npages - done : 64;
        for (size_t i = 0; i < n; i++) {
            info[i].VirtualAddress = (void *)(addr + (done + i) * PAGE);
            info[i].VirtualAttributes.Flags = 0;
        }
        if (!QueryWorkingSetEx(t->process, info, (DWORD)(n * sizeof(info[0]))))
            return process_exited(t) ? PROCSUM_ESRCH : psum_os_last_error();
        for (size_t i = 0; i < n; i++)
            resident[done + i] = (info[i].VirtualAttributes.Flags & 1u) != 0; /* Valid */
        done += n;
    }
    return 0;
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
    if (process_exited(t))
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
        if (read_plain(t, base, hdr, len) != 0) {
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
        m->nt_offset = img.nt_offset;
        m->identity_len = len - img.nt_offset < IDENTITY_BYTES ? len - img.nt_offset : IDENTITY_BYTES;
        memcpy(m->identity, hdr + img.nt_offset, m->identity_len);
        free(hdr);
        return m->end > base ? 0 : 1;
    }
}

/*
 * Identity of the module's file (volume serial number and file index; 0/0
 * when unavailable), and whether the module was loaded away from the base
 * the file asks for (the loader rewrites the in-memory header, so the file's
 * is the one to ask).
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
        m->relocated = img.preferred_base != (uint64_t)m->base;
        free(img.ranges);
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
            module_free(&m);
        if (rc < 0)
            err = rc;
    }
    if (locked)
        t->unlock_loader(0, cookie);
    free(hm);
    if (err) {
        module_set_free(out);
        return err;
    }
    qsort(out->items, out->count, sizeof(*out->items), by_base);
    /* Duplicates or overlaps would be a loader list read while it changed: keep the first. */
    size_t kept = 0;
    for (size_t i = 0; i < out->count; i++) {
        if (kept > 0 && out->items[i].base < out->items[kept - 1].end)
            module_free(&out->items[i]);
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

/* The parts of [start, end), one VirtualQuery region of an image, that lie in executable sections of m. */
static int push_module_pieces(psum_os_region_list *list, const win_module *m, uintptr_t start, uintptr_t end,
                              DWORD protect)
{
    for (size_t i = 0; i < m->range_count; i++) {
        uintptr_t s = m->base + m->ranges[i].rva_start, e = m->base + m->ranges[i].rva_end;
        uintptr_t lo = s > start ? s : start, hi = e < end ? e : end;
        if (lo >= hi)
            continue;
        psum_os_region r = {
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
            return process_exited(t) ? PROCSUM_ESRCH : 0; /* past the last region */
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
        module_set_free(&mods);
        return err;
    }
    module_set_free(&t->modules);
    t->modules = mods;
    return 0;
}

int psum_os_write(psum_os_target *t, uintptr_t addr, const void *buf, size_t len)
{
    HANDLE process = t->process;
    MEMORY_BASIC_INFORMATION mbi;
    if (!VirtualQueryEx(process, (LPCVOID)addr, &mbi, sizeof(mbi)) || mbi.State != MEM_COMMIT)
        return PROCSUM_EFAULT;
    DWORD old = 0;
    /* Copy-on-write keeps the file's image untouched: only this process's page changes. */
    if (!VirtualProtectEx(process, (LPVOID)addr, len, PAGE_EXECUTE_WRITECOPY, &old) &&
        !VirtualProtectEx(process, (LPVOID)addr, len, PAGE_EXECUTE_READWRITE, &old))
        return psum_win_error(GetLastError());
    SIZE_T written = 0;
    BOOL ok = WriteProcessMemory(process, (LPVOID)addr, buf, len, &written);
    DWORD code = GetLastError();
    DWORD ignored;
    VirtualProtectEx(process, (LPVOID)addr, len, old, &ignored);
    FlushInstructionCache(process, (LPCVOID)addr, len);
    if (!ok || written != len)
        return ok ? PROCSUM_EFAULT : psum_win_error(code);
    return 0;
}

/* Module reads already check that the module listed is the one mapped (see psum_os_read); they copy. */
int psum_os_use_pages(psum_os_target *t, const psum_os_region *r, uintptr_t addr, size_t npages, const bool *want,
                      void *buf, psum_os_bytes_fn use, void *ctx)
{
    (void)r;
    return psum_os_copy_then_use(t, addr, npages, want, buf, use, ctx);
}
