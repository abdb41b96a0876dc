/* Which regions a pass reads, and how many pages they hold. */
#include "pass.h"

#include "walk.h"
#include "glob.h"

bool psum_region_selected(const psum_os_region *r, const procsum_options *o)
{
    /* Execute-only memory ([vsyscall], --x mappings) cannot be read, so it is never touched. */
    if (!(r->prot & PSUM_PROT_R) || !(r->prot & PSUM_PROT_X))
        return false;
    if ((r->prot & PSUM_PROT_W) && !o->include_writable_code)
        return false;
    if (o->skip_libs && !r->main_executable)
        return false;
    if (o->skip_files && r->kind == PROCSUM_REGION_FILE && r->path && psum_glob_any(o->skip_files, r->path))
        return false;
    /* Bounds not on page boundaries never come from a kernel; refuse rather than misread. */
    return r->start % PROCSUM_PAGE_SIZE == 0 && r->end % PROCSUM_PAGE_SIZE == 0 && r->end > r->start;
}

void psum_select_size(const psum_os_region_list *mapped, const procsum_options *o, size_t *pages,
                      size_t *regions)
{
    *pages = 0;
    *regions = 0;
    for (size_t i = 0; i < mapped->count; i++) {
        if (psum_region_selected(&mapped->items[i], o)) {
            *pages += (mapped->items[i].end - mapped->items[i].start) / PROCSUM_PAGE_SIZE;
            (*regions)++;
        }
    }
}
