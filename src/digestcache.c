/*
 * The shared digest cache: an open-addressing table under one lock, asked
 * once per slice of a pass (64 pages), not per page. A slot holds a block
 * of BLOCK_PAGES consecutive pages of one file, as regions starting at the
 * same place in it digest them (the page's position in its region, which
 * BLAKE3's digest depends on, is its page in the file less one offset for
 * the whole region): a slice's pages are found with one or two probes, not
 * one each, and a watch asks for every page of every process every pass.
 * Each page in a block keeps its own frame, digest and time; a page seen
 * in another frame takes the place of the one there.
 *
 * Blocks are never deleted one by one: a block whose newest digest is older
 * than a period is stale and is taken by the next new key that probes past
 * it, and a rebuild (when half the slots are in use) keeps only fresh
 * blocks and doubles the table while fresh ones fill a quarter of it, up to
 * MAX_SLOTS. So memory is bounded whatever the host runs, and a host with
 * more shared code than that hashes the rest per process instead of
 * failing.
 */
#include "digestcache.h"

#include <stdlib.h>
#include <string.h>

#include "os/os.h"

#define BLOCK_PAGES PSUM_DIGESTCACHE_BLOCK_PAGES
#define FIRST_SLOTS 64u
/* 4096 blocks of 64 pages (about 3.5 KiB each): 14 MiB at most, for 256k pages (1 GiB of shared code). */
#define MAX_SLOTS (1u << 12)

/* A block: BLOCK_PAGES pages of one file from a multiple of BLOCK_PAGES, digested at positions file page - delta. */
typedef struct block_key {
    uint64_t dev, ino, block, delta;
} block_key;

typedef struct page_slot {
    bool used;
    unsigned flags;
    uint64_t frame;
    uint64_t read_ns;
    uint8_t digest[PROCSUM_MAX_DIGEST];
} page_slot;

typedef struct slot {
    block_key key;
    bool used;
    uint64_t newest_ns; /* the latest read_ns of its pages: the block is stale when that is */
    uint64_t stamp;     /* taken from the cache's count of changes whenever a digest is replaced */
    uint64_t period;    /* the period (read_ns / max_age_ns) read_in is for */
    uint64_t read_in;   /* bit i: page i was read in that period */
    page_slot pages[BLOCK_PAGES];
} slot;

struct procsum_digest_cache {
    procsum_algorithm algo;
    bool keyed;
    size_t digest_len;
    psum_digest_key key;
    uint64_t max_age_ns;
    psum_os_monitor *lock;
    slot *slots;
    size_t cap, used; /* used: slots holding a block, fresh or stale */
    uint64_t changes; /* digests replaced so far: the stamps' source */
};

int psum_digestcache_new(const procsum_options *o, procsum_digest_cache **out)
{
    procsum_digest_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return PROCSUM_ENOMEM;
    c->algo = o->algorithm;
    c->keyed = o->keyed_digests;
    c->digest_len = psum_digest_len(o->algorithm);
    c->max_age_ns = (uint64_t)o->check_period_ms * 1000000u;
    c->cap = FIRST_SLOTS;
    c->slots = calloc(c->cap, sizeof(*c->slots));
    int err = c->slots ? 0 : PROCSUM_ENOMEM;
    if (!err && c->keyed)
        err = psum_digest_key_random(&c->key, psum_os_random);
    if (!err)
        err = psum_os_monitor_create(&c->lock);
    if (err) {
        psum_digestcache_free(c);
        return err;
    }
    *out = c;
    return 0;
}

void psum_digestcache_free(procsum_digest_cache *c)
{
    if (!c)
        return;
    /* The key is a secret: do not leave it in freed memory. */
    volatile uint8_t *k = (volatile uint8_t *)&c->key;
    for (size_t i = 0; i < sizeof(c->key); i++)
        k[i] = 0;
    if (c->lock)
        psum_os_monitor_destroy(c->lock);
    free(c->slots);
    free(c);
}

