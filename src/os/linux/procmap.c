/*
 * The mappings of a Linux process through PROCMAP_QUERY (Linux 6.11), an
 * ioctl on /proc/PID/maps that answers for one address: the mapping that
 * covers it or the next one, optionally only among executable mappings.
 * Listing through it skips what makes the maps text cost: the kernel
 * formatting a line for every mapping of the process (hundreds in a
 * program with large libraries, most of them data) and our parsing it.
 *
 * What is listed. The pass reads executable mappings only, but it keeps
 * the baseline of a page that is briefly not executable (an mprotect
 * window to patch code) as long as the same file page stays mapped there,
 * and it learns that from the listing. So a listing here holds every
 * executable mapping, and every mapping, whatever its protection, that
 * overlaps what the previous listing of this target held: a page that has
 * a baseline was in the listing of the pass that gave or kept it, so the
 * next listing still shows what is mapped at its address. Mappings that
 * were never executable nor next to one are left out: os.h's contract
 * says so.
 *
 * The ABI is spelled out here because older kernel headers (Debian 12's)
 * lack it, as pagemap_scan.c does for PAGEMAP_SCAN; a kernel without it
 * answers ENOTTY and the caller reads the maps text instead. The text
 * lists the [vsyscall] page too, which is no mapping of the process's own
 * (and never read): this listing has no such entry.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../os.h"
#include "errors.h"
#include "maps.h"
#include "procmap.h"
#include "target.h"

/* include/uapi/linux/fs.h, Linux 6.11. */
typedef struct procmap_query {
    uint64_t size;
    uint64_t query_flags;
    uint64_t query_addr;
    uint64_t vma_start, vma_end;
    uint64_t vma_flags;
    uint64_t vma_page_size;
    uint64_t vma_offset;
    uint64_t inode;
    uint32_t dev_major, dev_minor;
    uint32_t vma_name_size;
    uint32_t build_id_size;
    uint64_t vma_name_addr;
    uint64_t build_id_addr;
} procmap_query;

#define PROCMAP_QUERY_IOCTL _IOWR('f', 17, procmap_query)
/* Both the query's filters and the answer's vma_flags. */
#define VMA_READABLE 0x01u
#define VMA_WRITABLE 0x02u
#define VMA_EXECUTABLE 0x04u
/* Query only: the mapping covering the address, or else the next one. */
#define COVERING_OR_NEXT 0x10u

typedef struct range {
    uintptr_t start, end;
} range;

struct psum_linux_procmap {
    int fd; /* /proc/PID/maps: while a listing runs, and from listing to listing for another process */
    bool unsupported;
    range *ranges; /* what the last listing held, merged, ascending */
    size_t count, cap;
    range *next; /* built by a listing, then swapped with ranges */
    size_t next_count, next_cap;
    char name[PATH_MAX + 64];       /* the name of the mapping found last */
    char ahead_name[PATH_MAX + 64]; /* the name of the next executable mapping, found ahead */
};

bool psum_linux_procmap_may_work(const psum_linux_procmap *pm)
{
    return !pm || !pm->unsupported;
}

void psum_linux_procmap_forget(psum_linux_procmap *pm)
{
    if (pm && pm->fd >= 0) {
        close(pm->fd);
        pm->fd = -1;
    }
}

void psum_linux_procmap_abandon(psum_linux_procmap *pm)
{
    if (!pm)
        return;
    psum_os_table_free((void **)&pm->ranges, &pm->cap, sizeof(*pm->ranges));
    psum_os_table_free((void **)&pm->next, &pm->next_cap, sizeof(*pm->next));
    pm->count = pm->next_count = 0;
}

void psum_linux_procmap_free(psum_linux_procmap *pm)
{
    if (!pm)
        return;
    psum_linux_procmap_forget(pm);
    psum_linux_procmap_abandon(pm);
    free(pm);
}

/*
 * The calling process's maps are opened for each listing, as the text is
 * read for each: "self" then is the caller, also in a child after fork. Another
 * process's stay open from listing to listing (a watch lists every process
 * every pass): the descriptor answers for the address space it was opened
 * on, so once that is gone (an exec, an exit) the queries fail with ESRCH,
 * and it is opened again once to tell which (refresh's new program forgets
 * it first anyway).
 */
