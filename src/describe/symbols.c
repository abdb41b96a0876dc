/* The functions of the files reports are about, each file's read once and kept in a small cache. */
#include "symbols.h"

#include <stdlib.h>
#include <string.h>

/* At most this many files' tables, and beyond this many bytes only the table used last. */
#define MAX_FILES 8
#define MAX_BYTES ((size_t)8 << 20)

typedef struct table {
    bool used;
    uint64_t dev, ino;
    psum_os_file_state state;
    psum_os_symbol_list list; /* sorted by file offset, one symbol a place; empty when unreadable */
    uint64_t last_use;
    size_t bytes;
} table;

struct psum_symbols {
    table tables[MAX_FILES];
    uint64_t clock;
    uint64_t made_in; /* the process that may load the library reading symbols (os.h: psum_os_file_symbols) */
};

int psum_symbols_new(psum_symbols **out, uint64_t made_in)
{
    *out = calloc(1, sizeof(**out));
    if (!*out)
        return PROCSUM_ENOMEM;
    (*out)->made_in = made_in;
    return 0;
}

static void drop(table *t)
{
    psum_os_symbol_list_free(&t->list);
    memset(t, 0, sizeof(*t));
}

void psum_symbols_free(psum_symbols *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < MAX_FILES; i++)
        drop(&s->tables[i]);
    free(s);
}

/* By place; of several names for one place the highest ranked, then the longest, first. */
static int by_place(const void *a, const void *b)
{
    const psum_os_symbol *x = a, *y = b;
    if (x->file_offset != y->file_offset)
        return x->file_offset < y->file_offset ? -1 : 1;
    if (x->rank != y->rank)
        return x->rank > y->rank ? -1 : 1;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return x->name < y->name ? -1 : x->name > y->name;
}

/* Sorts the list and keeps one symbol a place. */
static void settle(psum_os_symbol_list *l)
{
    if (l->count == 0)
        return;
    qsort(l->items, l->count, sizeof(*l->items), by_place);
    size_t kept = 1;
    for (size_t i = 1; i < l->count; i++)
        if (l->items[i].file_offset != l->items[kept - 1].file_offset)
            l->items[kept++] = l->items[i];
    l->count = kept;
}

static bool same_state(const psum_os_file_state *a, const psum_os_file_state *b)
{
    return a->size == b->size && a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

/* Drops the least recently used tables other than keep while there are too many bytes. */
static void trim(psum_symbols *s, const table *keep)
{
    for (;;) {
        size_t total = 0;
        table *oldest = NULL;
        for (size_t i = 0; i < MAX_FILES; i++) {
            table *t = &s->tables[i];
            if (!t->used)
                continue;
            total += t->bytes;
            if (t != keep && (!oldest || t->last_use < oldest->last_use))
                oldest = t;
        }
        if (total <= MAX_BYTES || !oldest)
            return;
        drop(oldest);
    }
}

/* The table of the file, read now unless the cache holds it for the file as it is. */
static table *table_for(psum_symbols *s, psum_os_file *f, uint64_t dev, uint64_t ino)
{
    psum_os_file_state state;
    if (psum_os_file_state_of(f, &state) != 0)
        return NULL;
    table *slot = NULL;
    for (size_t i = 0; i < MAX_FILES; i++) {
        table *t = &s->tables[i];
        if (t->used && t->dev == dev && t->ino == ino) {
            if (same_state(&t->state, &state)) {
                t->last_use = ++s->clock;
                return t;
            }
            drop(t);
        }
        if (!t->used && !slot)
            slot = t;
    }
    if (!slot) {
        slot = &s->tables[0];
        for (size_t i = 1; i < MAX_FILES; i++)
            if (s->tables[i].last_use < slot->last_use)
                slot = &s->tables[i];
        drop(slot);
    }
    /* A file whose symbols cannot be read keeps an empty table: it is not read again at every report. */
    if (psum_os_file_symbols(f, psum_os_process_id() == s->made_in, &slot->list) != 0)
        psum_os_symbol_list_free(&slot->list);
    settle(&slot->list);
    slot->used = true;
    slot->dev = dev;
    slot->ino = ino;
    slot->state = state;
    slot->last_use = ++s->clock;
    slot->bytes = slot->list.cap * sizeof(psum_os_symbol) + slot->list.names_cap;
    trim(s, slot);
    return slot;
}

bool psum_symbols_find(psum_symbols *s, psum_os_file *f, uint64_t dev, uint64_t ino, uint64_t off,
                       psum_symbol_hit *hit)
{
    if (!s || !f)
        return false;
    table *t = table_for(s, f, dev, ino);
    if (!t || t->list.count == 0 || off < t->list.items[0].file_offset)
        return false;
    /* The last symbol starting at or before off. */
    size_t lo = 0, hi = t->list.count;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->list.items[mid].file_offset <= off)
            lo = mid;
        else
            hi = mid;
    }
    const psum_os_symbol *sym = &t->list.items[lo];
    if (sym->size != 0 && off - sym->file_offset >= sym->size)
        return false;
    *hit = (psum_symbol_hit){.name = t->list.names + sym->name,
                             .file_offset = sym->file_offset,
                             .size = sym->size,
                             .machine = t->list.machine};
    return true;
}