bool psum_digestcache_fits(const procsum_digest_cache *c, const procsum_options *o)
{
    return c->algo == o->algorithm && c->keyed == o->keyed_digests;
}

const psum_digest_key *psum_digestcache_secret(const procsum_digest_cache *c)
{
    return &c->key;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 29);
}

static block_key block_of(const psum_digestcache_key *k)
{
    return (block_key){.dev = k->dev, .ino = k->ino, .block = k->file_page / BLOCK_PAGES,
                       .delta = k->file_page - k->index};
}

static size_t home(const procsum_digest_cache *c, const block_key *k)
{
    uint64_t h = mix(mix(mix(mix(0, k->dev), k->ino), k->block), k->delta);
    return (size_t)h & (c->cap - 1);
}

static bool same_key(const block_key *a, const block_key *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->block == b->block && a->delta == b->delta;
}

static bool fresh_at(const procsum_digest_cache *c, uint64_t read_ns, uint64_t now_ns)
{
    /* Another thread may have read it after now_ns was taken. */
    return read_ns >= now_ns || now_ns - read_ns < c->max_age_ns;
}

static bool fresh(const procsum_digest_cache *c, const slot *s, uint64_t now_ns)
{
    return s->used && fresh_at(c, s->newest_ns, now_ns);
}

/*
 * The slot holding k, or with `insert` one to put it in (emptied): the
 * first stale slot on its way, else the empty slot that ends the probe,
 * while the table is at most three quarters used. NULL when there is none.
 */
static slot *find(procsum_digest_cache *c, const block_key *k, uint64_t now_ns, bool insert)
{
    slot *stale = NULL;
    for (size_t i = home(c, k);; i = (i + 1) & (c->cap - 1)) {
        slot *s = &c->slots[i];
        if (!s->used) {
            if (!insert)
                return NULL;
            if (!stale) {
                if ((c->used + 1) * 4 > c->cap * 3)
                    return NULL;
                c->used++;
                stale = s;
            }
            memset(stale, 0, sizeof(*stale));
            stale->used = true;
            stale->key = *k;
            stale->stamp = ++c->changes;
            return stale;
        }
        if (same_key(&s->key, k))
            return s;
        if (!stale && !fresh(c, s, now_ns))
            stale = s;
    }
}

/* The cache's period a time falls in. */
static uint64_t period_of(const procsum_digest_cache *c, uint64_t ns)
{
    return c->max_age_ns ? ns / c->max_age_ns : 0;
}

/* Page i of block s was read at read_ns. */
static void note_read(const procsum_digest_cache *c, slot *s, size_t i, uint64_t read_ns)
{
    uint64_t period = period_of(c, read_ns);
    if (period > s->period) {
        s->period = period;
        s->read_in = 0;
    }
    if (period == s->period)
        s->read_in |= 1ull << i;
}

/* Keeps the fresh blocks only, in a table twice as large while they fill a quarter of this one. */
static void rebuild(procsum_digest_cache *c, uint64_t now_ns)
{
    size_t live = 0;
    for (size_t i = 0; i < c->cap; i++)
        live += fresh(c, &c->slots[i], now_ns);
    size_t cap = live * 4 >= c->cap && c->cap < MAX_SLOTS ? c->cap * 2 : c->cap;
    slot *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return; /* insertions stop at three quarters until a block is stale */
    slot *old = c->slots;
    size_t old_cap = c->cap;
    c->slots = slots;
    c->cap = cap;
    c->used = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (!fresh(c, &old[i], now_ns))
            continue;
        slot *s = find(c, &old[i].key, now_ns, true);
        if (s)
            *s = old[i];
    }
    free(old);
}

