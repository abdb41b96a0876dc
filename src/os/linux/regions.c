/*
 * The mappings of a Linux process: through PROCMAP_QUERY where the kernel
 * has it (procmap.c: executable mappings and what overlaps the last
 * listing), else from the text of /proc/PID/maps, parsed once per change
 * of the text; the main executable found by the entry point. Another
 * process's list stands with no listing at all while its stat line says
 * its memory did not move (list_stands below).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../os.h"
#include "errors.h"
#include "fault_guard.h"
#include "loader.h"
#include "maps.h"
#include "procmap.h"
#include "target.h"

/*
 * Reads a whole /proc file into t->text (they report size 0, so grow until
 * EOF); *len bytes, NUL-terminated. The buffer is kept for the next read.
 */
static int read_proc_file(psum_os_target *t, const char *leaf, size_t *len)
{
    char path[64];
    psum_linux_target_proc_path(path, sizeof(path), t, leaf);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return psum_linux_proc_error(t->pid);
    size_t used = 0;
    int err = psum_os_table_grow((void **)&t->text, &t->text_cap, 16384, 1);
    while (!err) {
        if (t->text_cap - used < 4096) {
            err = psum_os_table_grow((void **)&t->text, &t->text_cap, t->text_cap * 2, 1);
            if (err)
                break;
        }
        ssize_t n = read(fd, t->text + used, t->text_cap - used - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = psum_linux_proc_error(t->pid);
        } else if (n == 0) {
            break;
        } else {
            used += (size_t)n;
        }
    }
    close(fd);
    if (err)
        return err;
    t->text[used] = '\0';
    *len = used;
    return 0;
}

/* The program's entry point, from the auxiliary vector: read once per program (psum_os_target_refresh tells which). */
static uintptr_t entry_point(psum_os_target *t)
{
    if (t->pid == 0)
        return (uintptr_t)getauxval(AT_ENTRY); /* our own: no file to read */
    if (t->program_known && t->entry_known && t->entry_program == t->program_id)
        return t->entry;
    char auxv[2048];
    uintptr_t entry = 0;
    ssize_t len = psum_linux_target_read_small(t, "auxv", auxv, sizeof(auxv));
    for (size_t i = 0; len > 0 && i + sizeof(Elf64_auxv_t) <= (size_t)len; i += sizeof(Elf64_auxv_t)) {
        Elf64_auxv_t a;
        memcpy(&a, auxv + i, sizeof(a));
        if (a.a_type == AT_ENTRY) {
            entry = (uintptr_t)a.a_un.a_val;
            break;
        }
    }
    t->entry_known = t->program_known && entry != 0;
    t->entry_program = t->program_id;
    t->entry = entry;
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
        psum_linux_target_proc_path(path, sizeof(path), t, "exe");
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
    return t->last_list == list && t->last_count == list->count && t->last_maps_len > 0 && t->last_maps_len == len &&
           memcmp(t->last_maps, maps, len) == 0;
}

/* Keeps the text just read (in t->text) as last_maps: the two buffers trade places. */
static void remember(psum_os_target *t, const psum_os_region_list *list, size_t len)
{
    char *text = t->text;
    size_t cap = t->text_cap;
    t->text = t->last_maps;
    t->text_cap = t->last_maps_cap;
    t->last_maps = text;
    t->last_maps_cap = cap;
    t->last_maps_len = len;
    t->last_list = list;
    t->last_count = list->count;
}

static void forget(psum_os_target *t)
{
    t->last_maps_len = 0;
    t->last_list = NULL;
}

/*
 * The kernel marks an unlinked file by appending " (deleted)" to its name,
 * but a file may be called that too: a region the parser took for deleted
 * is not when the file at its whole name is the one mapped (device and
 * inode). Text alone never decides it.
 */
static int settle_deleted(psum_os_region_list *list, size_t i)
{
    psum_os_region *r = &list->items[i];
    if (r->kind != PROCSUM_REGION_FILE || !r->file_deleted)
        return 0;
    char whole[PATH_MAX + sizeof(PSUM_MAPS_DELETED_SUFFIX)];
    size_t len = strlen(r->path);
    if (len >= PATH_MAX)
        return 0;
    memcpy(whole, r->path, len);
    memcpy(whole + len, PSUM_MAPS_DELETED_SUFFIX, sizeof(PSUM_MAPS_DELETED_SUFFIX));
    struct stat st;
    if (stat(whole, &st) != 0 || (uint64_t)st.st_dev != r->dev || (uint64_t)st.st_ino != r->ino)
        return 0;
    r->file_deleted = false;
    return psum_os_region_list_rename(list, i, whole, len + sizeof(PSUM_MAPS_DELETED_SUFFIX) - 1);
}

