/*
 * The small platform interface. The core (checker, snapshot, report, digest)
 * sees the operating system only through these functions; each backend
 * (os/linux, os/win) implements all of them and nothing else.
 *
 * Every function returning int returns 0 or a negative PROCSUM_E* code.
 */
#ifndef PSUM_OS_H
#define PSUM_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "procsum.h"

#define PSUM_PROT_R 1u
#define PSUM_PROT_W 2u
#define PSUM_PROT_X 4u

/* One mapping, as the platform describes it. */
typedef struct psum_os_region {
    uintptr_t start, end;
    unsigned prot;            /* PSUM_PROT_* */
    procsum_region_kind kind;
    bool main_executable;
    bool file_deleted;
    bool relocated;           /* an image loaded away from its preferred base: its code differs from the file */
    uint64_t dev, ino;        /* identity of the backing file; 0 when none */
    uint64_t file_offset;     /* offset of `start` in the file */
    char *path;               /* owned; the file's path or a bracketed name */
} psum_os_region;

/*
 * Items and names live in memory procsum maps itself (psum_os_table_grow),
 * reused from listing to listing: a listing that finds what it found
 * before allocates nothing. A path inside `names` belongs to the list; any
 * other path (psum_os_region_list_push) is the region's own.
 */
typedef struct psum_os_region_list {
    psum_os_region *items;
    size_t count, cap;
    char *names;
    size_t names_len, names_cap;
} psum_os_region_list;

/* The process a target refers to; pid 0 is the calling process. */
typedef struct psum_os_target psum_os_target;

int psum_os_target_open(long pid, psum_os_target **out);
void psum_os_target_close(psum_os_target *t);
/*
 * In a forked child: closes what the target holds open and unmaps its
 * buffers, but frees nothing the program's allocator gave (the child may
 * have inherited its lock held; see checker.c). The target is not used
 * again. Where there is no fork, never called.
 */
void psum_os_target_abandon(psum_os_target *t);
/*
 * Points a target opened for another process (pid != 0), and not used
 * since, at process pid instead, with no system call and no allocation:
 * follow_fork opens the target of a child's checker in the parent, before
 * fork(), and points it at the child there. PROCSUM_EINVAL for a target of
 * the calling process or a pid <= 0; PROCSUM_ENOSYS where there is no fork.
 */
int psum_os_target_repoint(psum_os_target *t, long pid);
/*
 * Before each pass over another process (pid != 0): PROCSUM_ESRCH when it
 * exited (a zombie counts as exited) or its id now belongs to another
 * process; else 0, and *new_program tells whether it ran a new program
 * (exec) since the last call, so that its old baselines mean nothing.
 * PROCSUM_EAGAIN while an exec is under way: no pass now. For the calling
 * process always 0 and false.
 */
int psum_os_target_refresh(psum_os_target *t, bool *new_program);

/*
 * Lists the mappings of the target, in address order: every executable
 * mapping, and every mapping, whatever its protection, that overlaps what
 * the previous listing of this target held (callers decide what to read;
 * the rest tells them which baselines are still backed by the same file,
 * a page made writable for a moment included). A backend may list more
 * (the Windows one, and Linux's maps text, list every mapping). Replaces
 * the content of `list`.
 */
int psum_os_list_regions(psum_os_target *t, psum_os_region_list *list);
/*
 * The mapping that holds addr now, as psum_os_list_regions would list it
 * (main_executable and file_deleted are not worked out): asked to confirm a
 * change at once, so it must not disturb what the last listing left in the
 * target. out->path may be NULL (a backend that can answer without
 * allocating leaves it so); otherwise the caller owns it. PROCSUM_EFAULT
 * when nothing is mapped there; PROCSUM_ENOSYS where the platform cannot
 * ask for one but its reads vouch for what they read (Windows, this
 * process: module pages read under the loader's lock after an identity
 * check), so a second read alone may confirm a page; PROCSUM_EAGAIN where
 * it cannot ask and nothing vouches (Windows, another process).
 */
