/* Reading, hashing and comparing pages against their baselines. */
#include "snapshot.h"

#include <stdlib.h>
#include <string.h>

/* 256 KiB: large enough for wide hashing, small enough to stay in L2 and to honour a stop promptly. */
#define SLICE_PAGES 64

void psum_snapshot_free(psum_snapshot *s)
{
    if (!s)
        return;
    free(s->pages);
    free(s->regions);
    memset(s, 0, sizeof(*s));
}

int psum_pass_init(psum_pass *p, procsum_algorithm algo, psum_os_target *target, psum_os_event *stop)
{
    memset(p, 0, sizeof(*p));
    if (!psum_algorithm_valid(algo))
        return PROCSUM_EINVAL;
    p->algo = algo;
    p->digest_len = psum_digest_len(algo);
    p->target = target;
    p->stop = stop;
    p->slice_pages = SLICE_PAGES;
    p->buf = malloc(SLICE_PAGES * PROCSUM_PAGE_SIZE);
    p->page_digests = malloc(SLICE_PAGES * PROCSUM_MAX_DIGEST);
    if (!p->buf || !p->page_digests) {
        psum_pass_free(p);
        return PROCSUM_ENOMEM;
    }
    return 0;
}

void psum_pass_free(psum_pass *p)
{
    free(p->buf);
    free(p->page_digests);
    free(p->changed);
    p->buf = p->page_digests = NULL;
    p->changed = NULL;
    p->changed_cap = 0;
}

static bool selected(const psum_os_region *r, const procsum_options *o)
{
    /* Execute-only memory ([vsyscall], --x mappings) cannot be read, so it is never touched. */
    if (!(r->prot & PSUM_PROT_R) || !(r->prot & PSUM_PROT_X))
        return false;
    if ((r->prot & PSUM_PROT_W) && !o->include_writable_code)
        return false;
    if (o->skip_libs && !r->main_executable)
        return false;
    /* Bounds not on page boundaries never come from a kernel; refuse rather than misread. */
    return r->start % PROCSUM_PAGE_SIZE == 0 && r->end % PROCSUM_PAGE_SIZE == 0 && r->end > r->start;
}

void psum_regions_select(psum_os_region_list *list, const procsum_options *o)
{
    size_t kept = 0;
    for (size_t i = 0; i < list->count; i++) {
        if (selected(&list->items[i], o))
            list->items[kept++] = list->items[i];
        else
            free(list->items[i].path);
    }
    list->count = kept;
}

static int reserve(void **items, size_t *cap, size_t want, size_t item_size)
{
    if (want <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < want)
        n *= 2;
    void *grown = realloc(*items, n * item_size);
    if (!grown)
        return PROCSUM_ENOMEM;
    *items = grown;
    *cap = n;
    return 0;
}

static uint64_t page_file_offset(const psum_os_region *r, uintptr_t addr)
{
    return r->kind == PROCSUM_REGION_FILE ? r->file_offset + (addr - r->start) : 0;
}

static const psum_region_baseline *find_region(const psum_snapshot *old, const psum_os_region *r)
{
    if (!old)
        return NULL;
    size_t lo = 0, hi = old->region_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (old->regions[mid].start < r->start)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == old->region_count)
        return NULL;
    const psum_region_baseline *b = &old->regions[lo];
    bool same = b->start == r->start && b->end == r->end && b->dev == r->dev && b->ino == r->ino &&
                b->file_offset == (r->kind == PROCSUM_REGION_FILE ? r->file_offset : 0);
    return same ? b : NULL;
}

/* Everything the comparison of one region needs to carry between slices. */
typedef struct region_walk {
    const psum_os_region *region;
    size_t changed;
    uint8_t first_old[PROCSUM_MAX_DIGEST], first_new[PROCSUM_MAX_DIGEST];
    int64_t first_old_time;
} region_walk;

static int note_change(psum_pass *p, region_walk *w, uintptr_t addr, const psum_page_baseline *was,
                       const uint8_t *now)
{
    if (w->changed == p->changed_cap) {
        size_t cap = p->changed_cap ? p->changed_cap * 2 : 16;
        uintptr_t *grown = realloc(p->changed, cap * sizeof(*grown));
        if (!grown)
            return PROCSUM_ENOMEM;
        p->changed = grown;
        p->changed_cap = cap;
    }
    if (w->changed == 0) {
        memcpy(w->first_old, was->digest, p->digest_len);
        memcpy(w->first_new, now, p->digest_len);
        w->first_old_time = was->time_ns;
    }
    p->changed[w->changed++] = addr;
    return 0;
}

/*
 * Compares one freshly hashed page with its baseline. The cursor walks the
 * old pages in step with the new ones, since both ascend by address.
 */
