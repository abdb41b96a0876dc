/* Reading, hashing and comparing pages against their baselines. */
#include "snapshot.h"

#include <stdlib.h>
#include <string.h>

/* 256 KiB: large enough for wide hashing, small enough to stay in L2 and to honour a stop promptly. */
#define SLICE_PAGES 64
/* Residency is asked for this many pages at once (8 KiB of pagemap): one system call per 16 slices. */
#define RESIDENCY_PAGES 1024

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

int psum_pass_init(psum_pass *p, const procsum_options *o, psum_os_target *target, psum_slice_hook hook,
                   void *hook_ctx)
{
    memset(p, 0, sizeof(*p));
    if (!psum_algorithm_valid(o->algorithm))
        return PROCSUM_EINVAL;
    p->opts = *o;
    p->algo = o->algorithm;
    p->digest_len = psum_digest_len(o->algorithm);
    p->target = target;
    p->hook = hook;
    p->hook_ctx = hook_ctx;
    p->slice_pages = SLICE_PAGES;
    if (o->keyed_digests) {
        int err = psum_digest_key_random(&p->key, psum_os_random);
        if (err)
            return err;
    }
    p->buf = malloc(SLICE_PAGES * PROCSUM_PAGE_SIZE);
    p->page_digests = malloc(SLICE_PAGES * PROCSUM_MAX_DIGEST);
    p->resident = malloc(RESIDENCY_PAGES * sizeof(*p->resident));
    p->files = calloc(1, sizeof(*p->files));
    p->verify_new_pages = o->verify_file;
    if (!p->buf || !p->page_digests || !p->resident || !p->files) {
        psum_pass_free(p);
        return PROCSUM_ENOMEM;
    }
    return 0;
}

void psum_pass_free(psum_pass *p)
{
    /* The key is a secret: do not leave it in freed memory. */
    volatile uint8_t *k = (volatile uint8_t *)&p->key;
    for (size_t i = 0; i < sizeof(p->key); i++)
        k[i] = 0;
    free(p->buf);
    free(p->page_digests);
    free(p->resident);
    p->resident = NULL;
    if (p->files)
        psum_file_cache_close(p->files);
    free(p->files);
    p->files = NULL;
    psum_findings *lists[2] = {&p->changes, &p->file_findings};
    for (int i = 0; i < 2; i++) {
        free(lists[i]->addrs);
        free(lists[i]->pages);
        memset(lists[i], 0, sizeof(*lists[i]));
    }
    p->buf = p->page_digests = NULL;
    free(p->spare);
    p->spare = NULL;
    p->spare_cap = p->spare_used = 0;
}

bool psum_region_selected(const psum_os_region *r, const procsum_options *o)
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

static const psum_digest_key *pass_key(const psum_pass *p)
{
    return p->opts.keyed_digests ? &p->key : NULL;
}

static uint32_t page_in_file(const psum_os_region *r, uintptr_t addr)
{
    return r->kind == PROCSUM_REGION_FILE ? (uint32_t)((r->file_offset + (addr - r->start)) / PROCSUM_PAGE_SIZE) : 0;
}

/* The index of r's file in s->files; 0 for anonymous memory, UINT32_MAX for a file not in the table. */
static uint32_t find_file(const psum_snapshot *s, const psum_os_region *r)
{
    if (r->kind != PROCSUM_REGION_FILE)
        return 0;
    for (size_t i = 1; i < s->file_count; i++)
        if (s->files[i].dev == r->dev && s->files[i].ino == r->ino)
            return (uint32_t)i;
    return UINT32_MAX;
}

/* The same, adding r's file if it is new. */
static int file_index(psum_snapshot *s, const psum_os_region *r, uint32_t *out)
{
    *out = find_file(s, r);
    if (*out != UINT32_MAX)
        return 0;
    int err = reserve((void **)&s->files, &s->file_cap, s->file_count + 1, sizeof(*s->files));
    if (err)
        return err;
    s->files[s->file_count] = (psum_file_id){r->dev, r->ino};
    *out = (uint32_t)s->file_count++;
    return 0;
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
    bool same = b->defended && b->start == r->start && b->end == r->end && b->dev == r->dev && b->ino == r->ino &&
                b->file_offset == (r->kind == PROCSUM_REGION_FILE ? r->file_offset : 0);
    return same ? b : NULL;
}

