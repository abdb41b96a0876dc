/*
 * The page state machine: each page read compared with its baseline; pages
 * not read carried over. This runs for every page of every pass, so the
 * common case (a settled page read again with the same digest) is kept
 * free of library calls: digests are compared and copied a word at a time,
 * the new baseline is written where it lands in the table, and the carry of
 * unread pages is only called when an old page lies below the one read.
 */
#include "pass.h"

#include <stdlib.h>
#include <string.h>

#include "walk.h"

static uint32_t page_in_file(const psum_os_region *r, uintptr_t addr)
{
    return r->kind == PROCSUM_REGION_FILE ? (uint32_t)((r->file_offset + (addr - r->start)) / PROCSUM_PAGE_SIZE) : 0;
}

/* The mapping holding pg's file page where pg lies, or NULL when something else (or nothing) is mapped there. */
static const psum_os_region *still_mapped(psum_walk *w, const psum_page_baseline *pg)
{
    const psum_os_region_list *m = w->mapped;
    while (w->mapped_cursor < m->count && m->items[w->mapped_cursor].end <= pg->addr)
        w->mapped_cursor++;
    if (w->mapped_cursor == m->count)
        return NULL;
    const psum_os_region *r = &m->items[w->mapped_cursor];
    if (r->start > pg->addr)
        return NULL;
    if (w->mapped_file_for != w->mapped_cursor) {
        w->mapped_file = psum_table_find_file(w->out, r);
        w->mapped_file_for = w->mapped_cursor;
    }
    return pg->file == w->mapped_file && pg->file_page == page_in_file(r, pg->addr) ? r : NULL;
}

/* Digests are 8 or 32 bytes long: compared a word at a time (a byte at a time past the last whole word). */
static bool same_digest(const uint8_t *a, const uint8_t *b, size_t len)
{
    uint64_t diff = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, sizeof(x));
        memcpy(&y, b + i, sizeof(y));
        diff |= x ^ y;
    }
    for (; i < len; i++)
        diff |= (uint64_t)(a[i] ^ b[i]);
    return diff == 0;
}

/* The digest and zeros after it, as every baseline holds it. */
static void set_digest(uint8_t out[PROCSUM_MAX_DIGEST], const uint8_t *digest, size_t len)
{
    memset(out, 0, PROCSUM_MAX_DIGEST);
    size_t i = 0;
    for (; i + 8 <= len; i += 8)
        memcpy(out + i, digest + i, 8);
    for (; i < len; i++)
        out[i] = digest[i];
}

void psum_pages_carry_below(psum_walk *w, uintptr_t addr, bool all)
{
    const psum_snapshot *old = w->old;
    if (!old)
        return;
    while (w->old_cursor < old->page_count && (all || old->pages[w->old_cursor].addr < addr)) {
        const psum_page_baseline *pg = &old->pages[w->old_cursor++];
        /*
         * Not read this pass: not in memory, unmapped, or its mapping not
         * selected for now (made writable for a moment: its content stays).
         * A reported page that left memory took its content with it, and
         * what comes back is compared with the file (PSUM_PAGE_GONE): only
         * where new pages are (verify_file).
         */
        const psum_os_region *r = still_mapped(w, pg);
        if (r) {
            psum_page_baseline *kept = &w->out->pages[w->out->page_count++];
            *kept = *pg;
            if ((pg->flags & PSUM_PAGE_REPORTED) && w->p->opts.verify_file && psum_region_selected(r, &w->p->opts))
                kept->flags |= PSUM_PAGE_GONE;
            if (kept->state != PSUM_PAGE_SETTLED || (kept->flags & PSUM_PAGE_GONE))
                w->p->pages_unquiet++;
        }
    }
}

/* Whether `bytes` still hash to the baseline, digested at the baseline's position in its region. */
static bool matches_baseline(const psum_pass *p, const psum_page_baseline *was, const psum_page_baseline *now,
                             const uint8_t *bytes)
{
    if (was->index == now->index)
        return same_digest(was->digest, now->digest, p->digest_len);
    /* The region's bounds moved: digest the page at its old position to compare like with like. */
    uint8_t at_old[PROCSUM_MAX_DIGEST];
    psum_page_digest_at_keyed(p->algo, psum_pass_key(p), bytes, was->index, at_old);
    return same_digest(was->digest, at_old, p->digest_len);
}

static uint32_t digest_tag(const uint8_t *digest)
{
    uint32_t tag;
    memcpy(&tag, digest, sizeof(tag));
    return tag;
}

/*
 * Whether a suspect page reads what the pass before held it for. The
 * region's bounds may have moved since (a JIT adding code just below it,
 * where the kernel maps next, at every pass): the page is then digested at
 * the position the held content was digested at, as matches_baseline does.
 */
