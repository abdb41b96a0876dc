/* The file behind a page: its bytes for that page, and the page in memory described against them. */
#include "pagefile.h"

#include <string.h>

#include "filediff.h"

void psum_file_cache_close(psum_file_cache *fc)
{
    psum_os_file_close(fc->file);
    fc->file = NULL;
    fc->tried = false;
}

static procsum_file_status status_of(int err)
{
    return err == PROCSUM_ENOENT ? PROCSUM_FILE_REPLACED : PROCSUM_FILE_UNREADABLE;
}

procsum_file_status psum_file_page(psum_file_cache *fc, const psum_os_region *r, uintptr_t addr)
{
    if (r->kind != PROCSUM_REGION_FILE)
        return PROCSUM_FILE_NONE;
    if (r->file_deleted)
        return PROCSUM_FILE_REPLACED;
    if (r->relocated)
        return PROCSUM_FILE_RELOCATED;
    if (!fc->tried || fc->dev != r->dev || fc->ino != r->ino) {
        psum_file_cache_close(fc);
        fc->tried = true;
        fc->dev = r->dev;
        fc->ino = r->ino;
        fc->open_err = psum_os_file_open(r->path, r->dev, r->ino, &fc->file);
    }
    if (fc->open_err)
        return status_of(fc->open_err);
    uint64_t offset = r->file_offset + (addr - r->start);
    int err = psum_os_file_read(fc->file, offset, fc->page, PROCSUM_PAGE_SIZE, NULL);
    return err ? status_of(err) : PROCSUM_FILE_COMPARED;
}

void psum_describe_page(psum_file_cache *fc, const psum_os_region *r, uintptr_t addr, const uint8_t *bytes,
                        procsum_page_change *out)
{
    memset(out, 0, sizeof(*out));
    out->addr = addr;
    out->file_offset = r->kind == PROCSUM_REGION_FILE ? r->file_offset + (addr - r->start) : 0;
    out->file_status = psum_file_page(fc, r, addr);
    out->verdict = PROCSUM_VERDICT_UNKNOWN;
    if (out->file_status != PROCSUM_FILE_COMPARED)
        return;
    out->total_runs = psum_page_diff(fc->page, bytes, addr, out->file_offset, out->runs, PROCSUM_MAX_RUNS,
                                     &out->changed_bytes, &out->changed_bits, &out->verdict);
    out->run_count = out->total_runs < PROCSUM_MAX_RUNS ? out->total_runs : PROCSUM_MAX_RUNS;
}
