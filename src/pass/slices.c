/* A region read slice by slice, each slice digested: in one stream, or run by run of resident pages. */
#include "pass.h"

#include "walk.h"

/* A slice of a region, handed to psum_os_use_pages: where, and how to digest it. */
typedef struct slice {
    psum_walk *w;
    psum_region_walk *rw;
    size_t first;              /* index in the region of the slice's first page */
    size_t count;
    psum_region_hasher *whole; /* every page resident: streams the region's digest too */
} slice;

static int take_pages(slice *s, size_t i, size_t j, const uint8_t *bytes)
{
    return psum_pages_take(s->w, s->rw, s->first + i, j - i, s->w->p->page_digests, bytes + i * PROCSUM_PAGE_SIZE);
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
    if (s->whole) {
        psum_region_hasher_pages(s->whole, bytes, s->count, p->page_digests);
        return take_pages(s, 0, s->count, bytes);
    }
    for (size_t i = 0; i < s->count;) {
        if (!p->slice_resident[i]) {
            p->pages_skipped++;
            i++;
            continue;
        }
        size_t j = i;
        while (j < s->count && p->slice_resident[j])
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
    p->resident_count = 0;
    size_t total = (r->end - r->start) / PROCSUM_PAGE_SIZE;
    for (size_t done = 0; done < total;) {
        int err = p->hook ? p->hook(p->hook_ctx) : 0;
        if (err)
            return err;
        size_t n = total - done < p->slice_pages ? total - done : p->slice_pages;
        uintptr_t base = r->start + done * PROCSUM_PAGE_SIZE;
        size_t resident = psum_residency_mark(p, base, n, r->end);
        streaming = streaming && resident == n;
        if (resident > 0) {
            slice s = {.w = w, .rw = rw, .first = done, .count = n, .whole = streaming ? &h : NULL};
            err = psum_os_use_pages(p->target, r, base, n, streaming ? NULL : p->slice_resident, p->buf,
                                    digest_slice, &s);
            if (err)
                return err;
            p->bytes_read += (uint64_t)resident * PROCSUM_PAGE_SIZE;
        } else {
            p->pages_skipped += n;
        }
        done += n;
    }
    *complete = streaming;
    if (streaming)
        psum_region_hasher_final(&h, region_digest);
    return 0;
}