static bool suspect_again(const psum_pass *p, const psum_page_baseline *was, const psum_page_baseline *now,
                          const uint8_t *bytes)
{
    if (was->suspect_index == now->index)
        return was->suspect_tag == digest_tag(now->digest);
    uint8_t at_held[PROCSUM_MAX_DIGEST];
    psum_page_digest_at_keyed(p->algo, psum_pass_key(p), bytes, was->suspect_index, at_held);
    return was->suspect_tag == digest_tag(at_held);
}

/* The same mapping as the listing this pass works from: nothing was unmapped and mapped there since. */
static bool same_mapping(const psum_os_region *listed, const psum_os_region *now)
{
    return now->start == listed->start && now->end == listed->end && now->prot == listed->prot &&
           now->kind == listed->kind && now->dev == listed->dev && now->ino == listed->ino &&
           (now->kind != PROCSUM_REGION_FILE || now->file_offset == listed->file_offset);
}

bool psum_pages_still_listed(psum_os_target *t, const psum_os_region *listed, uintptr_t addr, bool one_look)
{
    psum_os_region at;
    int err = psum_os_region_at(t, addr, &at);
    if (err)
        return err == PROCSUM_ENOSYS || (err == PROCSUM_EAGAIN && one_look);
    bool same = same_mapping(listed, &at);
    free(at.path);
    return same;
}

/*
 * Whether the mapping at addr is, now, the one the pass listed. Where the
 * platform cannot ask for one address but vouches for its reads (Windows,
 * this process: a module's pages are read under the loader's lock after
 * its identity was checked) the second read alone decides; else a page that
 * never settled would never be defended (a DLL loaded after the checker
 * started).
 */
static bool listed_now(psum_walk *w, const psum_os_region *listed, uintptr_t addr)
{
    return psum_pages_still_listed(w->p->target, listed, addr, false);
}

/* Whether a second read of the page gives the digest of the first. */
static bool reads_again(psum_walk *w, const psum_page_baseline *now)
{
    psum_pass *p = w->p;
    if (psum_os_read(p->target, now->addr, p->confirm_page, PROCSUM_PAGE_SIZE) != 0)
        return false;
    uint8_t again[PROCSUM_MAX_DIGEST];
    psum_page_digest_at_keyed(p->algo, psum_pass_key(p), p->confirm_page, now->index, again);
    return same_digest(again, now->digest, p->digest_len);
}

/*
 * A settled page read with other content than its baseline: a change, or a
 * range unmapped and mapped again since the regions were listed, caught
 * half made. Rather than wait a period for the next pass, look again now:
 * the mapping at the page must still be the one listed, and a second read
 * of the page must give the same content (and the mapping still be the one
 * listed after it). Only then is it a change.
 */
bool psum_pages_confirm_now(psum_walk *w, const psum_region_walk *rw, const psum_page_baseline *now)
{
    /* Listed before and after the second read: a range mapped anew in between cannot pass for the listed one. */
    return listed_now(w, rw->region, now->addr) && reads_again(w, now) && listed_now(w, rw->region, now->addr);
}

/*
 * Whether a page read in agreement with its tentative baseline may settle:
 * its region still mapped as listed, asked once per slice (after the slice
 * was read, so a range mapped again under the read is seen), and a second
 * read of the page agreeing.
 */
static bool may_settle(psum_walk *w, psum_region_walk *rw, const psum_page_baseline *now)
{
    if (rw->slice_listed == 0)
        rw->slice_listed = listed_now(w, rw->region, rw->region->start) ? 1 : -1;
    return rw->slice_listed > 0 && reads_again(w, now);
}

/*
 * A page-cache page whose digest came from the digest cache, and whose bytes
 * are needed after all (it differs from this process's baseline, or gets a
 * baseline that must be compared with its file): read from this process,
 * digested afresh, and published, the cache's digest being stale.
 */
static int fetch(psum_walk *w, psum_page_baseline *now, psum_digestcache_entry *shared, const uint8_t **bytes)
{
    psum_pass *p = w->p;
    uint64_t read_ns = psum_os_monotonic_ns();
    int err = psum_os_read(p->target, now->addr, p->fetch_page, PROCSUM_PAGE_SIZE);
    if (err)
        return err;
    p->bytes_read += PROCSUM_PAGE_SIZE;
    p->pages_shared--;
    psum_page_digest_at_keyed(p->algo, psum_pass_key(p), p->fetch_page, now->index, now->digest);
    if (!same_digest(shared->digest, now->digest, p->digest_len)) {
        memcpy(shared->digest, now->digest, p->digest_len);
        shared->flags = 0;
        shared->read_ns = read_ns;
        shared->publish = true;
    }
    *bytes = p->fetch_page;
    return 0;
}