/* What neither way of listing says outright: which files are really deleted, and which is the main executable. */
static int finish(psum_os_target *t, psum_os_region_list *list)
{
    uintptr_t entry = entry_point(t);
    uint64_t entry_dev = 0, entry_ino = 0;
    for (size_t i = 0; i < list->count; i++) {
        int err = settle_deleted(list, i);
        if (err)
            return err;
        const psum_os_region *r = &list->items[i];
        if (entry >= r->start && entry < r->end && r->kind == PROCSUM_REGION_FILE) {
            entry_dev = r->dev;
            entry_ino = r->ino;
        }
    }
    mark_main_executable(t, list, entry_dev, entry_ino);
    return 0;
}

/*
 * The maps text writes a newline in a path as "\012" and a backslash as
 * itself, so a path holding "\012" may be either. The mapping's link in
 * map_files, which ptrace's read rights let a reader follow, names the file
 * exactly, as PROCMAP_QUERY does: *name and *len become it, in buf, and r
 * says again whether it was deleted. Left as they are when it cannot be read.
 */
static void exact_name(const psum_os_target *t, psum_os_region *r, char *buf, size_t cap, const char **name,
                       size_t *len)
{
    if (r->kind != PROCSUM_REGION_FILE || !memmem(*name, *len, "\\012", 4))
        return;
    char link[96];
    if (t->pid == 0)
        snprintf(link, sizeof(link), "/proc/self/map_files/%lx-%lx", (unsigned long)r->start, (unsigned long)r->end);
    else
        snprintf(link, sizeof(link), "/proc/%ld/map_files/%lx-%lx", t->pid, (unsigned long)r->start,
                 (unsigned long)r->end);
    ssize_t n = readlink(link, buf, cap);
    if (n <= 0 || (size_t)n >= cap || buf[0] != '/')
        return;
    const char *exact = buf;
    size_t exact_len;
    psum_maps_name_fields(r, &exact, (size_t)n, &exact_len);
    *name = exact;
    *len = exact_len;
}

/* The maps text, parsed unless it is the same text as last time. */
static int list_from_text(psum_os_target *t, psum_os_region_list *list)
{
    size_t len;
    int err = read_proc_file(t, "maps", &len);
    if (err) {
        forget(t);
        psum_os_region_list_clear(list);
        return err;
    }
    /* Nothing mapped, unmapped or reprotected since the last pass: the list stands. */
    if (unchanged(t, list, t->text, len))
        return 0;
    psum_os_region_list_clear(list);
    const char *maps = t->text;
    char exact[PATH_MAX + 16]; /* a name read from map_files */
    for (const char *line = maps; line < maps + len && !err;) {
        const char *nl = memchr(line, '\n', (size_t)(maps + len - line));
        size_t line_len = nl ? (size_t)(nl - line) : (size_t)(maps + len - line);
        psum_os_region r;
        const char *name;
        size_t name_len;
        err = psum_maps_parse_fields(line, line_len, &r, &name, &name_len);
        if (err == 0) {
            exact_name(t, &r, exact, sizeof(exact), &name, &name_len);
            err = psum_os_region_list_push_named(list, &r, name, name_len);
        }
        line += line_len + 1;
    }
    if (err == 0)
        err = finish(t, list);
    if (err) {
        forget(t);
        psum_os_region_list_clear(list);
        return err;
    }
    remember(t, list, len);
    return 0;
}

/*
 * Another process's mappings change only through its own calls (mmap,
 * munmap, mprotect, mremap), and code it maps comes into use only through
 * page faults: its stat line's size, resident pages and fault counts, read
 * at every refresh, move with all of those that matter. While they stand
 * where they stood at the last listing, so does the list, and a watch of
 * an idle process costs no listing. Not trusted further than that: a read
 * that found a page unmapped, or a question about one mapping (a change
 * being confirmed), makes the next listing ask the kernel, and so does
 * every KEEP_LISTS-th one whatever the counts say. mprotect moves none of
 * the counts: a listing made while code was being patched the usual way
 * (made writable, written, made executable again) would keep a hole where
 * the page was, and the page would go unread until the list is asked for
 * again. So a listing that shows such a moment (patching_seen) is not kept.
 */
