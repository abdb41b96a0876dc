/*
 * Linux backend internals for files.c: the residency strategies behind
 * psum_os_resident, exposed so that tests can check each one, and the one
 * fact about a target that files.c needs from target.c.
 */
#ifndef PSUM_OS_LINUX_FILES_H
#define PSUM_OS_LINUX_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../os.h"

/* The target's process id as given to psum_os_target_open: 0 is the caller (target.c). */
long psum_linux_target_pid(const psum_os_target *t);
/* The target's pagemap, opened once and kept (reopened by a forked child); -1 if it cannot be opened. */
int psum_linux_target_pagemap(psum_os_target *t);

/*
 * The loader's counters of objects added and removed (dl_phdr_info's
 * dlpi_adds, dlpi_subs), read now (loader.c); and as they were just before
 * the target's mappings were last listed (target.c). False when unknown.
 */
bool psum_linux_loader_counters(unsigned long long *adds, unsigned long long *subs);
bool psum_linux_target_listed_counters(const psum_os_target *t, unsigned long long *adds, unsigned long long *subs);

/*
 * The fault guard (fault_guard.c): runs use(ctx, start) so that a SIGSEGV
 * or SIGBUS on this thread inside [start, start + len) makes it return
 * PROCSUM_EFAULT instead of killing the process. Only once
 * psum_linux_fault_guard_ready() said true (its handler is installed).
 */
bool psum_linux_fault_guard_ready(void);
/* Checks again that the guard's handler is still the one the kernel calls (before each pass). */
void psum_linux_fault_guard_recheck(void);
int psum_linux_guarded_use(uintptr_t start, size_t len, psum_os_bytes_fn use, void *ctx);

/* Whether fork() waits for the fork gate (its handlers are installed): see fork_gate.c. */
bool psum_linux_fork_gate_ready(void);

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

/* page_copy.c: the copy a pagemap entry describes. */
procsum_copy psum_linux_copy_from_entry(uint64_t entry);

/*
 * tracing.c: one line of uprobe_events ("p:GROUP/EVENT PATH:0xOFFSET ...")
 * into its path (NUL-terminated, at most path_cap - 1 bytes) and offset.
 */
bool psum_linux_uprobe_line_parse(const char *line, size_t len, char *path, size_t path_cap, uint64_t *offset);

#endif