/* The block of e's page, found once for a run of pages of the same block: *last and *last_key carry it along. */
static slot *block_for(procsum_digest_cache *c, const psum_digestcache_key *k, uint64_t now_ns, bool insert,
                       slot **last, block_key *last_key, bool *have_last)
{
    block_key b = block_of(k);
    if (*have_last && same_key(&b, last_key))
        return *last;
    *last = find(c, &b, now_ns, insert);
    *last_key = b;
    *have_last = true;
    return *last;
}

void psum_digestcache_lookup(procsum_digest_cache *c, psum_digestcache_entry *e, const bool *wanted, size_t n,
                             uint64_t now_ns)
{
    slot *last = NULL;
    block_key last_key = {0};
    bool have_last = false;
    psum_os_monitor_lock(c->lock);
    for (size_t i = 0; i < n; i++) {
        e[i].found = false;
        e[i].stamp = 0;
        if (!wanted[i])
            continue;
        const slot *s = block_for(c, &e[i].key, now_ns, false, &last, &last_key, &have_last);
        if (!s)
            continue;
        e[i].stamp = s->stamp;
        const page_slot *pg = &s->pages[e[i].key.file_page % BLOCK_PAGES];
        if (!pg->used || pg->frame != e[i].key.frame || !fresh_at(c, pg->read_ns, now_ns))
            continue;
        e[i].found = true;
        e[i].flags = pg->flags;
        e[i].read_ns = pg->read_ns;
        memcpy(e[i].digest, pg->digest, c->digest_len);
    }
    psum_os_monitor_unlock(c->lock);
}

void psum_digestcache_publish(procsum_digest_cache *c, psum_digestcache_entry *e, size_t n)
{
    uint64_t now_ns = psum_os_monotonic_ns();
    slot *last = NULL;
    block_key last_key = {0};
    bool have_last = false;
    psum_os_monitor_lock(c->lock);
    for (size_t i = 0; i < n; i++) {
        if (!e[i].publish)
            continue;
        e[i].publish = false;
        if (c->used * 2 >= c->cap) {
            rebuild(c, now_ns);
            have_last = false; /* the slots moved */
        }
        slot *s = block_for(c, &e[i].key, now_ns, true, &last, &last_key, &have_last);
        if (!s)
            continue;
        size_t at = e[i].key.file_page % BLOCK_PAGES;
        page_slot *pg = &s->pages[at];
        bool same = pg->used && pg->frame == e[i].key.frame;
        if (same && memcmp(pg->digest, e[i].digest, c->digest_len) == 0) {
            pg->flags |= e[i].flags;
            pg->read_ns = pg->read_ns > e[i].read_ns ? pg->read_ns : e[i].read_ns;
        } else if (same && pg->read_ns > e[i].read_ns) {
            continue; /* read later by another checker: that one stands */
        } else {
            pg->used = true;
            pg->frame = e[i].key.frame;
            pg->flags = e[i].flags;
            pg->read_ns = e[i].read_ns;
            memcpy(pg->digest, e[i].digest, c->digest_len);
            s->stamp = ++c->changes;
        }
        note_read(c, s, at, e[i].read_ns);
        if (pg->read_ns > s->newest_ns)
            s->newest_ns = pg->read_ns;
    }
    psum_os_monitor_unlock(c->lock);
}

bool psum_digestcache_block_stands(procsum_digest_cache *c, const psum_digestcache_key *k, uint64_t need,
                                   uint64_t now_ns, uint64_t *stamp)
{
    block_key b = block_of(k);
    psum_os_monitor_lock(c->lock);
    const slot *s = find(c, &b, now_ns, false);
    *stamp = s ? s->stamp : 0;
    bool read = s && s->period == period_of(c, now_ns) && (s->read_in & need) == need;
    psum_os_monitor_unlock(c->lock);
    return read;
}

bool psum_digestcache_same_period(const procsum_digest_cache *c, uint64_t a_ns, uint64_t b_ns)
{
    return period_of(c, a_ns) == period_of(c, b_ns);
}
