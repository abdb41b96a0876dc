/*
 * A region read slice by slice, each slice digested: in one stream, or run
 * by run of resident pages. With a digest cache, the page-cache pages of a
 * slice are looked up first, and those another checker hashed less than a
 * period ago are not read: they are holes in the stream, as pages not in
 * memory are, and take the cache's digest. What this checker reads of them
 * is published for the others after the slice.
 */
#include "pass.h"

#include <string.h>

#include "walk.h"

/* A slice of a region, handed to psum_os_use_pages: where, and how to digest it. */
typedef struct slice {
    psum_walk *w;
    psum_region_walk *rw;
    size_t first;              /* index in the region of the slice's first page */
    size_t count;
    psum_region_hasher *whole; /* every page resident: streams the region's digest too */
    const bool *read;          /* the pages to read: resident, and not taken from the cache */
    const bool *cached;        /* page-cache pages with a cache entry (NULL: none) */
    uint64_t read_ns;          /* when the slice was read */
} slice;

static int take_pages(slice *s, size_t i, size_t j, const uint8_t *bytes)
{
    psum_pass *p = s->w->p;
    if (!s->cached)
        return psum_pages_take(s->w, s->rw, s->first + i, j - i, p->page_digests, bytes + i * PROCSUM_PAGE_SIZE);
    for (size_t k = i; k < j; k++) {
        const uint8_t *digest = p->page_digests + (k - i) * p->digest_len;
        psum_digestcache_entry *e = s->cached[k] ? &p->entries[k] : NULL;
        if (e) {
            memcpy(e->digest, digest, p->digest_len);
            e->flags = 0;
            e->read_ns = s->read_ns;
            e->publish = true;
        }
        int err = psum_pages_take_shared(s->w, s->rw, s->first + k, digest, bytes + k * PROCSUM_PAGE_SIZE, e);
        if (err)
            return err;
    }
    return 0;
}

/*
 * Digests the slice: in one stream with the region's digest while every
 * page so far was resident, or else run by run of resident pages, each page
 * digested at its own position, so that no page the process does not have
 * in memory is ever touched.
 */
static int digest_slice(void *ctx, const uint8_t *bytes)
{
    slice *s = ctx;
    psum_pass *p = s->w->p;
    s->rw->slice_listed = 0; /* asked again, if a page settles, now that this slice has been read */
    if (s->whole) {
        psum_region_hasher_pages(s->whole, bytes, s->count, p->page_digests);
        return take_pages(s, 0, s->count, bytes);
    }
    for (size_t i = 0; i < s->count;) {
        if (s->cached && p->entries[i].found) {
            p->pages_shared++;
            int err = psum_pages_take_shared(s->w, s->rw, s->first + i, p->entries[i].digest, NULL, &p->entries[i]);
            if (err)
                return err;
            i++;
            continue;
        }
        if (!s->read[i]) {
            p->pages_skipped++;
            i++;
            continue;
        }
        size_t j = i;
        while (j < s->count && s->read[j])
            j++;
        psum_pages_digest_at(p->algo, psum_pass_key(p), bytes + i * PROCSUM_PAGE_SIZE, j - i, s->first + i,
                             p->page_digests);
        int err = take_pages(s, i, j, bytes);
        if (err)
            return err;
        i = j;
    }
    return 0;
}

/*
 * With a digest cache: the slice's page-cache pages get their key, and
 * those found in the cache are left out of the pages to read (p->want).
 * Returns how many were found; s->cached stays NULL when the region has
 * none to share (not a file).
 */
static size_t look_up(psum_pass *p, const psum_os_region *r, uintptr_t base, slice *s)
{
    if (!p->shared || r->kind != PROCSUM_REGION_FILE)
        return 0;
    size_t from = (base - p->resident_base) / PROCSUM_PAGE_SIZE;
    const bool *cached = p->cached + from;
    uint64_t first_page = (r->file_offset + (base - r->start)) / PROCSUM_PAGE_SIZE;
    bool any = false;
    for (size_t k = 0; k < s->count; k++) {
        bool shared = cached[k] && p->slice_resident[k];
        p->entries[k] = (psum_digestcache_entry){
            .key = {.dev = r->dev, .ino = r->ino, .file_page = first_page + k, .frame = p->frames[from + k],
                    .index = (uint32_t)(s->first + k)},
        };
        p->want[k] = shared; /* asked for, for now */
        any = any || shared;
    }
    if (!any)
        return 0;
    s->cached = cached;
    psum_digestcache_lookup(p->shared, p->entries, p->want, s->count, s->read_ns);
    size_t found = 0;
    for (size_t k = 0; k < s->count; k++) {
        found += p->entries[k].found;
        p->want[k] = p->slice_resident[k] && !p->entries[k].found;
    }
    s->read = p->want;
    return found;
}

/*
 * Hashes one region slice by slice. Returns 0, a fatal error, or
 * PROCSUM_EFAULT when the region vanished under us (the caller drops it).
 * *complete tells whether every page was read, and so whether region_digest
 * is the region's digest.
 */
int psum_slices_take_region(psum_walk *w, psum_region_walk *rw, uint8_t *region_digest, bool *complete)
{
    psum_pass *p = w->p;
    const psum_os_region *r = rw->region;
    psum_region_hasher h;
    psum_region_hasher_init_keyed(&h, p->algo, psum_pass_key(p));
    bool streaming = true; /* every page so far was read, in order, through h */
    size_t total = (r->end - r->start) / PROCSUM_PAGE_SIZE;
    for (size_t done = 0; done < total;) {
        /*
         * Between slices, before the region's first and before each that
         * reads something: most of a large library is not in memory, and
         * a slice of it with nothing to read takes no time to pass over, so
         * no stop or fork waits for it. The region's residency is asked
         * after the first call, as a CPU budget may sleep there.
         */
        int err = p->hook && done == 0 ? p->hook(p->hook_ctx) : 0;
        if (err)
            return err;
        size_t n = total - done < p->slice_pages ? total - done : p->slice_pages;
        uintptr_t base = r->start + done * PROCSUM_PAGE_SIZE;
        size_t resident = psum_residency_mark(p, base, n, rw->ask_end);
        err = p->hook && done > 0 && resident > 0 ? p->hook(p->hook_ctx) : 0;
        if (err)
            return err;
        /* The read time only dates what is published in the digest cache. */
        slice s = {.w = w, .rw = rw, .first = done, .count = n, .read = p->slice_resident,
                   .read_ns = p->shared ? psum_os_monotonic_ns() : 0};
        size_t found = look_up(p, r, base, &s);
        streaming = streaming && resident == n && found == 0;
        s.whole = streaming ? &h : NULL;
        if (resident > found) {
            psum_pages_prefetch(w, resident - found);
            err = psum_os_use_pages(p->target, r, base, n, streaming ? NULL : s.read, p->buf, digest_slice, &s);
            p->bytes_read += (uint64_t)(resident - found) * PROCSUM_PAGE_SIZE;
        } else if (resident > 0) {
            err = digest_slice(&s, NULL); /* every resident page from the cache: nothing to read */
        } else {
            p->pages_skipped += n;
        }
        if (s.cached)
            psum_digestcache_publish(p->shared, p->entries, n);
        if (err)
            return err;
        done += n;
    }
    *complete = streaming;
    if (streaming)
        psum_region_hasher_final(&h, region_digest);
    return 0;
}
