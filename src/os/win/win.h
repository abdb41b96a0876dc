/*
 * What every file of the Windows backend includes: the Windows headers with
 * the version they assume, and the Win32 error map (errors.c).
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

#endif
