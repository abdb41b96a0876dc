/* The file behind a page: its bytes for that page, and the page in memory described against them. */
#include "pagefile.h"

#include <string.h>

#include "cause.h"
#include "filediff.h"

void psum_file_cache_close(psum_file_cache *fc)
{
    psum_os_file_close(fc->file);
    fc->file = NULL;
    fc->tried = false;
}

void psum_file_cache_free(psum_file_cache *fc)
{
    psum_file_cache_close(fc);
    psum_describer_free(fc->describer);
    fc->describer = NULL;
}

static procsum_file_status status_of(int err)
{
    return err == PROCSUM_ENOENT ? PROCSUM_FILE_REPLACED : PROCSUM_FILE_UNREADABLE;
}

/* Opens r's file unless it is the one already open; its status when it cannot be compared. */
static procsum_file_status open_for(psum_file_cache *fc, const psum_os_region *r)
{
    if (r->kind != PROCSUM_REGION_FILE)
        return PROCSUM_FILE_NONE;
    if (r->relocated)
        return PROCSUM_FILE_RELOCATED;
    if (!fc->tried || fc->dev != r->dev || fc->ino != r->ino) {
        psum_file_cache_close(fc);
        fc->tried = true;
        fc->dev = r->dev;
        fc->ino = r->ino;
        /* A deleted file is still reached where the platform opens it as the process maps it. */
        fc->open_err = psum_os_file_open_mapped(fc->target, r, &fc->file);
    }
    return fc->open_err ? status_of(fc->open_err) : PROCSUM_FILE_COMPARED;
}

procsum_file_status psum_file_page(psum_file_cache *fc, const psum_os_region *r, uintptr_t addr, bool below_cache)
{
    fc->reference = PROCSUM_REFERENCE_NONE;
    procsum_file_status status = open_for(fc, r);
    if (status != PROCSUM_FILE_COMPARED)
        return status;
    uint64_t offset = r->file_offset + (addr - r->start);
    int err = below_cache ? psum_os_file_read_below_cache(fc->file, offset, fc->page, PROCSUM_PAGE_SIZE)
                          : PROCSUM_ENOSYS;
    if (err == 0) {
        fc->reference = PROCSUM_REFERENCE_DISK;
        return PROCSUM_FILE_COMPARED;
    }
    /* Refused below the cache (tmpfs): compared with the cache, and the reference says so. */
    if (err != PROCSUM_ENOSYS)
        return status_of(err);
    err = psum_os_file_read(fc->file, offset, fc->page, PROCSUM_PAGE_SIZE, NULL);
    if (err)
        return status_of(err);
    fc->reference = PROCSUM_REFERENCE_CACHE;
    return PROCSUM_FILE_COMPARED;
}

bool psum_file_not_mapped(psum_file_cache *fc, const psum_os_region *r, uintptr_t addr, const uint8_t *bytes)
{
    uint8_t cached[PROCSUM_PAGE_SIZE];
    if (open_for(fc, r) != PROCSUM_FILE_COMPARED)
        return false;
    uint64_t offset = r->file_offset + (addr - r->start);
    return psum_os_file_read(fc->file, offset, cached, sizeof(cached), NULL) == 0 &&
           memcmp(cached, bytes, sizeof(cached)) != 0;
}

bool psum_file_state(psum_file_cache *fc, const psum_os_region *r, psum_os_file_state *out)
{
    return open_for(fc, r) == PROCSUM_FILE_COMPARED && psum_os_file_state_of(fc->file, out) == 0;
}

/*
 * Not written since: the same size and times. A new change time with other
 * links is a name added or taken (a package upgrade renames the new file
 * over the old, whose last link goes), which writes no byte.
 */
static bool same_state(const psum_os_file_state *a, const psum_os_file_state *b)
{
    return a->size == b->size && a->mtime_ns == b->mtime_ns && (a->ctime_ns == b->ctime_ns || a->links != b->links);
}

/*
 * Every changed byte an int3: what breakpoints and uprobes write on x86, one
 * byte each. Two of them on instructions less than 8 bytes apart (a
 * function's entry and its third instruction) share a run, so each changed
 * byte of a run is looked at, not only its first.
 */
