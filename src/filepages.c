/* The table of file pages a verification knows: open addressing, linear probing, doubled when half full. */
#include "filepages.h"

#include <stdlib.h>

/* A slot is in use once an entry was added: its flags are never 0 again. */
#define IN_USE (1u << 31)

static uint64_t mix(uint64_t dev, uint64_t ino, uint64_t page)
{
    /* splitmix64's finalizer over a simple combination: neighbouring pages land far apart. */
    uint64_t x = dev * 0x9e3779b97f4a7c15ull ^ ino * 0xc2b2ae3d27d4eb4full ^ page;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static psum_filepage *slot_for(psum_filepage *slots, size_t cap, uint64_t dev, uint64_t ino, uint64_t page)
{
    size_t i = (size_t)mix(dev, ino, page) & (cap - 1);
    while (slots[i].flags && (slots[i].dev != dev || slots[i].ino != ino || slots[i].page != page))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static int grow(psum_filepages *t)
{
    size_t cap = t->cap ? t->cap * 2 : 4096;
    psum_filepage *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return PROCSUM_ENOMEM;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].flags)
            *slot_for(slots, cap, t->slots[i].dev, t->slots[i].ino, t->slots[i].page) = t->slots[i];
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

int psum_filepages_get(psum_filepages *t, uint64_t dev, uint64_t ino, uint64_t page, psum_filepage **out)
{
    if ((t->count + 1) * 2 > t->cap) {
        int err = grow(t);
        if (err)
            return err;
    }
    psum_filepage *s = slot_for(t->slots, t->cap, dev, ino, page);
    if (!s->flags) {
        *s = (psum_filepage){.dev = dev, .ino = ino, .page = page, .flags = IN_USE};
        t->count++;
    }
    *out = s;
    return 0;
}

void psum_filepages_free(psum_filepages *t)
{
    free(t->slots);
    t->slots = NULL;
    t->cap = t->count = 0;
}
