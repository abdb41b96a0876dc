/* Which pages of a slice the process has in memory: only those are read. */
#include "pass.h"

#include "walk.h"

/* Room for the flags of n pages: psum_pass_init made room for PSUM_RESIDENCY_PAGES. Returns how many fit. */
static size_t room_for(const psum_pass *p, size_t n)
{
    return n <= p->resident_cap ? n : p->resident_cap;
}

/*
 * With a digest cache, residency comes with which pages are page-cache
 * pages and their frames; where the platform cannot tell, no page is one,
 * and residency is asked as without a cache.
 */
static int ask(psum_pass *p, uintptr_t base, size_t n)
{
    if (p->shared && psum_os_page_frames(p->target, base, n, p->resident, p->cached, p->frames) == 0) {
        psum_quiet_note_ask(p, base, n);
        return 0;
    }
    p->record_failed = true; /* residency alone: no entries for a quiet pass to compare */
    if (p->shared) {
        for (size_t i = 0; i < n; i++) {
            p->cached[i] = false;
            p->frames[i] = 0;
        }
    }
    return psum_os_resident(p->target, base, n, p->resident);
}

/*
 * Between two selected regions at most this far apart (a library's data and
 * the next one's headers lie between their code), residency is asked in one
 * question: a watch asks for every region of every process every pass, and
 * a system call costs more than the entries of the pages between.
 */
#define SPAN_GAP_PAGES 64

uintptr_t psum_residency_span(const psum_pass *p, const psum_os_region_list *mapped, size_t i)
{
    const psum_os_region *r = &mapped->items[i];
    uintptr_t end = r->end;
    if (!p->shared)
        return end; /* a checker of its own: a region at a time, as it always was */
    for (size_t k = i + 1; k < mapped->count; k++) {
        const psum_os_region *next = &mapped->items[k];
        if (!psum_region_selected(next, &p->opts))
            continue;
        if (next->start < end || (next->start - end) / PROCSUM_PAGE_SIZE > SPAN_GAP_PAGES ||
            (next->end - r->start) / PROCSUM_PAGE_SIZE > PSUM_RESIDENCY_PAGES)
            break;
        end = next->end;
    }
    return end;
}

/*
 * Points p->slice_resident at the flags telling which of the n pages from
 * base to read: all of them, or those in memory. Residency is asked once
 * for the rest of the region (it ends at `end`, or further: psum_residency_span), up to PSUM_RESIDENCY_PAGES
 * pages: one system call per region rather than per slice. A page that
 * leaves memory while the region is read is read all the same (and mapped
 * back in): the region takes milliseconds, unless a CPU budget stretches
 * it. Returns how many pages to read.
 */
size_t psum_residency_mark(psum_pass *p, uintptr_t base, size_t n, uintptr_t end)
{
    bool have = p->resident_count > 0 && base >= p->resident_base &&
                (base - p->resident_base) / PROCSUM_PAGE_SIZE + n <= p->resident_count;
    if (!have) {
        size_t ahead = (end - base) / PROCSUM_PAGE_SIZE;
        ahead = ahead < PSUM_RESIDENCY_PAGES ? ahead : PSUM_RESIDENCY_PAGES;
        ahead = room_for(p, ahead < n ? n : ahead);
        p->resident_base = base;
        p->resident_count = ahead;
        /* Everything is read with include_nonresident: residency is asked only for which pages are shared. */
        bool all = p->opts.include_nonresident && !p->shared;
        if (all || ask(p, base, ahead) != 0 || p->opts.include_nonresident) {
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
