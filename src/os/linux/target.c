/*
 * The Linux view of a process: its executable mappings from /proc/PID/maps
 * and reads of its memory that fail instead of faulting.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../os.h"
#include "files.h"
#include "maps.h"

struct psum_os_target {
    long pid;          /* 0: the calling process, whoever it is after a fork */
    int mem_fd;        /* /proc/PID/mem, opened on first need */
    pid_t mem_fd_owner; /* the process that opened it: after a fork, the child's must be its own */
    int pagemap_fd;     /* /proc/PID/pagemap, kept open across passes */
    pid_t pagemap_owner;
    bool vm_readv_ok;  /* false once process_vm_readv is refused (seccomp, old kernel) */
    /* The maps text the list below was last filled from: the same text again needs no parsing. */
    char *last_maps;
    size_t last_maps_len;
    const psum_os_region_list *last_list;
    size_t last_count;
    /* The loader's counters just before the last listing (the own process only). */
    bool listed_counters_known;
    unsigned long long listed_adds, listed_subs;
};

bool psum_linux_target_listed_counters(const psum_os_target *t, unsigned long long *adds, unsigned long long *subs)
{
    *adds = t->listed_adds;
    *subs = t->listed_subs;
    return t->listed_counters_known;
}

long psum_linux_target_pid(const psum_os_target *t)
{
    return t->pid;
}


static pid_t real_pid(const psum_os_target *t)
{
    return t->pid == 0 ? getpid() : (pid_t)t->pid;
}

static void proc_path(char *buf, size_t size, const psum_os_target *t, const char *leaf)
{
    /* "self" keeps following the caller across fork. */
    if (t->pid == 0)
        snprintf(buf, size, "/proc/self/%s", leaf);
    else
        snprintf(buf, size, "/proc/%ld/%s", t->pid, leaf);
}

int psum_linux_target_pagemap(psum_os_target *t)
{
    /* A descriptor stays bound to the address space it was opened on: a forked child opens its own. */
    if (t->pagemap_fd >= 0 && t->pagemap_owner != getpid())
        t->pagemap_fd = -1; /* the parent's: not ours to close */
    if (t->pagemap_fd < 0) {
        char path[64];
        proc_path(path, sizeof(path), t, "pagemap");
        t->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
        t->pagemap_owner = getpid();
    }
    return t->pagemap_fd;
}

int psum_os_target_open(long pid, psum_os_target **out)
{
    if (!out || pid < 0)
        return PROCSUM_EINVAL;
    *out = NULL;
    psum_os_target *t = calloc(1, sizeof(*t));
    if (!t)
        return PROCSUM_ENOMEM;
    t->pid = pid;
    t->mem_fd = -1;
    t->pagemap_fd = -1;
    t->vm_readv_ok = true;
    if (pid != 0) {
        char path[64];
        struct stat st;
        proc_path(path, sizeof(path), t, "");
        if (stat(path, &st) != 0) {
            int err = errno == ENOENT ? PROCSUM_ESRCH : psum_os_last_error();
            free(t);
            return err;
        }
    }
    *out = t;
    return 0;
}

void psum_os_target_close(psum_os_target *t)
{
    if (!t)
        return;
    if (t->mem_fd >= 0)
        close(t->mem_fd);
    if (t->pagemap_fd >= 0 && t->pagemap_owner == getpid())
        close(t->pagemap_fd);
    free(t->last_maps);
    free(t);
}

/* Reads a whole /proc file; they report size 0, so grow until EOF. */
static int read_proc_file(const psum_os_target *t, const char *leaf, char **data, size_t *len)
{
    char path[64];
    proc_path(path, sizeof(path), t, leaf);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? PROCSUM_ESRCH : psum_os_last_error();
    size_t cap = 16384, used = 0;
    char *buf = malloc(cap);
    int err = buf ? 0 : PROCSUM_ENOMEM;
    while (!err) {
        if (cap - used < 4096) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                err = PROCSUM_ENOMEM;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + used, cap - used - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = errno == ESRCH ? PROCSUM_ESRCH : psum_os_last_error();
        } else if (n == 0) {
            break;
        } else {
            used += (size_t)n;
        }
    }
    close(fd);
    if (err) {
        free(buf);
        return err;
    }
    buf[used] = '\0';
    *data = buf;
    *len = used;
    return 0;
}

/* The program's entry point, from the auxiliary vector. */
static uintptr_t entry_point(const psum_os_target *t)
{
    if (t->pid == 0)
        return (uintptr_t)getauxval(AT_ENTRY); /* our own: no file to read */
    char *auxv;
    size_t len;
    uintptr_t entry = 0;
    if (read_proc_file(t, "auxv", &auxv, &len) != 0)
        return 0;
    for (size_t i = 0; i + sizeof(Elf64_auxv_t) <= len; i += sizeof(Elf64_auxv_t)) {
        Elf64_auxv_t a;
        memcpy(&a, auxv + i, sizeof(a));
        if (a.a_type == AT_ENTRY) {
            entry = (uintptr_t)a.a_un.a_val;
            break;
        }
    }
    free(auxv);
    return entry;
}

/*
 * The main executable is the file mapped at the entry point, identified by
 * the device and inode the maps line gives (stat() may disagree on overlay
 * file systems, so /proc/PID/exe is only a fallback).
 */