/*
 * The state of one pass. Old pages, new pages and mappings all ascend by
 * address, so one cursor into each is enough: no lookups, no hash table.
 */
typedef struct walk {
    psum_pass *p;
    const psum_os_region_list *mapped;
    const psum_snapshot *old;
    psum_snapshot *out;
    size_t old_cursor;
    size_t mapped_cursor;
    size_t mapped_file_for; /* the mapped_cursor mapped_file was found for */
    uint32_t mapped_file;
    int64_t now_ns;
} walk;

/* Everything the comparison of one region carries between slices. */
typedef struct region_walk {
    const psum_os_region *region;
    uint32_t file;    /* the region's file: its index in the new snapshot's files */
    size_t held;      /* pages whose differing content waits for a second look */
    size_t unsettled; /* pages without a settled baseline */
    size_t repaired;  /* pages written back from their file */
} region_walk;

static bool still_mapped(walk *w, const psum_page_baseline *pg)
{
    const psum_os_region_list *m = w->mapped;
    while (w->mapped_cursor < m->count && m->items[w->mapped_cursor].end <= pg->addr)
        w->mapped_cursor++;
    if (w->mapped_cursor == m->count)
        return false;
    const psum_os_region *r = &m->items[w->mapped_cursor];
    if (r->start > pg->addr)
        return false;
    if (w->mapped_file_for != w->mapped_cursor) {
        w->mapped_file = find_file(w->out, r);
        w->mapped_file_for = w->mapped_cursor;
    }
    return pg->file == w->mapped_file && pg->file_page == page_in_file(r, pg->addr);
}

/* Old pages below addr were not read this pass: keep those whose file page is still mapped there. */
static void carry_below(walk *w, uintptr_t addr, bool all)
{
    const psum_snapshot *old = w->old;
    if (!old)
        return;
    while (w->old_cursor < old->page_count && (all || old->pages[w->old_cursor].addr < addr)) {
        const psum_page_baseline *pg = &old->pages[w->old_cursor++];
        if (still_mapped(w, pg))
            w->out->pages[w->out->page_count++] = *pg;
    }
}

/* Appends a page to a list of findings; the first one's digests and time are kept for the report. */
static procsum_page_change *add_finding(psum_findings *f, uintptr_t addr, const uint8_t *old_digest,
                                        const uint8_t *new_digest, size_t digest_len, int64_t old_time)
{
    if (f->count == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        uintptr_t *addrs = realloc(f->addrs, cap * sizeof(*addrs));
        if (!addrs)
            return NULL;
        f->addrs = addrs;
        procsum_page_change *pages = realloc(f->pages, cap * sizeof(*pages));
        if (!pages)
            return NULL;
        f->pages = pages;
        f->cap = cap;
    }
    if (f->count == 0) {
        memcpy(f->first_old, old_digest, digest_len);
        memcpy(f->first_new, new_digest, digest_len);
        f->first_old_time = old_time;
    }
    f->addrs[f->count] = addr;
    return &f->pages[f->count++];
}

/*
 * Writes the file's bytes back over a changed page and makes them its
 * baseline. Only where the file is the one mapped; the region's digest of
 * this pass no longer holds, so the region is counted as repaired.
 */
static void repair_page(walk *w, region_walk *rw, psum_page_baseline *now, procsum_page_change *pc)
{
    psum_pass *p = w->p;
    if (!p->opts.repair || pc->file_status != PROCSUM_FILE_COMPARED || pc->verdict == PROCSUM_VERDICT_RESTORED)
        return;
    if (psum_os_write(p->target, now->addr, p->files->page, PROCSUM_PAGE_SIZE) != 0)
        return;
    pc->repaired = true;
    rw->repaired++;
    psum_page_digest_at_keyed(p->algo, pass_key(p), p->files->page, now->index, now->digest);
}

