/*
 * Reads of loader-mapped objects that know whose bytes they got, made in
 * place. While dl_iterate_phdr runs its callback the loader cannot map or
 * unmap anything, so the pages of an object it lists can be read where they
 * are, and they are that object's, not those of another one dlopen'ed since
 * at the same address. Each listed object is compared with what
 * /proc/PID/maps said when the region was found: the same file (device and
 * inode) and the same offset of it at the same address.
 */
#include <limits.h>
#include <stddef.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../os.h"
#include "fault_guard.h"
#include "loader.h"

/*
 * Files seen as loader objects (guarded by the fork gate). A region of such
 * a file that no listed object covers any more was unloaded since it was listed:
 * whatever is at its address now is not its content.
 */
#define MAX_KNOWN_OBJECTS 256
static struct {
    uint64_t dev, ino;
} known_objects[MAX_KNOWN_OBJECTS];
static size_t known_count, known_next;

static bool is_known_object(const psum_os_region *r)
{
    for (size_t i = 0; i < known_count; i++)
        if (known_objects[i].dev == r->dev && known_objects[i].ino == r->ino)
            return true;
    return false;
}

static void remember_object(const psum_os_region *r)
{
    if (is_known_object(r))
        return;
    known_objects[known_next].dev = r->dev;
    known_objects[known_next].ino = r->ino;
    known_next = (known_next + 1) % MAX_KNOWN_OBJECTS;
    if (known_count < MAX_KNOWN_OBJECTS)
        known_count++;
}

static bool has_counters(size_t size)
{
    return size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(((struct dl_phdr_info *)0)->dlpi_subs);
}

static int first_counters(struct dl_phdr_info *info, size_t size, void *arg)
{
    psum_linux_loader_counters *c = arg;
    if (has_counters(size)) {
        c->adds = info->dlpi_adds;
        c->subs = info->dlpi_subs;
        c->known = true;
    }
    return 1;
}

psum_linux_loader_counters psum_linux_loader_counters_now(void)
{
    psum_linux_loader_counters c = {0, 0, false};
    dl_iterate_phdr(first_counters, &c);
    return c;
}

/*
 * Where the objects holding recent ranges were, by their file, for this
 * target: a pass reads each region slice after slice, and every slice of
 * a file's regions lies in the object found for the one before. A hint
 * says only where to look first: the object found there is checked as
 * fully as any other, and when it does not hold the range every object is
 * searched as before. Ranges never overlap two objects, so a hint cannot
 * make the search find another object than the full one would.
 */
typedef psum_linux_object_hint object_hint;

static object_hint *hint_for(psum_linux_loader_hints *hints, const psum_os_region *r)
{
    for (size_t i = 0; i < PSUM_LINUX_LOADER_HINTS; i++) {
        object_hint *h = &hints->items[i];
        if (h->phdr && h->dev == r->dev && h->ino == r->ino)
            return h;
    }
    return NULL;
}

static void remember_hint(psum_linux_loader_hints *hints, const psum_os_region *r, const struct dl_phdr_info *info)
{
    object_hint *h = hint_for(hints, r);
    if (!h) {
        h = &hints->items[hints->next];
        hints->next = (hints->next + 1) % PSUM_LINUX_LOADER_HINTS;
    }
    *h = (object_hint){r->dev, r->ino, (uintptr_t)info->dlpi_addr, info->dlpi_phdr};
}

typedef struct object_use {
    const psum_os_region *r;
    const psum_linux_loader_counters *listed;
    uintptr_t addr;
    size_t len;
    psum_os_bytes_fn use;
    void *ctx;
    bool covered;  /* an object listed by the loader holds [addr, addr + len) */
    bool touched;  /* a segment of a listed object holds part of it */
    const object_hint *only; /* look at this object alone; NULL: at every one */
    psum_linux_loader_hints *hints;
    int result;
} object_use;

/*
 * The search for the loadable segment that holds [addr, addr + len). The
 * program headers lie in the object's first page, which the program can
 * take away as it can any other (munmap, mprotect, truncating the file), so
 * they are read under the fault guard and the segment found is copied out.
 */
typedef struct segment_search {
    uintptr_t base, addr;
    size_t len, count;
    bool found;
    bool touched;      /* a segment holds part of the range: the first such, and where in the range it starts */
    ElfW(Phdr) touch_ph;
    uintptr_t touch_at;
    ElfW(Phdr) ph;
} segment_search;

static int find_segment(void *ctx, const uint8_t *bytes)
{
    segment_search *s = ctx;
    for (size_t i = 0; i < s->count; i++) {
        ElfW(Phdr) ph;
        memcpy(&ph, bytes + i * sizeof(ph), sizeof(ph));
        if (ph.p_type != PT_LOAD)
            continue;
        uintptr_t start = (s->base + ph.p_vaddr) & ~(uintptr_t)(PROCSUM_PAGE_SIZE - 1);
        uintptr_t end = s->base + ph.p_vaddr + ph.p_memsz;
        if (!s->touched && s->addr < end + PROCSUM_PAGE_SIZE - 1 && s->addr + s->len > start) {
            s->touched = true;
            s->touch_ph = ph;
            s->touch_at = s->addr > start ? s->addr : start;
        }
        if (s->addr >= start && s->addr + s->len <= end + PROCSUM_PAGE_SIZE - 1) {
            s->ph = ph;
            s->found = true;
            break;
        }
    }
    return 0;
}

/*
 * Whether the object has a segment holding [addr, addr + len): false also
 * when its headers cannot be read. *touched: whether one holds part of it,
 * that segment in *touch_ph and where in the range it starts in *touch_at.
 */
