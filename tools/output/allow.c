/* Known changes and causes sent as state: the judgement on one changed page (pure code). */
#include "allow.h"

#include <string.h>

/* The page of a file mapping that holds file offset `offset`; a page of anything else never does. */
static bool page_holds(const procsum_region *r, const procsum_page_change *pc, const psum_allow_change *c)
{
    return r->kind == PROCSUM_REGION_FILE && strcmp(r->source, c->path) == 0 && c->offset >= pc->file_offset &&
           c->offset - pc->file_offset < PROCSUM_PAGE_SIZE;
}

psum_allowed psum_allow_judge(const psum_allow *a, const procsum_region *r, const procsum_page_change *pc)
{
    if (!a)
        return PSUM_ALLOWED_NOT;
    for (size_t i = 0; i < a->change_count; i++)
        if (page_holds(r, pc, &a->changes[i]))
            return PSUM_ALLOWED_SILENT;
    if ((unsigned)pc->cause < sizeof(a->state_causes) * 8 && (a->state_causes >> pc->cause) & 1u)
        return PSUM_ALLOWED_STATE;
    return PSUM_ALLOWED_NOT;
}