/* A change seen twice: describe it against the file, repair it if asked. */
static int note_change(walk *w, region_walk *rw, psum_page_baseline *now, const psum_page_baseline *was,
                       const uint8_t *bytes)
{
    psum_pass *p = w->p;
    procsum_page_change *pc =
        add_finding(&p->changes, now->addr, was->digest, now->digest, p->digest_len, was->time_ns);
    if (!pc)
        return PROCSUM_ENOMEM;
    psum_describe_page(p->files, rw->region, now->addr, bytes, pc);
    repair_page(w, rw, now, pc);
    return 0;
}

/*
 * A page gets its baseline: with verify_file, compare it with its file, and
 * report it once if it already differs (a hook installed before procsum
 * started, a breakpoint, a text relocation).
 */
static int verify_new_page(walk *w, region_walk *rw, const psum_page_baseline *now, const uint8_t *bytes)
{
    psum_pass *p = w->p;
    if (!p->verify_new_pages || rw->region->kind != PROCSUM_REGION_FILE)
        return 0;
    if (psum_file_page(p->files, rw->region, now->addr) != PROCSUM_FILE_COMPARED ||
        memcmp(p->files->page, bytes, PROCSUM_PAGE_SIZE) == 0)
        return 0;
    uint8_t file_digest[PROCSUM_MAX_DIGEST];
    psum_page_digest_at_keyed(p->algo, pass_key(p), p->files->page, now->index, file_digest);
    procsum_page_change *pc =
        add_finding(&p->file_findings, now->addr, file_digest, now->digest, p->digest_len, now->time_ns);
    if (!pc)
        return PROCSUM_ENOMEM;
    psum_describe_page(p->files, rw->region, now->addr, bytes, pc);
    return 0;
}

/* Whether `bytes` still hash to the baseline, digested at the baseline's position in its region. */
static bool matches_baseline(const psum_pass *p, const psum_page_baseline *was, const psum_page_baseline *now,
                             const uint8_t *bytes)
{
    if (was->index == now->index)
        return memcmp(was->digest, now->digest, p->digest_len) == 0;
    /* The region's bounds moved: digest the page at its old position to compare like with like. */
    uint8_t at_old[PROCSUM_MAX_DIGEST];
    psum_page_digest_at_keyed(p->algo, pass_key(p), bytes, was->index, at_old);
    return memcmp(was->digest, at_old, p->digest_len) == 0;
}

static uint32_t digest_tag(const uint8_t *digest)
{
    uint32_t tag;
    memcpy(&tag, digest, sizeof(tag));
    return tag;
}

/* Compares a freshly hashed page with its baseline, if it has one, and moves it through psum_page_state. */
static int compare_page(walk *w, region_walk *rw, psum_page_baseline *now, const uint8_t *bytes)
{
    const psum_snapshot *old = w->old;
    /* Pages of the very first pass are the program as started: settled at once. */
    now->state = old == NULL ? PSUM_PAGE_SETTLED : PSUM_PAGE_TENTATIVE;
    carry_below(w, now->addr, false);
    if (!old || w->old_cursor == old->page_count || old->pages[w->old_cursor].addr != now->addr)
        return old == NULL ? verify_new_page(w, rw, now, bytes) : 0;
    const psum_page_baseline *was = &old->pages[w->old_cursor++];
    if (was->file != now->file || was->file_page != now->file_page)
        return 0; /* other content is mapped here now: it joins silently */
    psum_pass *p = w->p;
    if (matches_baseline(p, was, now, bytes)) {
        now->state = PSUM_PAGE_SETTLED;
        return was->state == PSUM_PAGE_TENTATIVE ? verify_new_page(w, rw, now, bytes) : 0;
    }
    if (was->state == PSUM_PAGE_TENTATIVE)
        return 0; /* still being written: the new content starts over as tentative */
    uint32_t tag = digest_tag(now->digest);
    bool seen_before = was->state == PSUM_PAGE_SUSPECT && was->suspect_index == now->index && was->suspect_tag == tag;
    if (!seen_before) {
        /* Keep defending the old content until the next pass says whether this one stays. */
        uint32_t index = now->index;
        *now = *was;
        now->state = PSUM_PAGE_SUSPECT;
        now->suspect_index = index;
        now->suspect_tag = tag;
        rw->held++;
        p->pages_held++;
        return 0;
    }
    now->state = PSUM_PAGE_SETTLED;
    return note_change(w, rw, now, was, bytes);
}

