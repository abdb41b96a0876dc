/* Which pages of a slice the process has in memory: only those are read. */
#include "pass.h"

#include "walk.h"

/*
 * Points p->slice_resident at the flags telling which of the n pages from
 * base to read: all of them, or those in memory. Residency is asked ahead
 * for up to PSUM_RESIDENCY_PAGES pages of the region (it ends at `end`): a
 * page that leaves memory within those few milliseconds is read all the
 * same. Returns how many pages to read.
 */
size_t psum_residency_mark(psum_pass *p, uintptr_t base, size_t n, uintptr_t end)
{
    bool have = p->resident_count > 0 && base >= p->resident_base &&
                (base - p->resident_base) / PROCSUM_PAGE_SIZE + n <= p->resident_count;
    if (!have) {
        size_t ahead = (end - base) / PROCSUM_PAGE_SIZE;
        ahead = ahead < PSUM_RESIDENCY_PAGES ? ahead : PSUM_RESIDENCY_PAGES;
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
