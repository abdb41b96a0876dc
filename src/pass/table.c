/*
 * A snapshot's tables: pages, regions and files; their memory, kept from
 * pass to pass. Each pass builds its snapshot in the tables of the one
 * before last, so a pass over what the last one saw allocates nothing.
 * The tables are mapped (psum_os_table_grow), never the program's
 * allocator's: a forked child's checker grows and frees them safely.
 */
#include "pass.h"

#include <string.h>

#include "walk.h"

void psum_snapshot_free(psum_snapshot *s)
{
    if (!s)
        return;
    psum_os_table_free((void **)&s->pages, &s->page_cap, sizeof(*s->pages));
    psum_os_table_free((void **)&s->regions, &s->region_cap, sizeof(*s->regions));
    psum_os_table_free((void **)&s->files, &s->file_cap, sizeof(*s->files));
    psum_os_table_free((void **)&s->asks, &s->ask_cap, sizeof(*s->asks));
    psum_os_table_free((void **)&s->entries, &s->entry_cap, sizeof(*s->entries));
    memset(s, 0, sizeof(*s));
}

uint64_t psum_table_bytes(const psum_snapshot *s, const psum_snapshot *spare)
{
    uint64_t bytes = spare ? (uint64_t)spare->page_count * sizeof(psum_page_baseline) : 0;
    if (s)
        bytes += (uint64_t)s->page_count * sizeof(*s->pages) + (uint64_t)s->region_count * sizeof(*s->regions) +
                 (uint64_t)s->file_count * sizeof(*s->files) + (uint64_t)s->ask_count * sizeof(*s->asks) +
                 (uint64_t)s->entry_count * sizeof(*s->entries);
    return bytes;
}

int psum_table_prepare(psum_pass *p, const psum_snapshot *old, psum_snapshot *out, size_t pages, size_t regions)
{
    (void)p;
    if (old)
        pages += old->page_count;
    /* Built in the tables out already has (the snapshot before last's): the memory is there, and stays put. */
    out->page_count = out->region_count = out->file_count = 0;
    out->ask_count = out->entry_count = 0;
    out->quiet = false;
    int err = psum_os_table_grow((void **)&out->pages, &out->page_cap, pages + 1, sizeof(*out->pages));
    if (!err)
        err = psum_os_table_grow((void **)&out->regions, &out->region_cap, regions + 1, sizeof(*out->regions));
    /* The files known so far keep their indexes; entry 0 is anonymous memory. */
    size_t files = old && old->file_count > 0 ? old->file_count : 1;
    if (!err)
        err = psum_os_table_grow((void **)&out->files, &out->file_cap, files, sizeof(*out->files));
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
    int err = psum_os_table_grow((void **)&s->files, &s->file_cap, s->file_count + 1, sizeof(*s->files));
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
void psum_table_prune_files(psum_pass *p, psum_snapshot *s)
{
    if (s->file_count <= 64)
        return;
    if (psum_os_table_grow((void **)&p->prune_index, &p->prune_cap, s->file_count, sizeof(*p->prune_index)) != 0)
        return;
    uint32_t *index = p->prune_index; /* new index + 1; 0: unused */
    memset(index, 0, s->file_count * sizeof(*index));
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
}
