/*
 * Reading and writing a Windows process's pages: ReadProcessMemory after
 * VirtualQuery says the range is readable, with a module of this process
 * pinned by a reference while it is read so that the loader cannot unmap
 * it; writes through copy-on-write, as a debugger's. Slices of this
 * process's modules are hashed in place instead (no copy), under the
 * loader's lock and a fault guard (see psum_os_use_pages).
 */
#include "win.h"

#include <string.h>

#include "fault_guard.h"
#include "pages.h"
#include "target.h"

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

typedef struct copy_out {
    void *buf;
    size_t len;
} copy_out;

static int copy_bytes(void *ctx, const uint8_t *bytes)
{
    copy_out *c = ctx;
    memcpy(c->buf, bytes, c->len);
    return 0;
}

int psum_win_read_plain(const psum_os_target *t, uintptr_t addr, void *buf, size_t len)
{
    if (!readable_now(t, addr, len))
        return psum_win_process_exited(t) ? PROCSUM_ESRCH : PROCSUM_EFAULT;
    /*
     * This process's own memory is copied directly, under the fault guard
     * (a page taken away meanwhile is PROCSUM_EFAULT). ReadProcessMemory
     * would do the same through the kernel; under Wine it stops and resumes
     * the whole process through wineserver for each call, which cost a pass
     * over 2 MB about 80 ms.
     */
    if (t->self) {
        copy_out c = {.buf = buf, .len = len};
        int err = psum_win_guarded_use(addr, addr + len, copy_bytes, &c, (const uint8_t *)addr);
        if (err != 1)
            return err;
    }
    SIZE_T got = 0;
    if (ReadProcessMemory(t->process, (LPCVOID)addr, buf, len, &got))
        return got == len ? 0 : PROCSUM_EFAULT;
    DWORD e = GetLastError();
    if (psum_win_process_exited(t))
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
        uint8_t now[PSUM_WIN_IDENTITY_BYTES];
        err = psum_win_read_plain(t, m->base + m->nt_offset, now, m->identity_len);
        if (!err && memcmp(now, m->identity, m->identity_len) != 0)
            err = PROCSUM_EFAULT; /* another image was loaded at the same address */
    }
    if (!err)
        err = psum_win_read_plain(t, addr, buf, len);
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
        const win_module *m = psum_win_module_at(&t->modules, addr);
        if (m && addr + len <= m->end)
            return read_pinned(t, m, addr, buf, len);
    }
    return psum_win_read_plain(t, addr, buf, len);
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

/* Whether the module mapped at m->base is still the one listed: the loader's handle and the NT headers' bytes. */
static bool still_listed(const psum_os_target *t, const win_module *m, uintptr_t addr)
{
    HMODULE h = NULL;
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                            (LPCWSTR)addr, &h) ||
        (uintptr_t)h != m->base)
        return false;
    uint8_t now[PSUM_WIN_IDENTITY_BYTES];
    return psum_win_read_plain(t, m->base + m->nt_offset, now, m->identity_len) == 0 &&
           memcmp(now, m->identity, m->identity_len) == 0;
}

/*
 * A slice of a module of this process, hashed where it lies. The loader's
 * lock is held for the slice (at most a slice's pages: other threads'
 * LoadLibrary and FreeLibrary wait that long), so that no module can be
 * unloaded under the read, and the module is checked first to still be the
 * one listed. A page the program itself takes away meanwhile (VirtualProtect)
 * is caught by the fault guard. 1 when it cannot be done here: copy.
 */
static int use_in_place(psum_os_target *t, const win_module *m, uintptr_t addr, size_t len, psum_os_bytes_fn use,
                        void *ctx)
{
    ULONG_PTR cookie = 0;
    ULONG disposition = 0;
    if (t->lock_loader(0, &disposition, &cookie) < 0)
        return 1;
    int err;
    if (!still_listed(t, m, addr))
        err = PROCSUM_EFAULT;
    else if (!readable_now(t, addr, len))
        err = PROCSUM_EFAULT;
    else
        err = psum_win_guarded_use(addr, addr + len, use, ctx, (const uint8_t *)addr);
    t->unlock_loader(0, cookie);
    return err;
}

int psum_os_use_pages(psum_os_target *t, const psum_os_region *r, uintptr_t addr, size_t npages, const bool *want,
                      void *buf, psum_os_bytes_fn use, void *ctx)
{
    (void)r;
    size_t len = npages * PROCSUM_PAGE_SIZE;
    if (t->self && t->lock_loader && npages > 0 && addr + len > addr) {
        const win_module *m = psum_win_module_at(&t->modules, addr);
        if (m && addr + len <= m->end) {
            int err = use_in_place(t, m, addr, len, use, ctx);
            if (err != 1)
                return err;
        }
    }
    return psum_os_copy_then_use(t, addr, npages, want, buf, use, ctx);
}
