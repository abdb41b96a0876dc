/*
 * Quiet passes. A watch of a host makes a pass over every process every
 * period, and most of them did nothing since the last one: the same pages
 * present, the same page-cache pages, no private copy made or dropped. Its
 * page table says so (one read per residency question the last pass
 * asked), and then the only change a pass could find is in the bytes of
 * the pages present.
 *
 * A page-cache page is one physical page for every process that maps it,
 * hashed once a period for all of them through the digest cache. While a
 * block of the cache keeps the stamp it had when this process's pages in
 * it last matched their baselines, and each of those pages was read again
 * this period, they still match: the block is vouched for with one
 * question, without a page's record touched. Otherwise its pages are
 * compared one by one, as private copies always are (read and hashed).
 * Whatever differs is left to a whole pass, which finds it again and
 * reports it.
 */
#include "pass.h"

#include <stdlib.h>
#include <string.h>

#include "walk.h"

/* A page-table entry as a pass notes it: present, a page-cache page, and its frame where the platform shows it. */
#define ENTRY_PRESENT (1ull << 63)
#define ENTRY_CACHED (1ull << 62)
#define ENTRY_FRAME ((1ull << 55) - 1)

static uint64_t packed(const psum_pass *p, size_t i)
{
    return (p->resident[i] ? ENTRY_PRESENT : 0) | (p->cached[i] ? ENTRY_CACHED : 0) | (p->frames[i] & ENTRY_FRAME);
}

void psum_quiet_note_ask(psum_pass *p, uintptr_t base, size_t n)
{
    psum_snapshot *s = p->recording;
    if (!s || p->record_failed)
        return;
    if (psum_os_table_grow((void **)&s->asks, &s->ask_cap, s->ask_count + 1, sizeof(*s->asks)) != 0 ||
        psum_os_table_grow((void **)&s->entries, &s->entry_cap, s->entry_count + n, sizeof(*s->entries)) != 0) {
        p->record_failed = true;
        return;
    }
    s->asks[s->ask_count++] = (psum_quiet_ask){.base = base, .count = n, .first = s->entry_count};
    for (size_t i = 0; i < n; i++)
        s->entries[s->entry_count++] = packed(p, i);
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 31);
}

uint64_t psum_quiet_regions(const psum_os_region_list *mapped, const procsum_options *o)
{
    uint64_t h = 1;
    for (size_t i = 0; i < mapped->count; i++) {
        const psum_os_region *r = &mapped->items[i];
        if (!psum_region_selected(r, o))
            continue;
        h = mix(mix(mix(h, r->start), r->end), ((uint64_t)r->prot << 8) | (uint64_t)r->kind);
        if (r->kind == PROCSUM_REGION_FILE)
            h = mix(mix(mix(h, r->dev), r->ino), r->file_offset);
    }
    return h;
}

/* Whether the page table answers every question of the pass that built old as it did then. */
static bool table_stands(psum_pass *p, const psum_snapshot *old)
{
    for (size_t a = 0; a < old->ask_count; a++) {
        const psum_quiet_ask *q = &old->asks[a];
        if (q->count > p->resident_cap ||
            psum_os_page_frames(p->target, q->base, q->count, p->resident, p->cached, p->frames) != 0)
            return false;
        const uint64_t *was = old->entries + q->first;
        for (size_t i = 0; i < q->count; i++)
            if (packed(p, i) != was[i])
                return false;
    }
    return true;
}

/* The state of a quiet pass. */
typedef struct quiet_walk {
    psum_pass *p;
    const psum_snapshot *old;
    size_t ask;      /* cursor into old->asks, ascending as the pages do */
    size_t block;    /* blocks of the cache met so far: the index of the next one's stamp */
    uint64_t now_ns; /* monotonic: dates what is published, and which period the cache is in */
} quiet_walk;

/* A chunk is at most a block; the pass's slice buffers (p->want, p->entries, p->buf) hold one. */
_Static_assert(PSUM_DIGESTCACHE_BLOCK_PAGES <= PSUM_SLICE_PAGES, "a chunk fits the slice buffers");

/* One chunk of a region: the pages of one block of the cache (or of a slice of anonymous code). */
typedef struct quiet_chunk {
    quiet_walk *q;
    const psum_os_region *r;
    uint32_t file;
    size_t first, count;   /* the chunk's pages in the region */
    bool cached[PSUM_DIGESTCACHE_BLOCK_PAGES];
    uint64_t frames[PSUM_DIGESTCACHE_BLOCK_PAGES]; /* of the page-cache pages */
    bool differs;          /* a whole pass must look */
} quiet_chunk;

/* The entry noted for the page at addr; false when no question covered it. */
static bool entry_at(quiet_walk *q, uintptr_t addr, uint64_t *e)
{
    const psum_snapshot *s = q->old;
    while (q->ask < s->ask_count && addr >= s->asks[q->ask].base + s->asks[q->ask].count * PROCSUM_PAGE_SIZE)
        q->ask++;
    if (q->ask == s->ask_count || addr < s->asks[q->ask].base)
        return false;
    *e = s->entries[s->asks[q->ask].first + (addr - s->asks[q->ask].base) / PROCSUM_PAGE_SIZE];
    return true;
}