static int open_maps(const psum_os_target *t)
{
    char path[64];
    psum_linux_target_proc_path(path, sizeof(path), t, "maps");
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? psum_linux_proc_error(t->pid) : fd;
}

/*
 * The mapping at addr or the next one (only executable ones with
 * VMA_EXECUTABLE), its name in name (PATH_MAX + 64 bytes). 0,
 * PROCSUM_ENOENT when none answers, PROCSUM_ENOSYS when the kernel has no
 * such ioctl, or an error.
 */
static int query(const psum_linux_procmap *pm, long pid, uintptr_t addr, uint64_t flags, char *name, procmap_query *q)
{
    for (;;) {
        *q = (procmap_query){
            .size = sizeof(*q),
            .query_flags = COVERING_OR_NEXT | flags,
            .query_addr = addr,
            .vma_name_size = (uint32_t)sizeof(pm->name),
            .vma_name_addr = (uint64_t)(uintptr_t)name,
        };
        if (ioctl(pm->fd, PROCMAP_QUERY_IOCTL, q) == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno == ENOENT)
            return PROCSUM_ENOENT;
        if (errno == ENOTTY || errno == EINVAL)
            return PROCSUM_ENOSYS;
        if (errno == ESRCH)
            return PROCSUM_ESRCH;
        return psum_linux_proc_error(pid);
    }
}

/* Adds one mapping, found with its name, as the maps line for it would describe it. */
static int push(psum_os_region_list *list, const procmap_query *q, const char *name)
{
    psum_os_region r = {
        .start = (uintptr_t)q->vma_start,
        .end = (uintptr_t)q->vma_end,
        .prot = ((q->vma_flags & VMA_READABLE) ? PSUM_PROT_R : 0u) | ((q->vma_flags & VMA_WRITABLE) ? PSUM_PROT_W : 0u) |
                ((q->vma_flags & VMA_EXECUTABLE) ? PSUM_PROT_X : 0u),
    };
    /* The name's size counts its NUL; 0 means no name at all. */
    size_t len = q->vma_name_size > 0 ? q->vma_name_size - 1 : 0;
    size_t path_len;
    psum_maps_name_fields(&r, &name, len <= PATH_MAX + 63 ? len : 0, &path_len);
    if (r.kind == PROCSUM_REGION_FILE) {
        r.dev = psum_maps_dev(q->dev_major, q->dev_minor);
        r.ino = q->inode;
        r.file_offset = q->vma_offset;
    }
    return psum_os_region_list_push_named(list, &r, name, path_len);
}

static int ranges_add(psum_linux_procmap *pm, uintptr_t start, uintptr_t end)
{
    if (pm->next_count > 0 && pm->next[pm->next_count - 1].end >= start) {
        if (pm->next[pm->next_count - 1].end < end)
            pm->next[pm->next_count - 1].end = end;
        return 0;
    }
    int err = psum_os_table_grow((void **)&pm->next, &pm->next_cap, pm->next_count + 1, sizeof(*pm->next));
    if (err)
        return err;
    pm->next[pm->next_count++] = (range){start, end};
    return 0;
}

/* Whether [start, end) overlaps one of the ranges, from cursor *k on (ascending calls). */
static bool overlaps_kept(const psum_linux_procmap *pm, size_t *k, uintptr_t start, uintptr_t end)
{
    while (*k < pm->count && pm->ranges[*k].end <= start)
        (*k)++;
    return *k < pm->count && pm->ranges[*k].start < end;
}

int psum_linux_procmap_note(psum_linux_procmap *pm, const psum_os_region_list *list)
{
    if (!pm)
        return 0;
    pm->next_count = 0;
    size_t k = 0;
    for (size_t i = 0; i < list->count; i++) {
        const psum_os_region *r = &list->items[i];
        if ((r->prot & PSUM_PROT_X) || overlaps_kept(pm, &k, r->start, r->end)) {
            int err = ranges_add(pm, r->start, r->end);
            if (err) {
                pm->count = 0; /* the next listing then holds all that is executable, no less */
                return err;
            }
        }
    }
    range *swap = pm->ranges;
    size_t cap = pm->cap;
    pm->ranges = pm->next;
    pm->cap = pm->next_cap;
    pm->count = pm->next_count;
    pm->next = swap;
    pm->next_cap = cap;
    pm->next_count = 0;
    return 0;
}