/* The page gets its baseline: compared with its file, unless the cache says its digest already matched it. */
static int verify_new(psum_walk *w, psum_region_walk *rw, psum_page_baseline *now, const uint8_t *bytes,
                      psum_digestcache_entry *shared)
{
    psum_pass *p = w->p;
    if (!p->verify_new_pages || rw->region->kind != PROCSUM_REGION_FILE)
        return 0;
    if (shared) {
        unsigned enough = p->opts.verify_below_cache ? PSUM_DIGESTCACHE_MATCHED_DISK
                                                     : PSUM_DIGESTCACHE_MATCHED_CACHE | PSUM_DIGESTCACHE_MATCHED_DISK;
        if (shared->flags & enough)
            return 0;
        if (!bytes) {
            int err = fetch(w, now, shared, &bytes);
            if (err)
                return err;
        }
    }
    size_t found = p->file_findings.count;
    unsigned flags = shared ? shared->flags : 0;
    bool held;
    int err = psum_findings_verify_new_page(w, rw, now, bytes, shared ? &shared->flags : NULL, &held);
    if (shared)
        shared->publish = shared->publish || shared->flags != flags;
    if (p->file_findings.count > found)
        now->flags |= PSUM_PAGE_REPORTED;
    /* Read while its range was mapped again: not a baseline yet, the next passes tell what stays there. */
    if (held)
        now->state = PSUM_PAGE_TENTATIVE;
    return err;
}

/*
 * A reported page back in memory after it left (PSUM_PAGE_GONE): the file's
 * bytes again, confirmed, are its restore; anything else is a new page,
 * compared with its file once it settles (the same change made again too).
 */
static int came_back(psum_walk *w, psum_region_walk *rw, psum_page_baseline *now, const psum_page_baseline *was,
                     const uint8_t *bytes, psum_digestcache_entry *shared)
{
    psum_pass *p = w->p;
    if (!bytes) {
        int err = fetch(w, now, shared, &bytes);
        if (err)
            return err;
    }
    if (psum_file_page(p->files, rw->region, now->addr, false) != PROCSUM_FILE_COMPARED ||
        memcmp(p->files->page, bytes, PROCSUM_PAGE_SIZE) != 0 || !psum_pages_confirm_now(w, rw, now))
        return 0;
    now->state = PSUM_PAGE_SETTLED;
    return psum_findings_note_change(w, rw, now, was, bytes);
}

/* Compares a freshly hashed page with its baseline, if it has one, and moves it through psum_page_state. */
static int compare_page(psum_walk *w, psum_region_walk *rw, psum_page_baseline *now, const uint8_t *bytes,
                        psum_digestcache_entry *shared)
{
    const psum_snapshot *old = w->old;
    /* Pages of the very first pass are the program as started: settled at once. */
    now->state = old == NULL ? PSUM_PAGE_SETTLED : PSUM_PAGE_TENTATIVE;
    if (!old || w->old_cursor == old->page_count || old->pages[w->old_cursor].addr != now->addr)
        return old == NULL ? verify_new(w, rw, now, bytes, shared) : 0;
    const psum_page_baseline *was = &old->pages[w->old_cursor++];
    if (was->file != now->file || was->file_page != now->file_page)
        return 0; /* other content is mapped here now: it joins silently */
    if (was->flags & PSUM_PAGE_GONE)
        return came_back(w, rw, now, was, bytes, shared);
    psum_pass *p = w->p;
    /* Another process's digest of the page serves while it matches; otherwise this process's page is read. */
    if (!bytes && (was->index != now->index || !same_digest(was->digest, now->digest, p->digest_len))) {
        int err = fetch(w, now, shared, &bytes);
        if (err)
            return err;
    }
    if (matches_baseline(p, was, now, bytes)) {
        /*
         * A new page settles only while it is still mapped as listed and
         * reads the same: two reads of a range caught half mapped again (the
         * listing already stale) must not become its baseline.
         */
        if (was->state == PSUM_PAGE_TENTATIVE && !may_settle(w, rw, now))
            return 0;
        now->state = PSUM_PAGE_SETTLED;
        now->flags = was->flags; /* the same content as reported, or not */
        return was->state == PSUM_PAGE_TENTATIVE ? verify_new(w, rw, now, bytes, shared) : 0;
    }
    if (was->state == PSUM_PAGE_TENTATIVE)
        return 0; /* still being written: the new content starts over as tentative */
    uint32_t tag = digest_tag(now->digest);
    bool seen_before = was->state == PSUM_PAGE_SUSPECT && suspect_again(p, was, now, bytes);
    /*
     * A file's page is known by its file and offset: what a range mapped
     * anew holds is the file's content (and what its loader writes there,
     * the same again at the same address), not a change. Anonymous code is
     * known by its address only, and a range mapped anew, caught while being
     * written, can be listed the same before and after both reads (mapped
     * and made executable again in between): it is reported only when two
     * passes, each looking twice, read the same new content.
     */
    bool file = rw->region->kind == PROCSUM_REGION_FILE;
    bool looked_twice = (file && seen_before) || psum_pages_confirm_now(w, rw, now);
    bool confirmed = file ? looked_twice : seen_before && looked_twice;
    if (!confirmed) {
        /* Keep defending the old content until the next pass says whether this one stays. */
        uint32_t index = now->index;
        *now = *was;
        /* Anonymous content read once only is no sighting: the next pass does not count it. */
        now->state = file || looked_twice || seen_before ? PSUM_PAGE_SUSPECT : PSUM_PAGE_SETTLED;
        now->suspect_index = index;
        now->suspect_tag = tag;
        rw->held++;
        p->pages_held++;
        return 0;
    }
    now->state = PSUM_PAGE_SETTLED;
    return psum_findings_note_change(w, rw, now, was, bytes);
}

