/* A pass: the state every pass of one checker reuses, and the driver that walks the regions. */
#include "pass.h"

#include <stdlib.h>
#include <string.h>

#include "walk.h"


/* Where the next buffer of `bytes` starts in the scratch mapping, aligned for any of them. */
static void *carve(psum_pass *p, size_t *used, size_t bytes)
{
    void *at = p->scratch ? (uint8_t *)p->scratch + *used : NULL;
    *used += (bytes + 63) / 64 * 64;
    return at;
}

/*
 * Every buffer a pass uses, at its largest (residency flags for
 * PSUM_RESIDENCY_PAGES pages), in one mapping: pages never written take
 * no memory. Measured first (scratch NULL), then mapped and carved.
 */
static int map_scratch(psum_pass *p)
{
    for (int round = 0; round < 2; round++) {
        size_t used = 0;
        p->buf = carve(p, &used, PSUM_SLICE_PAGES * PROCSUM_PAGE_SIZE);
        p->page_digests = carve(p, &used, PSUM_SLICE_PAGES * PROCSUM_MAX_DIGEST);
        p->confirm_page = carve(p, &used, PROCSUM_PAGE_SIZE);
        p->resident = carve(p, &used, PSUM_RESIDENCY_PAGES * sizeof(*p->resident));
        if (p->shared) {
            p->cached = carve(p, &used, PSUM_RESIDENCY_PAGES * sizeof(*p->cached));
            p->frames = carve(p, &used, PSUM_RESIDENCY_PAGES * sizeof(*p->frames));
            p->entries = carve(p, &used, PSUM_SLICE_PAGES * sizeof(*p->entries));
            p->want = carve(p, &used, PSUM_SLICE_PAGES * sizeof(*p->want));
            p->fetch_page = carve(p, &used, PROCSUM_PAGE_SIZE);
        }
        if (round == 0) {
            int err = psum_os_map(used, &p->scratch);
            if (err)
                return err;
            p->scratch_bytes = used;
        }
    }
    p->resident_cap = PSUM_RESIDENCY_PAGES;
    return 0;
}

int psum_pass_init(psum_pass *p, const procsum_options *o, psum_os_target *target, psum_slice_hook hook,
                   void *hook_ctx)
{
    memset(p, 0, sizeof(*p));
    if (!psum_algorithm_valid(o->algorithm))
        return PROCSUM_EINVAL;
    psum_digest_prepare(o->algorithm);
    p->opts = *o;
    p->algo = o->algorithm;
    p->digest_len = psum_digest_len(o->algorithm);
    p->target = target;
    p->hook = hook;
    p->hook_ctx = hook_ctx;
    p->slice_pages = PSUM_SLICE_PAGES;
    p->shared = o->digest_cache;
    if (o->keyed_digests && p->shared) {
        p->key = *psum_digestcache_secret(p->shared); /* digests shared with other checkers: their key */
    } else if (o->keyed_digests) {
        int err = psum_digest_key_random(&p->key, psum_os_random);
        if (err)
            return err;
    }
    p->verify_new_pages = o->verify_file;
    p->note_file_state = true;
    p->files = calloc(1, sizeof(*p->files));
    if (!p->files || map_scratch(p) != 0) {
        psum_pass_free(p);
        return PROCSUM_ENOMEM;
    }
    p->files->target = target;
    p->files->made_in = psum_os_process_id(); /* a forked child's checker is made in its parent */
    return 0;
}

void psum_pass_abandon(psum_pass *p)
{
    /* The key is a secret: do not leave it in freed memory. */
    volatile uint8_t *k = (volatile uint8_t *)&p->key;
    for (size_t i = 0; i < sizeof(p->key); i++)
        k[i] = 0;
    psum_os_unmap(p->scratch, p->scratch_bytes);
    p->scratch = NULL;
    p->scratch_bytes = 0;
    p->buf = p->page_digests = p->confirm_page = p->fetch_page = NULL;
    p->resident = p->cached = p->want = NULL;
    p->frames = NULL;
    p->entries = NULL;
    p->resident_cap = 0;
    psum_os_table_free((void **)&p->prune_index, &p->prune_cap, sizeof(*p->prune_index));
    psum_os_table_free((void **)&p->quiet_stamps, &p->quiet_stamp_cap, sizeof(*p->quiet_stamps));
    p->quiet_stamp_count = 0;
}

void psum_pass_free(psum_pass *p)
{
    psum_pass_abandon(p);
    if (p->files)
        psum_file_cache_free(p->files);
    free(p->files);
    p->files = NULL;
    psum_findings *lists[2] = {&p->changes, &p->file_findings};
    for (int i = 0; i < 2; i++) {
        psum_findings_clear(lists[i]);
        free(lists[i]->addrs);
        free(lists[i]->pages);
        memset(lists[i], 0, sizeof(*lists[i]));
    }
}

const psum_digest_key *psum_pass_key(const psum_pass *p)
{
    return p->opts.keyed_digests ? &p->key : NULL;
}

/* Where the walk stood before a region, to read it again from its start or to forget it. */
typedef struct region_mark {
    size_t page_count, old_cursor, mapped_cursor;
    uint64_t pages_skipped, pages_held, pages_shared, pages_unquiet;
} region_mark;

static region_mark mark_region(const psum_pass *p, const psum_walk *w)
{
    return (region_mark){.page_count = w->out->page_count, .old_cursor = w->old_cursor,
                         .mapped_cursor = w->mapped_cursor, .pages_skipped = p->pages_skipped,
                         .pages_held = p->pages_held, .pages_shared = p->pages_shared,
                         .pages_unquiet = p->pages_unquiet};
}

