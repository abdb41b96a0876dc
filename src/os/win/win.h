/*
 * What the Windows backend's files share: the Windows headers with the
 * version they assume, and the few helpers that are not part of os.h.
 */
#ifndef PSUM_WIN_H
#define PSUM_WIN_H

/* Windows 8 and later (GetSystemTimePreciseAsFileTime); psapi through kernel32 (K32*). */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0602
#endif
#ifndef PSAPI_VERSION
#define PSAPI_VERSION 2
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../os.h"

/* A Win32 error code (GetLastError()) as a PROCSUM_E* code. */
int psum_win_error(DWORD code);

/*
 * Which of npages pages from addr (page aligned) are in the target's working
 * set, so that reading them costs no page-in: resident[i] for page i.
 * Proposed for os.h (the Linux counterpart is pagemap's present bit or
 * mincore); the core does not call it yet.
 */
int psum_os_resident(psum_os_target *t, uintptr_t addr, size_t npages, bool *resident);

/*
 * The PSUM_PROT_* bits that a VirtualQuery protection stands for. Guard
 * pages and PAGE_NOACCESS are never readable; PAGE_EXECUTE is execute-only;
 * PAGE_EXECUTE_WRITECOPY counts as code (not writable) until written.
 */
unsigned psum_win_prot(DWORD protect);

#endif