/* Records one hashed page, compared with its baseline, in the new snapshot. */
static int take_page(walk *w, region_walk *rw, size_t index, const uint8_t *digest, const uint8_t *bytes)
{
    const psum_os_region *r = rw->region;
    psum_page_baseline pg = {
        .addr = r->start + index * PROCSUM_PAGE_SIZE,
        .time_ns = w->now_ns,
        .file = rw->file,
        .index = (uint32_t)index,
    };
    pg.file_page = page_in_file(r, pg.addr);
    memcpy(pg.digest, digest, w->p->digest_len);
    int err = compare_page(w, rw, &pg, bytes);
    if (err)
        return err;
    if (pg.state == PSUM_PAGE_TENTATIVE)
        rw->unsettled++;
    w->out->pages[w->out->page_count++] = pg;
    return 0;
}

/*
 * Points p->slice_resident at the flags telling which of the n pages from
 * base to read: all of them, or those in memory. Residency is asked ahead
 * for up to RESIDENCY_PAGES pages of the region (it ends at `end`): a page
 * that leaves memory within those few milliseconds is read all the same.
 * Returns how many pages to read.
 */
static size_t mark_resident(psum_pass *p, uintptr_t base, size_t n, uintptr_t end)
{
    bool have = p->resident_count > 0 && base >= p->resident_base &&
                (base - p->resident_base) / PROCSUM_PAGE_SIZE + n <= p->resident_count;
    if (!have) {
        size_t ahead = (end - base) / PROCSUM_PAGE_SIZE;
        ahead = ahead < RESIDENCY_PAGES ? ahead : RESIDENCY_PAGES;
        p->resident_base = base;
        p->resident_count = ahead;
        if (p->opts.include_nonresident || psum_os_resident(p->target, base, ahead, p->resident) != 0) {
            for (size_t i = 0; i < ahead; i++)
                p->resident[i] = true;
        }
    }
    const bool *flags = p->resident + (base - p->resident_base) / PROCSUM_PAGE_SIZE;
    p->slice_resident = flags;
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += flags[i];
    return count;
}

/* A slice of a region, handed to psum_os_use_pages: where, and how to digest it. */
typedef struct slice {
    walk *w;
    region_walk *rw;
    size_t first;              /* index in the region of the slice's first page */
    size_t count;
    psum_region_hasher *whole; /* every page resident: streams the region's digest too */
} slice;

