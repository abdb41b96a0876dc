/* What a pass found in a region: pages changed or differing from their file, repaired if asked, then reported. */
#include "pass.h"

#include <stdlib.h>
#include <string.h>

#include "walk.h"

void psum_findings_clear(psum_findings *f)
{
    for (size_t i = 0; i < f->count; i++)
        psum_page_change_free_text(&f->pages[i]);
    f->count = 0;
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
 * What the comparison of the page at addr needs to know besides its bytes.
 * Which copy the page is costs a system call: asked only where it is
 * needed (ask_copy), not for every page that gets a baseline.
 */
static psum_page_context page_context(const psum_walk *w, const psum_region_walk *rw, uintptr_t addr, bool ask_copy)
{
    const psum_pass *p = w->p;
    const psum_file_id *file = &w->out->files[rw->file];
    psum_page_context ctx = {
        .target = p->target,
        .copy = ask_copy ? psum_os_page_copy(p->target, addr) : PROCSUM_COPY_UNKNOWN,
        .below_cache = p->opts.verify_below_cache,
        .state_known = rw->file != 0 && file->state_known,
        .uprobes_mapped = w->uprobes_mapped,
        .mapped = w->mapped,
    };
    if (ctx.state_known)
        ctx.state = file->state;
    return ctx;
}

/*
 * Writes the file's bytes back over a changed page and makes them its
 * baseline: only where the file is the one mapped and its page still
 * hashes to the page's baseline, so that bytes written into the file since
 * never reach running code. The region's digest of this pass no longer
 * holds, so the region is counted as repaired.
 */
static void repair_page(psum_walk *w, psum_region_walk *rw, psum_page_baseline *now, const psum_page_baseline *was,
                        procsum_page_change *pc)
{
    psum_pass *p = w->p;
    if (!p->opts.repair || pc->verdict == PROCSUM_VERDICT_RESTORED)
        return;
    if (pc->file_status == PROCSUM_FILE_MODIFIED) {
        pc->repair = PROCSUM_REPAIR_REFUSED_FILE_CHANGED;
        return;
    }
    if (pc->file_status != PROCSUM_FILE_COMPARED) {
        pc->repair = PROCSUM_REPAIR_REFUSED_NO_FILE;
        return;
    }
    uint8_t file_digest[PROCSUM_MAX_DIGEST];
    psum_page_digest_at_keyed(p->algo, psum_pass_key(p), p->files->page, was->index, file_digest);
    if (memcmp(file_digest, was->digest, p->digest_len) != 0) {
        pc->repair = PROCSUM_REPAIR_REFUSED_FILE_CHANGED;
        return;
    }
    if (psum_os_write(p->target, now->addr, p->files->page, PROCSUM_PAGE_SIZE) != 0) {
        pc->repair = PROCSUM_REPAIR_FAILED;
        return;
    }
    /* A write gives the process its own copy: the page cache's bad copy stays for everyone else. */
    pc->repair = pc->copy == PROCSUM_COPY_SHARED ? PROCSUM_REPAIR_DONE_PRIVATE : PROCSUM_REPAIR_DONE;
    pc->repaired = true;
    rw->repaired++;
    psum_page_digest_at_keyed(p->algo, psum_pass_key(p), p->files->page, now->index, now->digest);
}

int psum_findings_note_change(psum_walk *w, psum_region_walk *rw, psum_page_baseline *now,
                              const psum_page_baseline *was, const uint8_t *bytes)
{
    psum_pass *p = w->p;
    if (psum_describe_would_load(p->files->made_in))
        return PSUM_PASS_LOAD_FIRST;
    procsum_page_change *pc =
        add_finding(&p->changes, now->addr, was->digest, now->digest, p->digest_len, was->time_ns);
    if (!pc)
        return PROCSUM_ENOMEM;
    psum_page_context ctx = page_context(w, rw, now->addr, true);
    /* A page that got its baseline compared with its file, and was not reported since, held the file's bytes. */
    ctx.was_file = p->verify_new_pages && !(was->flags & PSUM_PAGE_REPORTED);
    psum_describe_page(p->files, rw->region, now->addr, bytes, &ctx, pc);
    /* Content that is not the file's (a restore, or memory following its file, is the file's): see PSUM_PAGE_REPORTED. */
    if (pc->verdict == PROCSUM_VERDICT_RESTORED || pc->cause == PROCSUM_CAUSE_FILE_MODIFIED)
        now->flags &= (uint8_t)~PSUM_PAGE_REPORTED;
    else
        now->flags |= PSUM_PAGE_REPORTED;
    repair_page(w, rw, now, was, pc);
    if (pc->repaired)
        now->flags &= (uint8_t)~PSUM_PAGE_REPORTED; /* written back: the file's bytes */
    /* Memory follows the file as it is now: that is the file the pages are compared with from here on. */
    if (pc->cause == PROCSUM_CAUSE_FILE_MODIFIED) {
        psum_file_id *file = &w->out->files[rw->file];
        file->state_known = psum_file_state(p->files, rw->region, &file->state);
    }
    return 0;
}

/*
 * A page gets its baseline: with verify_file, compare it with its file, and
 * report it once if it already differs (a hook installed before procsum
 * started, a breakpoint, a text relocation).
 */
int psum_findings_verify_new_page(psum_walk *w, psum_region_walk *rw, const psum_page_baseline *now,
                                  const uint8_t *bytes, unsigned *flags, bool *held)
{
    *held = false;
    psum_pass *p = w->p;
    if (!p->verify_new_pages || rw->region->kind != PROCSUM_REGION_FILE)
        return 0;
    /* The page cache's own page is the file as cached: only the disk below can tell it is wrong. */
    psum_page_context ctx = page_context(w, rw, now->addr, p->opts.verify_below_cache);
    bool below = ctx.below_cache && ctx.copy == PROCSUM_COPY_SHARED;
    if (psum_file_page(p->files, rw->region, now->addr, below) != PROCSUM_FILE_COMPARED)
        return 0;
    if (memcmp(p->files->page, bytes, PROCSUM_PAGE_SIZE) == 0) {
        if (flags)
            *flags |= below ? PSUM_DIGESTCACHE_MATCHED_DISK : PSUM_DIGESTCACHE_MATCHED_CACHE;
        return 0;
    }
    /* Another library loaded where the listed one was (a dlclose and a dlopen) is other content, not a change. */
    if (!psum_pages_confirm_now(w, rw, now)) {
        *held = true;
        return 0;
    }
    /* The page cache's page, unlike what the file opened caches: that file is not the one mapped. */
    if (ctx.copy == PROCSUM_COPY_SHARED && psum_file_not_mapped(p->files, rw->region, now->addr, bytes))
        return 0;
    if (psum_describe_would_load(p->files->made_in))
        return PSUM_PASS_LOAD_FIRST;
    uint8_t file_digest[PROCSUM_MAX_DIGEST];
    psum_page_digest_at_keyed(p->algo, psum_pass_key(p), p->files->page, now->index, file_digest);
    procsum_page_change *pc =
        add_finding(&p->file_findings, now->addr, file_digest, now->digest, p->digest_len, now->time_ns);
    if (!pc)
        return PROCSUM_ENOMEM;
    if (!ctx.below_cache)
        ctx.copy = psum_os_page_copy(p->target, now->addr);
    psum_describe_page(p->files, rw->region, now->addr, bytes, &ctx, pc);
    return 0;
}

void psum_findings_report(psum_walk *w, const psum_region_walk *rw, const psum_findings *f,
                          procsum_report_kind kind, const uint8_t *region_digest, bool complete,
                          psum_change_fn on_change, void *userdata)
{
    /*
     * Region digests before and after exist only for changes, when both
     * passes read the whole region and nothing was written back.
     */
    bool whole = kind == PROCSUM_REPORT_CHANGED && complete && rw->repaired == 0;
    const psum_region_baseline *was = whole ? psum_table_find_region(w->old, rw->region) : NULL;
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