int psum_os_region_at(psum_os_target *t, uintptr_t addr, psum_os_region *out);
/* Shared by the backends (os/region_list.c): push takes ownership of r->path. */
int psum_os_region_list_push(psum_os_region_list *list, const psum_os_region *r);
/* The same, r->path ignored: the region's path is a copy of name (len bytes) kept in the list's names. */
int psum_os_region_list_push_named(psum_os_region_list *list, const psum_os_region *r, const char *name,
                                   size_t len);
/* Gives item i the path name (len bytes), copied into the list's names. */
int psum_os_region_list_rename(psum_os_region_list *list, size_t i, const char *name, size_t len);
void psum_os_region_list_clear(psum_os_region_list *list);
void psum_os_region_list_free(psum_os_region_list *list);

/*
 * Copies len bytes at addr of the target into buf without ever faulting:
 * memory unmapped meanwhile gives PROCSUM_EFAULT, never a crash.
 */
int psum_os_read(psum_os_target *t, uintptr_t addr, void *buf, size_t len);

/*
 * Hands npages pages of region r from addr to use(ctx, bytes), or only
 * those whose flag in want is true (want may be NULL: all of them); page i
 * is at bytes + i * PROCSUM_PAGE_SIZE, and use must not look at pages not
 * wanted. Returns what use returns, or PROCSUM_EFAULT when the pages are no
 * longer r's (unmapped, or another file or another part of r's file mapped
 * there since r was listed). Where the platform can keep the pages from
 * being unmapped while use runs, bytes points at them in place (on Linux:
 * pages of objects the loader mapped, seen from inside the loader's own
 * listing, which nothing can unload meanwhile); elsewhere the wanted pages
 * are first copied into buf (npages pages) with psum_os_read, so that a
 * page not wanted is never touched. use must not take loader locks (dlopen,
 * dlsym) and should be short: on Linux other threads' dlopen waits for it.
 */
typedef int (*psum_os_bytes_fn)(void *ctx, const uint8_t *bytes);
int psum_os_use_pages(psum_os_target *t, const psum_os_region *r, uintptr_t addr, size_t npages, const bool *want,
                      void *buf, psum_os_bytes_fn use, void *ctx);
/* Shared by the backends (os/copy_pages.c): the copying way of psum_os_use_pages. */
int psum_os_copy_then_use(psum_os_target *t, uintptr_t addr, size_t npages, const bool *want, void *buf,
                          psum_os_bytes_fn use, void *ctx);

/*
 * Writes len bytes at addr of the target whatever the page's protection, as
 * a debugger does (used to repair code from its file). The protection is
 * left as it was; instruction caches are flushed where that is needed.
 */
int psum_os_write(psum_os_target *t, uintptr_t addr, const void *buf, size_t len);

/*
 * The fork gate. A thread of procsum holds it while it works (a slice of a
 * pass, a listing of mappings: anything that may be inside the allocator or
 * the loader's lock), and never while it waits or runs the user's callback;
 * fork() waits until nobody holds it, so that a forked child never inherits
 * a lock that procsum held. Entries nest. No-ops where there is no fork.
 */
void psum_os_fork_gate_enter(void);
void psum_os_fork_gate_leave(void);
/* psum_os_fork_gate_enter unless another thread holds the gate (then false, and nothing to leave). */
bool psum_os_fork_gate_try_enter(void);

/*
 * Memory procsum maps itself, apart from the program's allocator: zeroed,
 * readable and writable, rounded up to whole pages. A forked child may
 * map and unmap it whatever state another thread of the parent left the
 * allocator in (see checker.c). bytes must be the same for both calls.
 */
int psum_os_map(size_t bytes, void **out);
void psum_os_unmap(void *p, size_t bytes);
/*
 * Shared by the backends (os/table.c): a table of *cap items of item_size
 * bytes in mapped memory, grown to hold at least want (contents kept,
 * rounded up to fill its pages); NULL and 0 for none. Freed with
 * psum_os_table_free, which leaves NULL and 0.
 */
