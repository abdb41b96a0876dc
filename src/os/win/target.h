/*
 * The Windows target's state (target.c) and the modules it saw at its last
 * listing, shared by the files that list regions (regions.c), read and
 * write pages (pages.c) and ask residency (residency.c).
 */
#ifndef PSUM_WIN_TARGET_H
#define PSUM_WIN_TARGET_H

#include "win.h"

#include "pe.h"

/* Bytes of the NT headers compared before a read, to know the module pinned is the one listed. */
#define PSUM_WIN_IDENTITY_BYTES 128u

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
    uint8_t identity[PSUM_WIN_IDENTITY_BYTES];
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

/* Whether the target (never the calling process) has exited. */
bool psum_win_process_exited(const psum_os_target *t);
/* The module of s whose image holds addr, or NULL. */
const win_module *psum_win_module_at(const module_set *s, uintptr_t addr);
void psum_win_module_free(win_module *m);
void psum_win_module_set_free(module_set *s);

#endif