static int by_addr(const void *key, const void *item)
{
    uintptr_t a = *(const uintptr_t *)key, b = ((const psum_page_baseline *)item)->addr;
    return a < b ? -1 : a > b;
}

/* Whether the page at index k of the chunk has the baseline the pass that took old gave it, with this digest. */
static bool matches(const quiet_chunk *c, size_t k, const uint8_t *digest)
{
    const psum_snapshot *old = c->q->old;
    uintptr_t addr = c->r->start + (c->first + k) * PROCSUM_PAGE_SIZE;
    const psum_page_baseline *pg = bsearch(&addr, old->pages, old->page_count, sizeof(*old->pages), by_addr);
    uint32_t file_page = c->r->kind == PROCSUM_REGION_FILE
                             ? (uint32_t)((c->r->file_offset + (addr - c->r->start)) / PROCSUM_PAGE_SIZE)
                             : 0;
    return pg && pg->file == c->file && pg->file_page == file_page && pg->index == c->first + k &&
           pg->state == PSUM_PAGE_SETTLED && !(pg->flags & PSUM_PAGE_GONE) &&
           memcmp(pg->digest, digest, c->q->p->digest_len) == 0;
}

/* Digests the pages read (runs of p->want) and compares them; the page-cache ones are published. */
static int digest_read(void *ctx, const uint8_t *bytes)
{
    quiet_chunk *c = ctx;
    psum_pass *p = c->q->p;
    for (size_t i = 0; i < c->count && !c->differs;) {
        if (!p->want[i]) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < c->count && p->want[j])
            j++;
        psum_pages_digest_at(p->algo, psum_pass_key(p), bytes + i * PROCSUM_PAGE_SIZE, j - i, c->first + i,
                             p->page_digests);
        for (size_t k = i; k < j && !c->differs; k++) {
            const uint8_t *digest = p->page_digests + (k - i) * p->digest_len;
            c->differs = !matches(c, k, digest);
            if (c->cached[k]) {
                psum_digestcache_entry *e = &p->entries[k];
                memcpy(e->digest, digest, p->digest_len);
                e->flags = 0;
                e->read_ns = c->q->now_ns;
                e->publish = true;
            }
        }
        i = j;
    }
    return 0;
}

/* The stamp this process's pages of the next block matched under; NULL when there is no room to keep it. */
static uint64_t *next_stamp(quiet_walk *q)
{
    psum_pass *p = q->p;
    size_t i = q->block++;
    if (i >= p->quiet_stamp_count) {
        if (psum_os_table_grow((void **)&p->quiet_stamps, &p->quiet_stamp_cap, i + 1, sizeof(*p->quiet_stamps)))
            return NULL;
        while (p->quiet_stamp_count <= i)
            p->quiet_stamps[p->quiet_stamp_count++] = 0;
    }
    return &p->quiet_stamps[i];
}

/*
 * The page-cache pages of the chunk (need: their bits in the block; the
 * chunk's first page is first_page of the file): vouched for by the block's
 * stamp, or compared one by one with the cache's digests (those not read
 * this period left to read, in p->want). first: the chunk's first
 * page-cache page; pages: how many it has. In the second case *known and
 * *stamp are where to keep the block's stamp and which, once the pages
 * read match too; *known stays NULL otherwise.
 */
static void compare_cached(quiet_chunk *c, uint64_t need, uint64_t first_page, size_t first, size_t pages,
                           uint64_t **known_out, uint64_t *stamp_out)
{
    quiet_walk *q = c->q;
    psum_pass *p = q->p;
    uint64_t *known = next_stamp(q);
    uint64_t stamp;
    psum_digestcache_key block = {.dev = c->r->dev, .ino = c->r->ino, .file_page = first_page,
                                  .index = (uint32_t)c->first};
    if (known && *known != 0 && psum_digestcache_block_stands(p->shared, &block, need, q->now_ns, &stamp) &&
        stamp == *known) {
        p->pages_shared += pages;
        return;
    }
    for (size_t k = 0; k < c->count; k++) {
        if (c->cached[k])
            p->entries[k] = (psum_digestcache_entry){
                .key = {.dev = c->r->dev, .ino = c->r->ino, .file_page = first_page + k, .frame = c->frames[k],
                        .index = (uint32_t)(c->first + k)},
            };
    }
    psum_digestcache_lookup(p->shared, p->entries, c->cached, c->count, q->now_ns);
    for (size_t k = 0; k < c->count && !c->differs; k++) {
        if (!c->cached[k])
            continue;
        /*
         * Read again unless read in the cache's period now: then the first
         * process a period meets reads its blocks, and the stamp vouches
         * for them to every other one.
         */
        if (!p->entries[k].found || !psum_digestcache_same_period(p->shared, p->entries[k].read_ns, q->now_ns)) {
            p->want[k] = true;
            continue;
        }
        c->differs = !matches(c, k, p->entries[k].digest);
        p->pages_shared++;
    }
    /* The stamp of the lookup: any digest of the block replaced since moved it. */
    *known_out = known;
    *stamp_out = p->entries[first].stamp;
}