/*
 * Old pages below addr that were not read this pass are carried first: the
 * new baseline of the page at addr is then built in place, in the slot after
 * them.
 */
static void carry_before(psum_walk *w, uintptr_t addr)
{
    const psum_snapshot *old = w->old;
    if (old && w->old_cursor < old->page_count && old->pages[w->old_cursor].addr < addr)
        psum_pages_carry_below(w, addr, false);
}

static int take_one(psum_walk *w, psum_region_walk *rw, size_t index, const uint8_t *digest, const uint8_t *bytes,
                    psum_digestcache_entry *shared)
{
    const psum_os_region *r = rw->region;
    uintptr_t addr = r->start + index * PROCSUM_PAGE_SIZE;
    carry_before(w, addr);
    psum_page_baseline *pg = &w->out->pages[w->out->page_count];
    pg->addr = addr;
    pg->time_ns = w->now_ns;
    pg->file = rw->file;
    pg->file_page = page_in_file(r, addr);
    pg->index = (uint32_t)index;
    pg->suspect_index = 0;
    pg->suspect_tag = 0;
    pg->flags = 0;
    set_digest(pg->digest, digest, w->p->digest_len);
    int err = compare_page(w, rw, pg, bytes, shared);
    if (err)
        return err;
    if (pg->state == PSUM_PAGE_TENTATIVE)
        rw->unsettled++;
    if (pg->state != PSUM_PAGE_SETTLED || (pg->flags & PSUM_PAGE_GONE))
        w->p->pages_unquiet++;
    w->out->page_count++;
    return 0;
}

/*
 * A pass reads both page tables a period after the last one, when they are
 * out of every cache, a few records per slice between megabytes of hashing:
 * each slice's records would be waited for line after line. Asked for before
 * the slice is hashed, they arrive while it is.
 */
void psum_pages_prefetch(const psum_walk *w, size_t count)
{
    const psum_snapshot *old = w->old;
    if (old && w->old_cursor < old->page_count) {
        size_t n = old->page_count - w->old_cursor < count ? old->page_count - w->old_cursor : count;
        const uint8_t *from = (const uint8_t *)&old->pages[w->old_cursor];
        for (size_t off = 0; off < n * sizeof(psum_page_baseline); off += 64)
            __builtin_prefetch(from + off, 0, 3);
    }
    const uint8_t *to = (const uint8_t *)&w->out->pages[w->out->page_count];
    for (size_t off = 0; off < count * sizeof(psum_page_baseline); off += 64)
        __builtin_prefetch(to + off, 1, 3);
}

int psum_pages_take(psum_walk *w, psum_region_walk *rw, size_t first, size_t count, const uint8_t *digests,
                    const uint8_t *bytes)
{
    size_t len = w->p->digest_len;
    for (size_t k = 0; k < count; k++) {
        int err = take_one(w, rw, first + k, digests + k * len, bytes + k * PROCSUM_PAGE_SIZE, NULL);
        if (err)
            return err;
    }
    return 0;
}

int psum_pages_take_shared(psum_walk *w, psum_region_walk *rw, size_t index, const uint8_t *digest,
                           const uint8_t *bytes, psum_digestcache_entry *shared)
{
    return take_one(w, rw, index, digest, bytes, shared);
}
