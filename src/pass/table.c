/* A snapshot's tables: pages, regions and files; their memory, kept from pass to pass. */
#include "pass.h"

#include <stdlib.h>
#include <string.h>

#include "walk.h"

void psum_snapshot_free(psum_snapshot *s)
{
    if (!s)
        return;
    free(s->pages);
    free(s->regions);
    free(s->files);
    memset(s, 0, sizeof(*s));
}

void psum_snapshot_recycle(psum_pass *p, psum_snapshot *s)
{
    if (!s)
        return;
    if (s->pages && s->page_cap >= p->spare_cap) {
        free(p->spare);
        p->spare = s->pages;
        p->spare_cap = s->page_cap;
        p->spare_used = s->page_count;
        s->pages = NULL;
    }
    psum_snapshot_free(s);
}

uint64_t psum_table_bytes(const psum_pass *p, const psum_snapshot *s)
{
    uint64_t bytes = (uint64_t)p->spare_used * sizeof(psum_page_baseline);
    if (s)
        bytes += (uint64_t)s->page_count * sizeof(*s->pages) + (uint64_t)s->region_count * sizeof(*s->regions) +
                 (uint64_t)s->file_count * sizeof(*s->files);
    return bytes;
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

int psum_table_prepare(psum_pass *p, const psum_snapshot *old, psum_snapshot *out, size_t pages, size_t regions)
{
    if (old)
        pages += old->page_count;
    memset(out, 0, sizeof(*out));
    /* Built in the table of the snapshot before last: the memory is there already, and stays put. */
    out->pages = p->spare;
    out->page_cap = p->spare_cap;
    p->spare = NULL;
    p->spare_cap = p->spare_used = 0;
    int err = reserve((void **)&out->pages, &out->page_cap, pages + 1, sizeof(*out->pages));
    if (!err)
        err = reserve((void **)&out->regions, &out->region_cap, regions + 1, sizeof(*out->regions));
    /* The files known so far keep their indexes; entry 0 is anonymous memory. */
    size_t files = old && old->file_count > 0 ? old->file_count : 1;
    if (!err)
        err = reserve((void **)&out->files, &out->file_cap, files, sizeof(*out->files));
    if (!err) {
        if (old && old->file_count > 0)
            memcpy(out->files, old->files, files * sizeof(*out->files));
        else
            out->files[0] = (psum_file_id){.dev = 0};
        out->file_count = files;
    }
    if (err)
        psum_snapshot_free(out);
    return err;
}

uint32_t psum_table_find_file(const psum_snapshot *s, const psum_os_region *r)
{
    if (r->kind != PROCSUM_REGION_FILE)
        return 0;
    for (size_t i = 1; i < s->file_count; i++)
        if (s->files[i].dev == r->dev && s->files[i].ino == r->ino)
            return (uint32_t)i;
    return UINT32_MAX;
}

int psum_table_add_file(psum_snapshot *s, const psum_os_region *r, uint32_t *out)
{
    *out = psum_table_find_file(s, r);
    if (*out != UINT32_MAX)
        return 0;
    int err = reserve((void **)&s->files, &s->file_cap, s->file_count + 1, sizeof(*s->files));
    if (err)
        return err;
    s->files[s->file_count] = (psum_file_id){.dev = r->dev, .ino = r->ino};
    *out = (uint32_t)s->file_count++;
    return 0;
}

const psum_region_baseline *psum_table_find_region(const psum_snapshot *old, const psum_os_region *r)
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
    bool same = b->defended && b->start == r->start && b->end == r->end && b->dev == r->dev && b->ino == r->ino &&
                b->file_offset == (r->kind == PROCSUM_REGION_FILE ? r->file_offset : 0);
    return same ? b : NULL;
}

/*
 * Files no page refers to any more (libraries unloaded for good) are dropped
 * once they make up most of the table, and the pages' indexes renumbered:
 * the table stays as small as what is mapped. Memory for it is optional.
 */
void psum_table_prune_files(psum_snapshot *s)
{
    if (s->file_count <= 64)
        return;
    uint32_t *index = calloc(s->file_count, sizeof(*index)); /* new index + 1; 0: unused */
    if (!index)
        return;
    index[0] = 1;
    for (size_t i = 0; i < s->page_count; i++)
        index[s->pages[i].file] = 1;
    size_t live = 0;
    for (size_t f = 0; f < s->file_count; f++)
        live += index[f] != 0;
    if (live * 2 <= s->file_count) {
        live = 0;
        for (size_t f = 0; f < s->file_count; f++) {
            if (index[f]) {
                s->files[live] = s->files[f];
                index[f] = (uint32_t)++live;
            }
        }
        for (size_t i = 0; i < s->page_count; i++)
            s->pages[i].file = index[s->pages[i].file] - 1;
        s->file_count = live;
    }
    free(index);
}