int psum_os_table_grow(void **items, size_t *cap, size_t want, size_t item_size);
void psum_os_table_free(void **items, size_t *cap, size_t item_size);

/* Threads, locks, time. */
typedef struct psum_os_thread psum_os_thread;

/* Shared by the backends (os/thread_start.c): psum_os_thread_new, then psum_os_thread_run. */
int psum_os_thread_start(psum_os_thread **out, void (*fn)(void *), void *arg);
/*
 * psum_os_thread_start in two steps, for a thread started in a forked
 * child: the handle is allocated before fork() (psum_os_thread_new), the
 * thread started after it (psum_os_thread_run), which allocates nothing of
 * procsum's. A handle whose thread never ran is freed with
 * psum_os_thread_discard (NULL is fine); one that ran, by joining it.
 */
int psum_os_thread_new(psum_os_thread **out);
int psum_os_thread_run(psum_os_thread *t, void (*fn)(void *), void *arg);
void psum_os_thread_discard(psum_os_thread *t);
int psum_os_thread_join(psum_os_thread *t);
/*
 * psum_os_thread_run delay_ns from now, with no thread before then (lazy
 * start: a process that ends sooner never has one; os/linux/late_start.c
 * says how). 0 when armed; otherwise (not supported here, the program uses
 * the signal it needs) nothing was armed and the caller starts its own
 * way. An armed start is taken back by psum_os_thread_cancel_later: true
 * when the thread never ran and never will (discard the handle), false
 * when it ran or is running (wait for it as usual); once per arming.
 */
int psum_os_thread_run_later(psum_os_thread *t, void (*fn)(void *), void *arg, uint64_t delay_ns);
bool psum_os_thread_cancel_later(psum_os_thread *t);
/*
 * The same start, without a handle: calls start(arg) delay_ns from now,
 * where it may start a thread (psum_os_thread_run_late) and take locks
 * that no code of the program holds, nothing more; a failure is tried
 * again a little later. Writes nothing but the platform's own record of
 * it, so a forked child's pages stay shared (checker.c, restart_in_child).
 * PROCSUM_ENOSYS where not supported; then nothing was armed.
 */
int psum_os_call_later(int (*start)(void *), void *arg, uint64_t delay_ns);
/*
 * Takes back this process's armed call of start(arg): true when it had
 * not run and now never will; false when there was none, or it has run
 * (waiting out one that another thread is making).
 */
bool psum_os_take_back_later(int (*start)(void *), void *arg);
/* psum_os_thread_run from such a call: the thread works at once, so it is not pinned for a wait. */
int psum_os_thread_run_late(psum_os_thread *t, void (*fn)(void *), void *arg);
/* Makes psum_os_thread_run_later possible in the forked children to come; 0 where it is. Not in a forked child. */
int psum_os_thread_prepare_later(void);
/* Waits for the thread to end, as join does, but keeps the handle (psum_os_thread_discard frees it). */
int psum_os_thread_wait(psum_os_thread *t);
bool psum_os_thread_is_current(const psum_os_thread *t);
/* Lowers the calling thread's scheduling priority; failure is harmless. */
void psum_os_thread_lower_priority(void);
/*
 * A thread starts on the CPU that started it, and stays there until it
 * calls this (where the backend pins: Linux, os/linux/cpu_pin.c): a thread
 * that only waits costs a short process no wake-up of another CPU. Called
 * by the thread itself when its waiting is over; afterwards it may run on
 * every CPU its creator was allowed. Failure is harmless.
 */
void psum_os_thread_unpin(void);


/* A lock and a condition to wait on under it (no recursion, no ownership checks). */
typedef struct psum_os_monitor psum_os_monitor;

int psum_os_monitor_create(psum_os_monitor **out);
void psum_os_monitor_destroy(psum_os_monitor *m);
void psum_os_monitor_lock(psum_os_monitor *m);
void psum_os_monitor_unlock(psum_os_monitor *m);
/* With the lock held: waits until woken or until the monotonic clock reaches deadline_ns. */
void psum_os_monitor_wait_until(psum_os_monitor *m, uint64_t deadline_ns);
void psum_os_monitor_wake_all(psum_os_monitor *m);