/* Back to the mark: the region's new baselines, counts and findings undone (the bytes it read stay counted). */
static void rewind_region(psum_pass *p, psum_walk *w, const region_mark *m)
{
    w->out->page_count = m->page_count;
    w->old_cursor = m->old_cursor;
    w->mapped_cursor = m->mapped_cursor;
    p->pages_skipped = m->pages_skipped;
    p->pages_held = m->pages_held;
    p->pages_shared = m->pages_shared;
    p->pages_unquiet = m->pages_unquiet;
    psum_findings_clear(&p->changes);
    psum_findings_clear(&p->file_findings);
}

int psum_snapshot_take(psum_pass *p, const psum_os_region_list *mapped, const psum_snapshot *old,
                       psum_snapshot *out, psum_change_fn on_change, void *userdata)
{
    size_t pages, regions;
    psum_select_size(mapped, &p->opts, &pages, &regions);
    int err = psum_table_prepare(p, old, out, pages, regions);
    if (err)
        return err;
    p->pages_skipped = 0;
    p->pages_held = 0;
    p->pages_shared = 0;
    p->resident_count = 0;
    /* Noted for a quiet pass to stand in for the next one (quiet.c). */
    p->recording = p->quiet_passes && p->shared && !p->opts.include_nonresident ? out : NULL;
    p->record_failed = false;
    p->pages_unquiet = 0;
    int64_t sec;
    long nsec;
    psum_os_wall_time(&sec, &nsec);
    psum_walk w = {.p = p, .mapped = mapped, .old = old, .out = out, .mapped_file_for = SIZE_MAX,
                   .now_ns = sec * 1000000000 + nsec};
    /* The kernel maps [uprobes] into a process the first time one of its uprobes is hit. */
    for (size_t i = 0; i < mapped->count && !w.uprobes_mapped; i++)
        w.uprobes_mapped = mapped->items[i].path && strcmp(mapped->items[i].path, "[uprobes]") == 0;

    for (size_t i = 0; i < mapped->count; i++) {
        const psum_os_region *r = &mapped->items[i];
        if (!psum_region_selected(r, &p->opts))
            continue;
        psum_region_walk rw = {.region = r, .ask_end = psum_residency_span(p, mapped, i)};
        size_t known_files = out->file_count;
        err = psum_table_add_file(out, r, &rw.file);
        if (err) {
            p->recording = NULL;
            psum_snapshot_free(out);
            return err;
        }
        if (out->file_count > known_files && p->note_file_state) {
            psum_file_id *f = &out->files[rw.file];
            f->state_known = psum_file_state(p->files, r, &f->state);
        }
        psum_findings_clear(&p->changes);
        psum_findings_clear(&p->file_findings);
        uint8_t digest[PROCSUM_MAX_DIGEST] = {0};
        bool complete = false;
        region_mark before = mark_region(p, &w);
        err = psum_slices_take_region(&w, &rw, digest, &complete);
        if (err == PSUM_PASS_LOAD_FIRST) {
            /* The region is read again, from its start, once the libraries a report needs are loaded (walk.h). */
            rewind_region(p, &w, &before);
            rw = (psum_region_walk){.region = r, .file = rw.file, .ask_end = rw.ask_end};
            psum_describe_load(p->files->made_in);
            err = psum_slices_take_region(&w, &rw, digest, &complete);
        }
        complete = complete && rw.repaired == 0;
        if (err == PROCSUM_EFAULT) {
            /* Unmapped while we read it: nothing to report; its baselines stay while the file is mapped. */
            rewind_region(p, &w, &before);
            p->record_failed = true;
            p->resident_count = 0; /* the mappings changed: residency is asked again */
            continue;
        }
        if (err) {
            p->recording = NULL;
            psum_snapshot_free(out);
            return err;
        }
        psum_region_baseline *rb = &out->regions[out->region_count++];
        *rb = (psum_region_baseline){
            .start = r->start,
            .end = r->end,
            .dev = r->dev,
            .ino = r->ino,
            .file_offset = r->kind == PROCSUM_REGION_FILE ? r->file_offset : 0,
            .time_ns = w.now_ns,
            .defended = complete && rw.unsettled == 0,
            .complete = complete,
        };
        memcpy(rb->digest, digest, sizeof(digest));
        const psum_region_baseline *was = rw.held ? psum_table_find_region(old, r) : NULL;
        if (rw.held) {
            /* Content held for a second look is not yet the region's: keep the digest being defended. */
            rb->defended = was != NULL;
            if (was) {
                rb->time_ns = was->time_ns;
                memcpy(rb->digest, was->digest, sizeof(rb->digest));
            }
        }
        if (on_change && p->file_findings.count > 0)
            psum_findings_report(&w, &rw, &p->file_findings, PROCSUM_REPORT_DIFFERS_FROM_FILE, digest, complete,
                                 on_change, userdata);
        if (on_change && p->changes.count > 0)
            psum_findings_report(&w, &rw, &p->changes, PROCSUM_REPORT_CHANGED, digest, complete, on_change,
                                 userdata);
    }
    psum_pages_carry_below(&w, 0, true);
    psum_file_cache_close(p->files);
    psum_table_prune_files(p, out);
    out->quiet = p->recording && !p->record_failed && p->pages_unquiet == 0 && p->pages_held == 0;
    out->regions_read = out->quiet ? psum_quiet_regions(mapped, &p->opts) : 0;
    p->recording = NULL;
    p->quiet_stamp_count = 0; /* the stamps were of the pages of the baseline before */
    return 0;
}
