/*
 * The Linux target's state (target.c), shared by the files that list its
 * regions (regions.c), read its pages (pages.c) and ask their residency
 * (residency.c). Nothing here calls back into those files.
 */
#ifndef PSUM_LINUX_TARGET_H
#define PSUM_LINUX_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../os.h"
#include "loader.h"
#include "procmap.h"

/* What a kept descriptor was opened on: the program may close it and open a file of its own under its number. */
typedef struct psum_linux_fd_id {
    dev_t dev;
    ino_t ino;
} psum_linux_fd_id;

struct psum_os_target {
    long pid;           /* 0: the calling process, whoever it is after a fork */
    int mem_fd;         /* /proc/PID/mem, opened on first need */
    pid_t mem_fd_owner; /* the process that opened it: after a fork, the child's must be its own */
    int pagemap_fd;     /* /proc/PID/pagemap, kept open across passes */
    pid_t pagemap_owner;
    psum_linux_fd_id mem_id, pagemap_id, stat_id; /* what mem_fd, pagemap_fd and stat_fd were opened on */
    bool vm_readv_ok;   /* false once process_vm_readv is refused (seccomp, old kernel) */
    /* The maps text the list below was last filled from: the same text again needs no parsing. */
    char *last_maps;
    size_t last_maps_len, last_maps_cap;
    /* Where /proc text is read into; swapped with last_maps when kept (both mapped tables, see os.h). */
    char *text;
    size_t text_cap;
    const psum_os_region_list *last_list;
    size_t last_count;
    /* Another process: when it started (pid reuse), and what identifies the program it runs (exec). */
    uint64_t start_time; /* known after the first psum_os_target_refresh */
    bool start_time_known;
    bool program_known;
    uint64_t program_id;
    bool layout_shown;      /* the last program_id came from a whole layout */
    unsigned layout_waits;  /* refreshes in a row that found the layout half made (an exec under way) */
    uint64_t layout_half_since_ns; /* when the first of them did (monotonic) */
    int stat_fd;        /* /proc/PID/stat of another process, kept open: read again from its start each pass */
    /*
     * Another process's memory as its stat line showed it at the last
     * refresh (size, resident pages, faults; memory_fresh until a listing
     * uses it), and at the listing the list holds (regions.c): while they
     * agree, the list stands.
     */
    uint64_t memory[4];
    bool memory_fresh;
    bool listed_known;
    uint64_t listed_memory[4];
    const psum_os_region_list *listed_list;
    size_t listed_count;
    unsigned lists_kept; /* listings answered by the list standing, since the last one asked */
    bool list_stale;     /* a read or a question found the mappings other than listed: ask next time */
    /* The entry point the auxiliary vector gave for program_id: asked once per program, not per listing. */
    bool entry_known;
    uint64_t entry_program;
    uintptr_t entry;
    /* Listing through PROCMAP_QUERY (procmap.c); NULL until first used. */
    psum_linux_procmap *procmap;
    bool maps_text_only; /* list from the maps text (tests, and kernels without the ioctl) */
    /* The loader's counters just before the last listing (the own process only). */
    psum_linux_loader_counters listed;
    /* Where the loader's objects were found for the last slices read in place. */
    psum_linux_loader_hints hints;
};

/* The process id to give system calls: the calling thread's id for the calling process. */
pid_t psum_linux_target_real_pid(const psum_os_target *t);
/* Notes what fd is open on, for psum_linux_target_refresh to tell when the number is no longer ours. */
void psum_linux_fd_note(int fd, psum_linux_fd_id *id);
/* The calling thread's /proc directory, which follows it across fork: /proc/thread-self, or /proc/self before Linux 3.17. */
const char *psum_linux_proc_self(void);
/* /proc/PID/leaf, or the calling thread's leaf for the calling process (psum_linux_proc_self). */
void psum_linux_target_proc_path(char *buf, size_t size, const psum_os_target *t, const char *leaf);
/* Reads a small /proc file of t whole (at most cap - 1 bytes, NUL-terminated); its length or a negative code. */
ssize_t psum_linux_target_read_small(const psum_os_target *t, const char *leaf, char *buf, size_t cap);
/* The target's pagemap, opened once and kept (reopened by a forked child); -1 if it cannot be opened. */
int psum_linux_target_pagemap(psum_os_target *t);
/* Opens /proc/PID/leaf of t read-only (retried on EINTR); the descriptor or a negative code. */
int psum_linux_target_open_proc(const psum_os_target *t, const char *leaf);

#endif