uint64_t psum_os_monotonic_ns(void);
/* Sleeps the calling thread for about ns (a signal may cut it short). */
void psum_os_sleep_ns(uint64_t ns);
/* Wall clock, split as a struct timespec is. */
void psum_os_wall_time(int64_t *sec, long *nsec);
/* Used CPU time of the calling thread. */
uint64_t psum_os_thread_cpu_ns(void);

/* The platform's error for the last failed call, as a PROCSUM_E* code. */
int psum_os_last_error(void);

/*
 * Handlers to run around fork(), as pthread_atfork runs them; any may be
 * NULL. prepare runs inside the fork gate, taken by the forking thread, so
 * what is changed only inside the gate is whole when it reads it; child
 * runs with the child's gate free (or held by the forking thread, if it
 * forked from inside). Platforms without fork accept and never call them.
 */
int psum_os_at_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void));

/* The calling process's id: tells a forked child from its parent. Cached where a child cannot inherit the cache. */
uint64_t psum_os_process_id(void);

/* Fills buf with len bytes from the system's cryptographic random source. */
int psum_os_random(void *buf, size_t len);

/*
 * Files backing mappings, read to show what exactly changed in a page.
 *
 * Opens the file at `path` for comparisons; fails with PROCSUM_ENOENT if the
 * path no longer is the file with that device and inode (replaced, deleted,
 * or not a regular file any more). dev and ino are as psum_os_region gives
 * them. The path is resolved in the caller's file system view: for another
 * process in another mount namespace or chroot it is ENOENT (or another
 * file, which the identity check refuses).
 */
typedef struct psum_os_file psum_os_file;
int psum_os_file_open(const char *path, uint64_t dev, uint64_t ino, psum_os_file **out);
/*
 * Opens the file that r of target t maps, with the same identity check.
 * For the calling process (t NULL or pid 0) that is psum_os_file_open() of
 * r's path (PROCSUM_ENOENT when r->file_deleted). For another process the
 * platform reaches the file as the process maps it where it can (on Linux
 * /proc/PID/map_files, then the path in the process's own root), so that a
 * file deleted, replaced or in another mount namespace is still the one
 * compared; then r's path as the caller sees it.
 */
int psum_os_file_open_mapped(psum_os_target *t, const psum_os_region *r, psum_os_file **out);
/*
 * Reads len bytes at offset into buf. Bytes past the end of the file read as
 * zero (as the tail of a mapping's last page does); *got (may be NULL) is
 * set to the bytes really read from the file, also on error.
 */
int psum_os_file_read(psum_os_file *f, uint64_t offset, void *buf, size_t len, size_t *got);
/* f may be NULL. */
void psum_os_file_close(psum_os_file *f);

/*
 * Reads len bytes at offset (a multiple of PROCSUM_PAGE_SIZE) as the disk
 * holds them, below the file system's cache, zero past the end of the file:
 * what a cached page should be. PROCSUM_ENOSYS where the file system or the
 * platform cannot read below its cache (tmpfs); the caller then says that
 * it compared with the cache.
 */
int psum_os_file_read_below_cache(psum_os_file *f, uint64_t offset, void *buf, size_t len);

/*
 * The functions a file names, for reports: where each starts in the file
 * (its file offset, so that it is found whatever address the file is
 * mapped at) and how long it is (0: unknown). On Linux the ELF symbol
 * table (.symtab where the file keeps one, else .dynsym), read with
 * libelf, which is loaded on the first call with may_load (false where the
 * loader's lock may be held by a thread the process does not have, as in a
 * forked child: then symbols are read only if libelf was loaded before);
 * on Windows the PE export table, and may_load means nothing. names holds each name, 0
 * terminated, at psum_os_symbol.name. PROCSUM_ENOSYS where the platform or
 * the build cannot read them; PROCSUM_EBADMSG when the file is not an
 * image the platform knows. machine tells which instruction set the code
 * is (PSUM_MACHINE_UNKNOWN for another one).
 */
