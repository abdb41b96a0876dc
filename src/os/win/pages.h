/* What the other Windows files need from pages.c. */
#ifndef PSUM_WIN_PAGES_H
#define PSUM_WIN_PAGES_H

#include "win.h"

/*
 * The PSUM_PROT_* bits that a VirtualQuery protection stands for. Guard
 * pages and PAGE_NOACCESS are never readable; PAGE_EXECUTE is execute-only;
 * PAGE_EXECUTE_WRITECOPY counts as code (not writable) until written.
 */
unsigned psum_win_prot(DWORD protect);

/* A read that checks first that the range is committed and readable; no module pinned. */
int psum_win_read_plain(const psum_os_target *t, uintptr_t addr, void *buf, size_t len);

#endif