static int take_pages(slice *s, size_t i, size_t j, const uint8_t *bytes)
{
    psum_pass *p = s->w->p;
    for (size_t k = i; k < j; k++) {
        int err = take_page(s->w, s->rw, s->first + k, p->page_digests + (k - i) * p->digest_len,
                            bytes + k * PROCSUM_PAGE_SIZE);
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
        psum_pages_digest_at(p->algo, pass_key(p), bytes + i * PROCSUM_PAGE_SIZE, j - i, s->first + i,
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
static int take_region(walk *w, region_walk *rw, uint8_t *region_digest, bool *complete)
{
    psum_pass *p = w->p;
    const psum_os_region *r = rw->region;
    psum_region_hasher h;
    psum_region_hasher_init_keyed(&h, p->algo, pass_key(p));
    bool streaming = true; /* every page so far was read, in order, through h */
    p->resident_count = 0;
    size_t total = (r->end - r->start) / PROCSUM_PAGE_SIZE;
    for (size_t done = 0; done < total;) {
        int err = p->hook ? p->hook(p->hook_ctx) : 0;
        if (err)
            return err;
        size_t n = total - done < p->slice_pages ? total - done : p->slice_pages;
        uintptr_t base = r->start + done * PROCSUM_PAGE_SIZE;
        size_t resident = mark_resident(p, base, n, r->end);
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

static void report(walk *w, const region_walk *rw, const psum_findings *f, procsum_report_kind kind,
                   const uint8_t *region_digest, bool complete, psum_change_fn on_change, void *userdata)
{
    /*
     * Region digests before and after exist only for changes, when both
     * passes read the whole region and nothing was written back.
     */
    bool whole = kind == PROCSUM_REPORT_CHANGED && complete && rw->repaired == 0;
    const psum_region_baseline *was = whole ? find_region(w->old, rw->region) : NULL;
    psum_change ch = {
        .region = rw->region,
        .kind = kind,
        .pages = f->addrs,
        .page_changes = f->pages,
        .page_count = f->count,
        .old_digest = was ? was->digest : f->first_old,
        .new_digest = was ? region_digest : f->first_new,
        .region_digest = region_digest,
        .digest_is_page = was == NULL,
        .old_time_ns = was ? was->time_ns : f->first_old_time,
    };
    on_change(&ch, userdata);
}

static int prepare(psum_pass *p, const psum_os_region_list *mapped, const psum_snapshot *old,
                   psum_snapshot *out)
{
    size_t pages = old ? old->page_count : 0, regions = 0;
    for (size_t i = 0; i < mapped->count; i++) {
        if (psum_region_selected(&mapped->items[i], &p->opts)) {
            pages += (mapped->items[i].end - mapped->items[i].start) / PROCSUM_PAGE_SIZE;
            regions++;
        }
    }
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
            out->files[0] = (psum_file_id){0, 0};
        out->file_count = files;
    }
    if (err)
        psum_snapshot_free(out);
    return err;
}

/*
 * Files no page refers to any more (libraries unloaded for good) are dropped
 * once they make up most of the table, and the pages' indexes renumbered:
 * the table stays as small as what is mapped. Memory for it is optional.
 */
static void prune_files(psum_snapshot *s)
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

int psum_snapshot_take(psum_pass *p, const psum_os_region_list *mapped, const psum_snapshot *old,
                       psum_snapshot *out, psum_change_fn on_change, void *userdata)
{
    int err = prepare(p, mapped, old, out);
    if (err)
        return err;
    p->pages_skipped = 0;
    p->pages_held = 0;
    int64_t sec;
    long nsec;
    psum_os_wall_time(&sec, &nsec);
    walk w = {.p = p, .mapped = mapped, .old = old, .out = out, .mapped_file_for = SIZE_MAX,
              .now_ns = sec * 1000000000 + nsec};

    for (size_t i = 0; i < mapped->count; i++) {
        const psum_os_region *r = &mapped->items[i];
        if (!psum_region_selected(r, &p->opts))
            continue;
        region_walk rw = {.region = r};
        err = file_index(out, r, &rw.file);
        if (err) {
            psum_snapshot_free(out);
            return err;
        }
        p->changes.count = 0;
        p->file_findings.count = 0;
        uint8_t digest[PROCSUM_MAX_DIGEST] = {0};
        bool complete = false;
        size_t first_page = out->page_count, old_cursor = w.old_cursor, mapped_cursor = w.mapped_cursor;
        err = take_region(&w, &rw, digest, &complete);
        complete = complete && rw.repaired == 0;
        if (err == PROCSUM_EFAULT) {
            /* Unmapped while we read it: nothing to report; its baselines stay while the file is mapped. */
            out->page_count = first_page;
            w.old_cursor = old_cursor;
            w.mapped_cursor = mapped_cursor;
            continue;
        }
        if (err) {
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
        const psum_region_baseline *was = rw.held ? find_region(old, r) : NULL;
        if (rw.held) {
            /* Content held for a second look is not yet the region's: keep the digest being defended. */
            rb->defended = was != NULL;
            if (was) {
                rb->time_ns = was->time_ns;
                memcpy(rb->digest, was->digest, sizeof(rb->digest));
            }
        }
        if (on_change && p->file_findings.count > 0)
            report(&w, &rw, &p->file_findings, PROCSUM_REPORT_DIFFERS_FROM_FILE, digest, complete, on_change,
                   userdata);
        if (on_change && p->changes.count > 0)
            report(&w, &rw, &p->changes, PROCSUM_REPORT_CHANGED, digest, complete, on_change, userdata);
    }
    carry_below(&w, 0, true);
    psum_file_cache_close(p->files);
    prune_files(out);
    return 0;
}