/*
 * The walk: inside a kept range every mapping is listed, outside only
 * executable ones. The next executable mapping found is remembered, so
 * that a kept range that starts with it (the usual case: a range is last
 * pass's executable region) costs no second query.
 */
static int walk(psum_linux_procmap *pm, long pid, psum_os_region_list *list)
{
    uintptr_t addr = 0;
    size_t k = 0;
    procmap_query ahead = {0};
    enum { UNKNOWN, FOUND, NONE } ahead_state = UNKNOWN;
    for (;;) {
        while (k < pm->count && pm->ranges[k].end <= addr)
            k++;
        bool inside = k < pm->count && pm->ranges[k].start <= addr;
        procmap_query q;
        const char *name = pm->name;
        int err;
        if (ahead_state == FOUND && ahead.vma_start < addr)
            ahead_state = UNKNOWN; /* behind us */
        if (inside) {
            if (ahead_state == FOUND && ahead.vma_start == addr) {
                q = ahead;
                name = pm->ahead_name;
            } else {
                err = query(pm, pid, addr, 0, pm->name, &q);
                if (err && err != PROCSUM_ENOENT)
                    return err;
                if (err == PROCSUM_ENOENT || q.vma_start >= pm->ranges[k].end) {
                    addr = pm->ranges[k].end;
                    continue;
                }
            }
        } else {
            uintptr_t limit = k < pm->count ? pm->ranges[k].start : UINTPTR_MAX;
            if (ahead_state == UNKNOWN) {
                err = query(pm, pid, addr, VMA_EXECUTABLE, pm->ahead_name, &ahead);
                if (err && err != PROCSUM_ENOENT)
                    return err;
                ahead_state = err == PROCSUM_ENOENT ? NONE : FOUND;
            }
            if (ahead_state == NONE || ahead.vma_start >= limit) {
                if (k == pm->count)
                    return 0;
                addr = limit;
                continue;
            }
            q = ahead;
            name = pm->ahead_name;
        }
        if (q.vma_end <= addr || q.vma_end <= q.vma_start)
            return PROCSUM_EAGAIN; /* the mappings moved under the walk */
        err = push(list, &q, name);
        if (err)
            return err;
        addr = (uintptr_t)q.vma_end;
    }
}

int psum_linux_procmap_new(psum_linux_procmap **out)
{
    *out = calloc(1, sizeof(**out));
    if (!*out)
        return PROCSUM_ENOMEM;
    (*out)->fd = -1;
    return 0;
}

int psum_linux_procmap_list(psum_os_target *t, psum_linux_procmap **state, psum_os_region_list *list)
{
    if (!*state) {
        int err = psum_linux_procmap_new(state);
        if (err)
            return err;
    }
    psum_linux_procmap *pm = *state;
    if (pm->unsupported)
        return PROCSUM_ENOSYS;
    bool keep = t->pid != 0;
    bool opened_now = pm->fd < 0;
    if (opened_now) {
        int fd = open_maps(t);
        if (fd < 0)
            return fd;
        pm->fd = fd;
    }
    int err = 0;
    /* A walk that meets a change in the middle starts over; a few times at most, then the text decides. */
    for (int attempt = 0; attempt < 4; attempt++) {
        psum_os_region_list_clear(list);
        err = walk(pm, t->pid, list);
        if (err == PROCSUM_ESRCH && !opened_now) {
            /* The address space the kept descriptor was opened on is gone: ask the process's current one. */
            psum_linux_procmap_forget(pm);
            int fd = open_maps(t);
            if (fd < 0)
                return fd;
            pm->fd = fd;
            opened_now = true;
            attempt--;
            continue;
        }
        if (err != PROCSUM_EAGAIN)
            break;
    }
    if (!keep || err)
        psum_linux_procmap_forget(pm);
    if (err == PROCSUM_ENOSYS && list->count == 0)
        pm->unsupported = true; /* an older kernel: not asked again */
    if (err) {
        psum_os_region_list_clear(list);
        return err == PROCSUM_EAGAIN ? PROCSUM_ENOSYS : err;
    }
    return 0;
}
