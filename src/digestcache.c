/*
 * The shared digest cache: an open-addressing table under one lock, asked
 * once per slice of a pass (64 pages), not per page. Entries are never
 * deleted one by one: a slot whose digest is older than a period is stale
 * and is taken by the next new key that probes past it, and a rebuild
 * (when half the slots are in use) keeps only fresh entries and doubles the
 * table while fresh ones fill a quarter of it, up to MAX_SLOTS. So memory
 * is bounded whatever the host runs, and a host with more shared code than
 * that hashes the rest per process instead of failing.
 */
#include "digestcache.h"

#include <stdlib.h>
#include <string.h>

#include "os/os.h"

#define FIRST_SLOTS 1024u
/* 256k slots of 80 bytes: 20 MiB at most, for 128k fresh pages (512 MiB of shared code). */
#define MAX_SLOTS (1u << 18)

typedef struct slot {
    psum_digestcache_key key;
    bool used;
    unsigned flags;
    uint64_t read_ns;
    uint8_t digest[PROCSUM_MAX_DIGEST];
} slot;

struct procsum_digest_cache {
    procsum_algorithm algo;
    bool keyed;
    size_t digest_len;
    psum_digest_key key;
    uint64_t max_age_ns;
    psum_os_monitor *lock;
    slot *slots;
    size_t cap, used; /* used: slots holding an entry, fresh or stale */
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

static size_t home(const procsum_digest_cache *c, const psum_digestcache_key *k)
{
    uint64_t h = mix(mix(mix(mix(mix(0, k->dev), k->ino), k->file_page), k->frame), k->index);
    return (size_t)h & (c->cap - 1);
}

static bool same_key(const psum_digestcache_key *a, const psum_digestcache_key *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->file_page == b->file_page && a->frame == b->frame &&
           a->index == b->index;
}

static bool fresh(const procsum_digest_cache *c, const slot *s, uint64_t now_ns)
{
    /* Another thread may have read it after now_ns was taken. */
    return s->used && (s->read_ns >= now_ns || now_ns - s->read_ns < c->max_age_ns);
}

/*
 * The slot holding k, or with `insert` one to put it in: the first stale
 * slot on its way, else the empty slot that ends the probe, while the
 * table is at most three quarters used. NULL when there is none.
 */
static slot *find(procsum_digest_cache *c, const psum_digestcache_key *k, uint64_t now_ns, bool insert)
{
    slot *stale = NULL;
    for (size_t i = home(c, k);; i = (i + 1) & (c->cap - 1)) {
        slot *s = &c->slots[i];
        if (!s->used) {
            if (!insert)
                return NULL;
            if (stale)
                return stale;
            if ((c->used + 1) * 4 > c->cap * 3)
                return NULL;
            c->used++;
            return s;
        }
        if (same_key(&s->key, k))
            return s;
        if (!stale && !fresh(c, s, now_ns))
            stale = s;
    }
}

/* Keeps the fresh entries only, in a table twice as large while they fill a quarter of this one. */
static void rebuild(procsum_digest_cache *c, uint64_t now_ns)
{
    size_t live = 0;
    for (size_t i = 0; i < c->cap; i++)
        live += fresh(c, &c->slots[i], now_ns);
    size_t cap = live * 4 >= c->cap && c->cap < MAX_SLOTS ? c->cap * 2 : c->cap;
    slot *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return; /* insertions stop at three quarters until an entry is stale */
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

void psum_digestcache_lookup(procsum_digest_cache *c, psum_digestcache_entry *e, const bool *wanted, size_t n,
                             uint64_t now_ns)
{
    psum_os_monitor_lock(c->lock);
    for (size_t i = 0; i < n; i++) {
        e[i].found = false;
        if (!wanted[i])
            continue;
        const slot *s = find(c, &e[i].key, now_ns, false);
        if (!s || !fresh(c, s, now_ns))
            continue;
        e[i].found = true;
        e[i].flags = s->flags;
        e[i].read_ns = s->read_ns;
        memcpy(e[i].digest, s->digest, c->digest_len);
    }
    psum_os_monitor_unlock(c->lock);
}

void psum_digestcache_publish(procsum_digest_cache *c, psum_digestcache_entry *e, size_t n)
{
    uint64_t now_ns = psum_os_monotonic_ns();
    psum_os_monitor_lock(c->lock);
    for (size_t i = 0; i < n; i++) {
        if (!e[i].publish)
            continue;
        e[i].publish = false;
        if (c->used * 2 >= c->cap)
            rebuild(c, now_ns);
        slot *s = find(c, &e[i].key, now_ns, true);
        if (!s)
            continue;
        bool same = s->used && same_key(&s->key, &e[i].key);
        if (same && memcmp(s->digest, e[i].digest, c->digest_len) == 0) {
            s->flags |= e[i].flags;
            s->read_ns = s->read_ns > e[i].read_ns ? s->read_ns : e[i].read_ns;
            continue;
        }
        if (same && s->read_ns > e[i].read_ns)
            continue; /* read later by another checker: that one stands */
        s->key = e[i].key;
        s->used = true;
        s->flags = e[i].flags;
        s->read_ns = e[i].read_ns;
        memcpy(s->digest, e[i].digest, c->digest_len);
    }
    psum_os_monitor_unlock(c->lock);
}