static bool segment_holding(const struct dl_phdr_info *info, uintptr_t addr, size_t len, ElfW(Phdr) *out,
                            bool *touched, ElfW(Phdr) *touch_ph, uintptr_t *touch_at)
{
    segment_search s = {.base = info->dlpi_addr, .addr = addr, .len = len, .count = info->dlpi_phnum};
    if (!info->dlpi_phdr ||
        psum_linux_guarded_use((uintptr_t)info->dlpi_phdr, s.count * sizeof(ElfW(Phdr)), find_segment, &s) != 0)
        return false;
    *out = s.ph;
    *touched = s.touched;
    *touch_ph = s.touch_ph;
    *touch_at = s.touch_at;
    return s.found;
}

/*
 * Whether the segment puts at addr the same offset of its file as r does.
 * It does not when r's file was unloaded and loaded again at another base
 * since r was listed: then another part of the same file lies at addr.
 * (Unsigned arithmetic wraps, so a page start below the segment's first
 * byte still gives the right offset.)
 */
static bool same_offset(const struct dl_phdr_info *info, const ElfW(Phdr) *ph, const psum_os_region *r,
                        uintptr_t addr)
{
    /* In the loader's own arithmetic (uintptr_t), from the segment's first page: no term is negative. */
    uintptr_t mask = PROCSUM_PAGE_SIZE - 1;
    uintptr_t segment = (uintptr_t)(info->dlpi_addr + ph->p_vaddr) & ~mask;
    uint64_t object_offset = (uint64_t)(addr - segment) + ((uint64_t)ph->p_offset & ~(uint64_t)mask);
    return object_offset == r->file_offset + (addr - r->start);
}

/*
 * Whether the listed object is r's file: by device and inode, or else by its
 * resolved path (the two can disagree on overlay file systems, where stat
 * and the maps file may give different devices for one file). The main
 * program (empty name) cannot be unloaded, so it always is.
 */
static bool same_file(const struct dl_phdr_info *info, size_t size, const psum_linux_loader_counters *listed,
                      const psum_os_region *r)
{
    if (!info->dlpi_name || !info->dlpi_name[0])
        return true;
    /*
     * No object came or went since the mappings were listed: the object
     * mapped here is the one the listing saw, whatever its file is called
     * now (a library upgraded on disk keeps being checked).
     */
    if (has_counters(size) && listed->known && info->dlpi_adds == listed->adds && info->dlpi_subs == listed->subs)
        return true;
    /* Something came or went (rare): ask the file system. */
    struct stat st;
    char resolved[PATH_MAX];
    return (stat(info->dlpi_name, &st) == 0 && (uint64_t)st.st_dev == r->dev && (uint64_t)st.st_ino == r->ino) ||
           (realpath(info->dlpi_name, resolved) && strcmp(resolved, r->path) == 0);
}

static int visit(struct dl_phdr_info *info, size_t size, void *arg)
{
    object_use *o = arg;
    ElfW(Phdr) ph;
    if (o->only && ((uintptr_t)info->dlpi_addr != o->only->base || (const void *)info->dlpi_phdr != o->only->phdr))
        return 0;
    /* An object whose headers are gone cannot vouch for its pages: as if it held none (they are copied). */
    bool touched = false;
    ElfW(Phdr) touch_ph;
    uintptr_t touch_at = 0;
    if (!segment_holding(info, o->addr, o->len, &ph, &touched, &touch_ph, &touch_at)) {
        /* Part of the range is r's file, where the listing put it: not unloaded (another object there would be). */
        if (touched && same_offset(info, &touch_ph, o->r, touch_at) && same_file(info, size, o->listed, o->r))
            o->touched = true;
        return 0;
    }
    o->covered = true;
    remember_hint(o->hints, o->r, info);
    /* Another object, or r's file at another base, since the regions were listed: not r's bytes. */
    if (!same_offset(info, &ph, o->r, o->addr) || !same_file(info, size, o->listed, o->r)) {
        o->result = PROCSUM_EFAULT;
        return 1;
    }
    remember_object(o->r);
    /*
     * Listed, so not unloadable until we return: its pages are read where
     * they are. The program itself may still unmap or protect them, or
     * truncate their file: the guard turns that fault into PROCSUM_EFAULT.
     */
    o->result = psum_linux_guarded_use(o->addr, o->len, o->use, o->ctx);
    return 1;
}

int psum_linux_loader_use(const psum_os_region *r, const psum_linux_loader_counters *listed,
                          psum_linux_loader_hints *hints, uintptr_t addr,
                          size_t len, psum_os_bytes_fn use, void *ctx, bool *handled)
{
    object_use o = {.r = r, .listed = listed, .addr = addr, .len = len, .use = use, .ctx = ctx, .result = 0};
    /* A fork while we hold the loader's lock would leave the child's loader locked: the gate keeps it out. */
    psum_os_fork_gate_enter();
    o.hints = hints;
    o.only = hint_for(hints, r);
    if (o.only) {
        dl_iterate_phdr(visit, &o);
        o.only = NULL;
    }
    if (!o.covered)
        dl_iterate_phdr(visit, &o);
    /*
     * A loader object's file no object covers here now: unloaded since it
     * was listed. Not when a segment of that file, where the listing put
     * it, holds part of the range: an mprotect over the end of one segment
     * and the start of the next makes the kernel merge their mappings into
     * one region that no single segment holds, and it is copied as any
     * other mapping is. Another object loaded there since is no such
     * segment: its bytes are not the listed file's.
     */
    bool unloaded = !o.covered && !o.touched && is_known_object(r);
    psum_os_fork_gate_leave();
    *handled = o.covered || unloaded;
    return unloaded ? PROCSUM_EFAULT : o.result;
}