static void mark_main_executable(const psum_os_target *t, psum_os_region_list *list,
                                 uint64_t entry_dev, uint64_t entry_ino)
{
    if (entry_ino == 0) {
        char path[64];
        struct stat st;
        proc_path(path, sizeof(path), t, "exe");
        if (stat(path, &st) != 0)
            return;
        entry_dev = (uint64_t)st.st_dev;
        entry_ino = (uint64_t)st.st_ino;
    }
    for (size_t i = 0; i < list->count; i++) {
        psum_os_region *r = &list->items[i];
        r->main_executable = r->kind == PROCSUM_REGION_FILE && r->dev == entry_dev && r->ino == entry_ino;
    }
}

/* Whether list still holds what the same maps text gave it last time. */
static bool unchanged(const psum_os_target *t, const psum_os_region_list *list, const char *maps, size_t len)
{
    return t->last_list == list && t->last_count == list->count && t->last_maps && t->last_maps_len == len &&
           memcmp(t->last_maps, maps, len) == 0;
}

static void remember(psum_os_target *t, const psum_os_region_list *list, char *maps, size_t len)
{
    free(t->last_maps);
    t->last_maps = maps;
    t->last_maps_len = len;
    t->last_list = list;
    t->last_count = list->count;
}

static void forget(psum_os_target *t)
{
    free(t->last_maps);
    t->last_maps = NULL;
    t->last_list = NULL;
}

int psum_os_list_regions(psum_os_target *t, psum_os_region_list *list)
{
    char *maps;
    size_t len;
    /* Once a pass: library code is read in place only while the fault guard's handler is in place. */
    if (t->pid == 0)
        psum_linux_fault_guard_recheck();
    /* Before the listing: an object added or removed after it shows in the counters. */
    t->listed_counters_known = t->pid == 0 && psum_linux_loader_counters(&t->listed_adds, &t->listed_subs);
    int err = read_proc_file(t, "maps", &maps, &len);
    if (err) {
        forget(t);
        psum_os_region_list_clear(list);
        return err;
    }
    /* Nothing mapped, unmapped or reprotected since the last pass: the list stands. */
    if (unchanged(t, list, maps, len)) {
        free(maps);
        return 0;
    }
    psum_os_region_list_clear(list);
    uintptr_t entry = entry_point(t);
    uint64_t entry_dev = 0, entry_ino = 0;

    for (const char *line = maps; line < maps + len && !err;) {
        const char *nl = memchr(line, '\n', (size_t)(maps + len - line));
        size_t line_len = nl ? (size_t)(nl - line) : (size_t)(maps + len - line);
        psum_os_region r;
        err = psum_maps_parse_line(line, line_len, &r);
        if (err == 0) {
            if (entry >= r.start && entry < r.end && r.kind == PROCSUM_REGION_FILE) {
                entry_dev = r.dev;
                entry_ino = r.ino;
            }
            err = psum_os_region_list_push(list, &r);
            if (err)
                free(r.path);
        }
        line += line_len + 1;
    }
    if (err) {
        free(maps);
        forget(t);
        psum_os_region_list_clear(list);
        return err;
    }
    mark_main_executable(t, list, entry_dev, entry_ino);
    remember(t, list, maps, len);
    return 0;
}

static int read_via_mem_file(psum_os_target *t, uintptr_t addr, void *buf, size_t len)
{
    if (t->mem_fd >= 0 && t->mem_fd_owner != getpid()) {
        /* Inherited across fork: "/proc/self/mem" opened by the parent still shows the parent. */
        close(t->mem_fd);
        t->mem_fd = -1;
    }
    if (t->mem_fd < 0) {
        t->mem_fd_owner = getpid();
        char path[64];
        proc_path(path, sizeof(path), t, "mem");
        t->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (t->mem_fd < 0)
            return psum_os_last_error();
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(t->mem_fd, (char *)buf + done, len - done, (off_t)(addr + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 || errno == EIO ? PROCSUM_EFAULT : psum_os_last_error();
        done += (size_t)n;
    }
    return 0;
}

int psum_os_read(psum_os_target *t, uintptr_t addr, void *buf, size_t len)
{
    if (len == 0)
        return 0;
    if (addr + len < addr)
        return PROCSUM_EFAULT;
    if (t->vm_readv_ok) {
        struct iovec local = {buf, len};
        struct iovec remote = {(void *)addr, len};
        ssize_t n = process_vm_readv(real_pid(t), &local, 1, &remote, 1, 0);
        if (n == (ssize_t)len)
            return 0;
        if (n >= 0 || errno == EFAULT)
            return PROCSUM_EFAULT; /* partly or wholly unmapped now */
        if (errno == ESRCH)
            return PROCSUM_ESRCH;
        if (errno != ENOSYS && errno != EPERM)
            return psum_os_last_error();
        /* Refused for this process (seccomp filters, some sandboxes): /proc/PID/mem is just as safe. */
        t->vm_readv_ok = false;
    }
    return read_via_mem_file(t, addr, buf, len);
}

int psum_os_write(psum_os_target *t, uintptr_t addr, const void *buf, size_t len)
{
    char path[64];
    proc_path(path, sizeof(path), t, "mem");
    /* /proc/PID/mem writes through the protection, as ptrace does, with no window where the page is writable. */
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return psum_os_last_error();
    size_t done = 0;
    int err = 0;
    while (done < len && !err) {
        ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(addr + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            err = n == 0 || errno == EIO ? PROCSUM_EFAULT : psum_os_last_error();
        else
            done += (size_t)n;
    }
    close(fd);
    return err;
}