static int compare_page(psum_pass *p, region_walk *w, const psum_snapshot *old, size_t *cursor,
                        const psum_page_baseline *now, const uint8_t *bytes)
{
    if (!old)
        return 0;
    while (*cursor < old->page_count && old->pages[*cursor].addr < now->addr)
        (*cursor)++;
    if (*cursor == old->page_count)
        return 0;
    const psum_page_baseline *was = &old->pages[*cursor];
    if (was->addr != now->addr || was->dev != now->dev || was->ino != now->ino ||
        was->file_offset != now->file_offset)
        return 0; /* a new page, or other content mapped here now: it joins silently */
    if (was->index == now->index)
        return memcmp(was->digest, now->digest, p->digest_len) == 0 ? 0 : note_change(p, w, now->addr, was, now->digest);
    /* The region's bounds moved: digest the page at its old position to compare like with like. */
    uint8_t at_old[PROCSUM_MAX_DIGEST];
    psum_page_digest_at(p->algo, bytes, was->index, at_old);
    if (memcmp(was->digest, at_old, p->digest_len) == 0)
        return 0;
    return note_change(p, w, now->addr, was, now->digest);
}

static bool stop_requested(const psum_pass *p)
{
    return p->stop && psum_os_event_is_set(p->stop);
}

/*
 * Hashes one region slice by slice. Returns 0, a fatal error, or
 * PROCSUM_EFAULT when the region vanished under us (the caller drops it).
 */
static int take_region(psum_pass *p, const psum_os_region *r, const psum_snapshot *old, size_t *cursor,
                       psum_snapshot *out, region_walk *w, int64_t now_ns, uint8_t *region_digest)
{
    psum_region_hasher h;
    psum_region_hasher_init(&h, p->algo);
    size_t total = (r->end - r->start) / PROCSUM_PAGE_SIZE;
    for (size_t done = 0; done < total;) {
        if (stop_requested(p))
            return PROCSUM_ECANCELED;
        size_t n = total - done < p->slice_pages ? total - done : p->slice_pages;
        uintptr_t base = r->start + done * PROCSUM_PAGE_SIZE;
        int err = psum_os_read(p->target, base, p->buf, n * PROCSUM_PAGE_SIZE);
        if (err)
            return err;
        p->bytes_read += (uint64_t)n * PROCSUM_PAGE_SIZE;
        psum_region_hasher_pages(&h, p->buf, n, p->page_digests);
        for (size_t i = 0; i < n; i++) {
            psum_page_baseline *pg = &out->pages[out->page_count++];
            pg->addr = base + i * PROCSUM_PAGE_SIZE;
            pg->dev = r->dev;
            pg->ino = r->ino;
            pg->file_offset = page_file_offset(r, pg->addr);
            pg->time_ns = now_ns;
            pg->index = (uint32_t)(done + i);
            memset(pg->digest, 0, sizeof(pg->digest));
            memcpy(pg->digest, p->page_digests + i * p->digest_len, p->digest_len);
            err = compare_page(p, w, old, cursor, pg, p->buf + i * PROCSUM_PAGE_SIZE);
            if (err)
                return err;
        }
        done += n;
    }
    psum_region_hasher_final(&h, region_digest);
    return 0;
}

static size_t total_pages(const psum_os_region_list *regions)
{
    size_t n = 0;
    for (size_t i = 0; i < regions->count; i++)
        n += (regions->items[i].end - regions->items[i].start) / PROCSUM_PAGE_SIZE;
    return n;
}

int psum_snapshot_take(psum_pass *p, const psum_os_region_list *regions, const psum_snapshot *old,
                       psum_snapshot *out, psum_change_fn on_change, void *userdata)
{
    memset(out, 0, sizeof(*out));
    int err = reserve((void **)&out->pages, &out->page_cap, total_pages(regions) + 1, sizeof(*out->pages));
    if (!err)
        err = reserve((void **)&out->regions, &out->region_cap, regions->count + 1, sizeof(*out->regions));
    if (err) {
        psum_snapshot_free(out);
        return err;
    }
    int64_t sec;
    long nsec;
    psum_os_wall_time(&sec, &nsec);
    int64_t now_ns = sec * 1000000000 + nsec;
    size_t cursor = 0;

    for (size_t i = 0; i < regions->count; i++) {
        const psum_os_region *r = &regions->items[i];
        region_walk w = {.region = r};
        uint8_t digest[PROCSUM_MAX_DIGEST] = {0};
        size_t first_page = out->page_count;
        err = take_region(p, r, old, &cursor, out, &w, now_ns, digest);
        if (err == PROCSUM_EFAULT) {
            /* Unmapped while we read it: it left, with nothing to report. */
            out->page_count = first_page;
            continue;
        }
        if (err) {
            psum_snapshot_free(out);
            return err;
        }
        psum_region_baseline *rb = &out->regions[out->region_count++];
        rb->start = r->start;
        rb->end = r->end;
        rb->dev = r->dev;
        rb->ino = r->ino;
        rb->file_offset = r->kind == PROCSUM_REGION_FILE ? r->file_offset : 0;
        rb->time_ns = now_ns;
        memcpy(rb->digest, digest, sizeof(digest));

        if (w.changed > 0 && on_change) {
            const psum_region_baseline *was = find_region(old, r);
            psum_change ch = {
                .region = r,
                .pages = p->changed,
                .page_count = w.changed,
                .old_digest = was ? was->digest : w.first_old,
                .new_digest = was ? rb->digest : w.first_new,
                .region_digest = rb->digest,
                .digest_is_page = was == NULL,
                .old_time_ns = was ? was->time_ns : w.first_old_time,
            };
            on_change(&ch, userdata);
        }
    }
    return 0;
}
