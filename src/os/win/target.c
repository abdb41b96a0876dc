/* The Windows target: the process handle, the loader's lock functions, and the module set of a listing. */
#include "win.h"

#include <stdlib.h>
#include <string.h>

#include "target.h"

void psum_win_module_free(win_module *m)
{
    free(m->path);
    free(m->wpath);
    free(m->ranges);
    memset(m, 0, sizeof(*m));
}

void psum_win_module_set_free(module_set *s)
{
    for (size_t i = 0; i < s->count; i++)
        psum_win_module_free(&s->items[i]);
    free(s->items);
    memset(s, 0, sizeof(*s));
}

/* The module whose image holds addr, or NULL. */
const win_module *psum_win_module_at(const module_set *s, uintptr_t addr)
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

bool psum_win_process_exited(const psum_os_target *t)
{
    DWORD code;
    return !t->self && GetExitCodeProcess(t->process, &code) && code != STILL_ACTIVE;
}

int psum_os_target_repoint(psum_os_target *t, long pid)
{
    (void)t;
    (void)pid;
    return PROCSUM_ENOSYS; /* no fork here */
}

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
        if (psum_win_process_exited(t)) {
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

/* No fork on Windows: nothing is ever left in a child. */
void psum_os_target_abandon(psum_os_target *t)
{
    (void)t;
}

void psum_os_target_close(psum_os_target *t)
{
    if (!t)
        return;
    psum_win_module_set_free(&t->modules);
    if (!t->self)
        CloseHandle(t->process);
    free(t);
}

/* A process that exited keeps its handle valid; its exit code tells. A new program is a new process on Windows. */
int psum_os_target_refresh(psum_os_target *t, bool *new_program)
{
    *new_program = false;
    DWORD code;
    if (t->self || !GetExitCodeProcess(t->process, &code) || code == STILL_ACTIVE)
        return 0;
    return PROCSUM_ESRCH;
}