typedef enum psum_machine {
    PSUM_MACHINE_UNKNOWN = 0,
    PSUM_MACHINE_X86_32 = 1,
    PSUM_MACHINE_X86_64 = 2,
    PSUM_MACHINE_ARM64 = 3
} psum_machine;

typedef struct psum_os_symbol {
    uint64_t file_offset, size;
    uint32_t name; /* offset in psum_os_symbol_list.names */
    uint8_t rank;  /* which of several names for one place to show: the highest (global over weak over local) */
} psum_os_symbol;

typedef struct psum_os_symbol_list {
    psum_os_symbol *items; /* in no particular order */
    size_t count, cap;
    char *names;
    size_t names_len, names_cap;
    psum_machine machine;
} psum_os_symbol_list;

int psum_os_file_symbols(psum_os_file *f, bool may_load, psum_os_symbol_list *out);
/*
 * Whether psum_os_file_symbols with may_load would load nothing (the
 * library was loaded or found missing, or there is none to load); with
 * load_now, it is loaded first.
 */
bool psum_os_symbols_loaded(bool load_now);
/* Frees what the list holds and zeroes it. Shared by the backends (os/symbol_list.c). */
void psum_os_symbol_list_free(psum_os_symbol_list *l);
/* Appends a symbol and its name (len bytes, no terminator needed). Shared by the backends. */
int psum_os_symbol_list_push(psum_os_symbol_list *l, uint64_t file_offset, uint64_t size, uint8_t rank,
                             const char *name, size_t len);

/* A file's size, change times and links, to tell whether it was written since. */
typedef struct psum_os_file_state {
    uint64_t size;
    int64_t mtime_ns, ctime_ns;
    uint64_t links; /* names the file has (0: deleted, or replaced by a rename) */
} psum_os_file_state;
int psum_os_file_state_of(psum_os_file *f, psum_os_file_state *out);

/*
 * Which copy of a file page the target sees at addr: the page cache's own
 * page (PROCSUM_COPY_SHARED) or a private copy (PROCSUM_COPY_PRIVATE); or
 * PROCSUM_COPY_UNKNOWN when the platform cannot tell or the page is absent.
 */
procsum_copy psum_os_page_copy(psum_os_target *t, uintptr_t addr);

/*
 * For npages pages from addr (aligned): whether each is mapped in the
 * target now (resident[i], as psum_os_resident says), whether it is a
 * file's page-cache page (cached[i]: what psum_os_page_copy calls
 * PROCSUM_COPY_SHARED) and its physical frame number (frame[i]; 0 where the
 * platform does not show it: Linux shows frames to CAP_SYS_ADMIN only).
 * PROCSUM_ENOSYS where the platform cannot tell; the caller then treats
 * every page as the process's own.
 */
int psum_os_page_frames(psum_os_target *t, uintptr_t addr, size_t npages, bool *resident, bool *cached,
                        uint64_t *frame);

/* Whether a debugger is attached to the target now. */
bool psum_os_traced(psum_os_target *t);

/*
 * Whether a kernel probe (a uprobe) is registered on an instruction in
 * [offset, offset + len) of the file with that device and inode.
 */
bool psum_os_uprobe_in(uint64_t dev, uint64_t ino, uint64_t offset, uint64_t len);

/*
 * Residency: for npages pages (PROCSUM_PAGE_SIZE) from addr (aligned to
 * PROCSUM_PAGE_SIZE), sets resident[i] to whether the page is mapped in the
 * target's memory now, so that reading it will not fault it in (from disk,
 * from swap, or from the page cache into the target's page tables).
 * Unmapped pages report false, and the call still returns 0. When the
 * platform cannot tell, every page reports true and the call returns 0:
 * residency never fails a pass. PROCSUM_EINVAL for a misaligned addr or a
 * range that wraps.
 */
int psum_os_resident(psum_os_target *t, uintptr_t addr, size_t npages, bool *resident);

#endif