static bool int3_only(const procsum_page_change *pc)
{
    if (pc->total_runs == 0 || pc->total_runs > pc->run_count)
        return false;
    for (size_t i = 0; i < pc->run_count; i++) {
        const procsum_byte_run *run = &pc->runs[i];
        if (run->len > PROCSUM_RUN_BYTES)
            return false;
        for (size_t j = 0; j < run->len; j++)
            if (run->xor_mask[j] && run->new_bytes[j] != 0xCC)
                return false;
    }
    return true;
}

/* Every run a single changed byte: the only int3s taken for a debugger's where instructions are unknown. */
static bool int3_alone(const procsum_page_change *pc)
{
    for (size_t i = 0; i < pc->run_count; i++)
        if (pc->runs[i].len != 1)
            return false;
    return true;
}

void psum_describe_page(psum_file_cache *fc, const psum_os_region *r, uintptr_t addr, const uint8_t *bytes,
                        const psum_page_context *ctx, procsum_page_change *out)
{
    memset(out, 0, sizeof(*out));
    out->addr = addr;
    out->file_offset = r->kind == PROCSUM_REGION_FILE ? r->file_offset + (addr - r->start) : 0;
    out->verdict = PROCSUM_VERDICT_UNKNOWN;
    out->copy = ctx->copy;
    psum_cause_facts facts = {.copy = ctx->copy, .relocated = r->relocated, .uprobes_mapped = ctx->uprobes_mapped};
    psum_os_file_state now;
    facts.file_changed = ctx->state_known && psum_file_state(fc, r, &now) && !same_state(&now, &ctx->state);
    if (facts.file_changed) {
        /*
         * Written in place since the baseline: the file's bytes now are not
         * what the page held, so none is shown as old. Does memory follow it?
         */
        out->file_status = PROCSUM_FILE_MODIFIED;
        facts.follows_file = psum_file_page(fc, r, addr, false) == PROCSUM_FILE_COMPARED &&
                             memcmp(fc->page, bytes, PROCSUM_PAGE_SIZE) == 0;
        out->cause = psum_cause_decide(&facts);
        return;
    }
    out->file_status = psum_file_page(fc, r, addr, ctx->below_cache && ctx->copy == PROCSUM_COPY_SHARED);
    /*
     * The file's own page, the file's bytes before and after: the page and
     * its file changed together, written in place (through a shared
     * mapping, with times that did not move: tmpfs, a memfd), not restored.
     */
    if (out->file_status == PROCSUM_FILE_COMPARED && ctx->was_file && ctx->copy == PROCSUM_COPY_SHARED &&
        memcmp(fc->page, bytes, PROCSUM_PAGE_SIZE) == 0) {
        out->file_status = PROCSUM_FILE_MODIFIED;
        facts.file_changed = facts.follows_file = true;
        out->cause = psum_cause_decide(&facts);
        return;
    }
    if (out->file_status == PROCSUM_FILE_COMPARED) {
        out->reference = fc->reference;
        out->total_runs = psum_page_diff(fc->page, bytes, addr, out->file_offset, out->runs, PROCSUM_MAX_RUNS,
                                         &out->changed_bytes, &out->changed_bits, &out->verdict);
        out->run_count = out->total_runs < PROCSUM_MAX_RUNS ? out->total_runs : PROCSUM_MAX_RUNS;
        facts.reference = out->reference;
        facts.differs = out->changed_bytes > 0;
        facts.int3_only = int3_only(out);
        /* Only a report gets here: what the file's symbols and code say of the change. */
        if (out->run_count && (fc->describer || psum_describer_new(&fc->describer, fc->made_in) == 0)) {
            psum_code_view view = {.target = ctx->target, .region = r, .mapped = ctx->mapped, .file = fc->file,
                                   .old_page = fc->page, .new_page = bytes};
            psum_describe_code(fc->describer, &view, out);
            if (facts.int3_only)
                facts.int3_place = psum_describe_int3_place(fc->describer, &view, out);
        }
        if (facts.int3_place == PSUM_INSN_PLACE_UNKNOWN && !int3_alone(out))
            facts.int3_only = false;
        if (facts.int3_only) {
            facts.traced = psum_os_traced(ctx->target);
            facts.uprobe_listed = psum_os_uprobe_in(r->dev, r->ino, out->file_offset, PROCSUM_PAGE_SIZE);
        }
    }
    out->cause = psum_cause_decide(&facts);
}