#define KEEP_LISTS 8

/*
 * Whether the list shows code caught being patched: a writable and
 * executable mapping, or one file's code split around a hole, two of its
 * mappings whose file offsets follow their addresses with something else
 * (the page made writable only) in between.
 */
static bool patching_seen(const psum_os_region_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        const psum_os_region *r = &list->items[i];
        if ((r->prot & PSUM_PROT_W) && (r->prot & PSUM_PROT_X))
            return true;
        if (i == 0 || r->kind != PROCSUM_REGION_FILE)
            continue;
        const psum_os_region *before = &list->items[i - 1];
        if (before->kind == PROCSUM_REGION_FILE && before->dev == r->dev && before->ino == r->ino &&
            (before->prot & PSUM_PROT_X) && (r->prot & PSUM_PROT_X) && before->end < r->start &&
            r->file_offset > before->file_offset && r->file_offset - before->file_offset == r->start - before->start)
            return true;
    }
    return false;
}

static bool list_stands(psum_os_target *t, const psum_os_region_list *list)
{
    bool fresh = t->memory_fresh;
    t->memory_fresh = false;
    if (t->pid == 0 || !fresh || t->list_stale || !t->listed_known || t->listed_list != list ||
        t->listed_count != list->count || memcmp(t->listed_memory, t->memory, sizeof(t->memory)) != 0 ||
        t->lists_kept + 1 >= KEEP_LISTS)
        return false;
    t->lists_kept++;
    return true;
}

/* After a listing from the kernel: the counts it goes with, if the refresh just read them. */
static void note_listed(psum_os_target *t, const psum_os_region_list *list, bool fresh)
{
    t->listed_known = fresh && t->pid != 0;
    memcpy(t->listed_memory, t->memory, sizeof(t->memory));
    t->listed_list = list;
    t->listed_count = list->count;
    t->lists_kept = 0;
    t->list_stale = patching_seen(list);
}

static int list_from_kernel(psum_os_target *t, psum_os_region_list *list);

int psum_os_list_regions(psum_os_target *t, psum_os_region_list *list)
{
    bool fresh = t->memory_fresh;
    if (list_stands(t, list))
        return 0;
    int err = list_from_kernel(t, list);
    if (err)
        t->listed_known = false;
    else
        note_listed(t, list, fresh);
    return err;
}

static int list_from_kernel(psum_os_target *t, psum_os_region_list *list)
{
    /* Once a pass: library code is read in place only while the fault guard's handler is in place. */
    if (t->pid == 0)
        psum_linux_fault_guard_recheck();
    /* Before the listing: an object added or removed after it shows in the counters. */
    if (t->pid == 0)
        t->listed = psum_linux_loader_counters_now();
    else
        t->listed.known = false;
    /* PROCMAP_QUERY where the kernel has it; any failure there is left for the text to confirm or name. */
    if (!t->maps_text_only && psum_linux_procmap_may_work(t->procmap)) {
        forget(t); /* the list is refilled here: the text's shortcut no longer describes it */
        int err = psum_linux_procmap_list(t, &t->procmap, list);
        if (err == 0)
            err = finish(t, list);
        if (err == 0)
            return psum_linux_procmap_note(t->procmap, list);
        psum_os_region_list_clear(list);
    }
    int err = list_from_text(t, list);
    if (err)
        return err;
    return psum_linux_procmap_note(t->procmap, list);
}

int psum_os_region_at(psum_os_target *t, uintptr_t addr, psum_os_region *out)
{
    t->list_stale = true; /* asked because a page read other than expected: the next listing asks the kernel */
    size_t len;
    int err = read_proc_file(t, "maps", &len);
    if (err)
        return err;
    const char *maps = t->text;
    for (const char *line = maps; line < maps + len;) {
        const char *nl = memchr(line, '\n', (size_t)(maps + len - line));
        size_t line_len = nl ? (size_t)(nl - line) : (size_t)(maps + len - line);
        psum_os_region r;
        const char *name;
        size_t name_len;
        if (psum_maps_parse_fields(line, line_len, &r, &name, &name_len) == 0 && addr >= r.start && addr < r.end) {
            *out = r; /* no path: the callers compare the rest */
            return 0;
        }
        line += line_len + 1;
    }
    return PROCSUM_EFAULT;
}
