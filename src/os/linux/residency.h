/*
 * The residency strategies behind psum_os_resident (residency.c,
 * pagemap_scan.c), exposed so that tests can check each one.
 */
#ifndef PSUM_LINUX_RESIDENCY_H
#define PSUM_LINUX_RESIDENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../os.h"

/* The system's page size, asked once and cached; PROCSUM_PAGE_SIZE if it is not usable. */
size_t psum_linux_system_page_size(void);

/*
 * Present bit (63) of /proc/PID/pagemap (pid 0: /proc/self/pagemap): true
 * when the page is mapped in the process's page tables. Unmapped pages and
 * pages beyond the address space read as false. Fails (a negative code, no
 * fallback) when pagemap cannot be opened or read: no /proc, no ptrace
 * access to the process, a non-dumpable caller.
 */
int psum_linux_resident_pagemap(long pid, uintptr_t addr, size_t npages, bool *resident);

/*
 * PAGEMAP_SCAN (Linux 6.7) on /proc/PID/pagemap, or on an open pagemap
 * descriptor: the same answer as the present bit, from runs of present
 * pages. PROCSUM_ENOSYS where the kernel (or a system page size other than
 * PROCSUM_PAGE_SIZE) does not allow it.
 */
int psum_linux_resident_scan(long pid, uintptr_t addr, size_t npages, bool *resident);
int psum_linux_resident_scan_fd(int fd, uintptr_t addr, size_t npages, bool *resident);

/*
 * mincore() on the calling process. Unmapped pages read as false. What it
 * says for a page not in the page tables depends on the mapping: the page
 * cache's state for a file the caller owns or may write, TRUE for every
 * page of any other file (the kernel hides the page cache there), and the
 * swap cache's state for anonymous memory.
 */
int psum_linux_resident_mincore(uintptr_t addr, size_t npages, bool *resident);

#endif
