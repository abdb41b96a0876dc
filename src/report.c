#include "report.h"

#include <string.h>

void psum_region_view(const psum_os_region *r, procsum_region *out)
{
    out->start = r->start;
    out->end = r->end;
    out->source = r->path;
    out->kind = r->kind;
    out->main_executable = r->main_executable;
    out->writable = (r->prot & PSUM_PROT_W) != 0;
    out->file_deleted = r->file_deleted;
    out->file_offset = r->kind == PROCSUM_REGION_FILE ? r->file_offset : 0;
    memset(out->digest, 0, sizeof(out->digest));
    out->digest_valid = false;
}

void psum_report_change(const psum_change *ch, procsum_algorithm algo, procsum_callback cb, void *userdata)
{
    if (!cb)
        return;
    procsum_region region;
    psum_region_view(ch->region, &region);
    memcpy(region.digest, ch->region_digest, psum_digest_len(algo));
    region.digest_valid = !ch->digest_is_page;
    procsum_mismatch m = {
        .region = &region,
        .algorithm = algo,
        .old_digest = ch->old_digest,
        .new_digest = ch->new_digest,
        .digest_len = psum_digest_len(algo),
        .old_digest_time = {.tv_sec = (time_t)(ch->old_time_ns / 1000000000),
                            .tv_nsec = (long)(ch->old_time_ns % 1000000000)},
        .first_changed_page = ch->pages[0],
        .changed_pages = ch->page_count,
        .digest_is_page = ch->digest_is_page,
        .changed_page_addrs = ch->pages,
        .kind = ch->kind,
        .page_changes = ch->page_changes,
    };
    cb(&m, userdata);
}