static int check_chunk(quiet_chunk *c)
{
    psum_pass *p = c->q->p;
    const psum_os_region *r = c->r;
    bool file = r->kind == PROCSUM_REGION_FILE;
    uintptr_t base = r->start + c->first * PROCSUM_PAGE_SIZE;
    uint64_t first_page = file ? (r->file_offset + (base - r->start)) / PROCSUM_PAGE_SIZE : 0;
    uint64_t need = 0;
    size_t first_cached = 0, cached = 0;
    for (size_t k = 0; k < c->count; k++) {
        uint64_t e;
        c->cached[k] = false;
        p->want[k] = false;
        if (!entry_at(c->q, base + k * PROCSUM_PAGE_SIZE, &e)) {
            c->differs = true;
            return 0;
        }
        if (!(e & ENTRY_PRESENT))
            continue; /* absent then and now: a whole pass would not read it either */
        if (!file || !(e & ENTRY_CACHED)) {
            p->want[k] = true; /* the process's own copy: read and hashed */
            continue;
        }
        c->cached[k] = true;
        c->frames[k] = e & ENTRY_FRAME;
        first_cached = cached++ == 0 ? k : first_cached;
        need |= 1ull << ((first_page + k) % PSUM_DIGESTCACHE_BLOCK_PAGES);
    }
    uint64_t *known = NULL, stamp = 0;
    if (need)
        compare_cached(c, need, first_page, first_cached, cached, &known, &stamp);
    size_t to_read = 0;
    for (size_t k = 0; k < c->count; k++)
        to_read += p->want[k];
    if (c->differs || to_read == 0) {
        if (known && !c->differs)
            *known = stamp;
        return 0;
    }
    int err = p->hook ? p->hook(p->hook_ctx) : 0;
    if (err)
        return err;
    /* A CPU budget may have slept there: what follows is read, dated and vouched for at the time it is. */
    if (p->opts.max_cpu_percent > 0 && p->opts.max_cpu_percent < 100)
        c->q->now_ns = psum_os_monotonic_ns();
    err = psum_os_use_pages(p->target, r, base, c->count, p->want, p->buf, digest_read, c);
    p->bytes_read += (uint64_t)to_read * PROCSUM_PAGE_SIZE;
    if (err) {
        c->differs = true; /* unmapped, or gone: a whole pass tells which */
        for (size_t k = 0; k < c->count; k++)
            p->entries[k].publish = false;
    } else if (need) {
        psum_digestcache_publish(p->shared, p->entries, c->count);
    }
    /* The block's pages matched, those read here too: its stamp vouches for them from now on. */
    if (known && !c->differs)
        *known = stamp;
    return 0;
}

int psum_snapshot_quiet(psum_pass *p, const psum_os_region_list *mapped, psum_snapshot *old, uint64_t now_ns,
                        bool *done)
{
    *done = false;
    if (!p->quiet_passes || !p->shared || p->opts.include_nonresident || !old || !old->quiet ||
        old->regions_read != psum_quiet_regions(mapped, &p->opts))
        return 0;
    if (p->quiet_skip > 0) {
        p->quiet_skip--;
        return 0;
    }
    int err = p->hook ? p->hook(p->hook_ctx) : 0;
    if (err)
        return err;
    if (!table_stands(p, old)) {
        p->quiet_misses += p->quiet_misses < 3;
        p->quiet_skip = (1u << p->quiet_misses) - 1;
        return 0;
    }
    p->quiet_misses = 0;
    quiet_walk q = {.p = p, .old = old, .now_ns = now_ns};
    p->pages_shared = 0;
    for (size_t i = 0; i < mapped->count; i++) {
        const psum_os_region *r = &mapped->items[i];
        if (!psum_region_selected(r, &p->opts))
            continue;
        quiet_chunk c = {.q = &q, .r = r, .file = psum_table_find_file(old, r)};
        if (c.file == UINT32_MAX)
            return 0;
        /* Chunks end where the cache's blocks do, so that one question vouches for a chunk's page-cache pages. */
        uint64_t offset = r->kind == PROCSUM_REGION_FILE ? r->file_offset / PROCSUM_PAGE_SIZE : 0;
        size_t total = (r->end - r->start) / PROCSUM_PAGE_SIZE;
        for (c.first = 0; c.first < total; c.first += c.count) {
            size_t to_block = PSUM_DIGESTCACHE_BLOCK_PAGES - (offset + c.first) % PSUM_DIGESTCACHE_BLOCK_PAGES;
            c.count = total - c.first < to_block ? total - c.first : to_block;
            err = check_chunk(&c);
            if (err)
                return err;
            if (c.differs)
                return 0;
        }
    }
    *done = true;
    return 0;
}
