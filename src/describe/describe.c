/* The function and the instructions around a change, and where its int3s lie, for reports. */
#include "describe.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disasm.h"
#include "symbols.h"
#include "text.h"

/* A function is decoded from its start only this far: a change further in says nothing of its instructions. */
#define MAX_LEAD ((uint64_t)64 << 10)
/* Bytes after a run that an instruction covering its end may still need (x86's longest is 15). */
#define TAIL 16u
#define TEXT_MAX 256u

struct psum_describer {
    psum_symbols *symbols;
    psum_disasm *disasm; /* NULL when the build has no decoder */
};

int psum_describer_new(psum_describer **out, uint64_t made_in)
{
    psum_describer *d = calloc(1, sizeof(*d));
    if (!d)
        return PROCSUM_ENOMEM;
    int err = psum_symbols_new(&d->symbols, made_in);
    if (err) {
        free(d);
        return err;
    }
    err = psum_disasm_new(&d->disasm, made_in);
    if (err && err != PROCSUM_ENOSYS) {
        psum_describer_free(d);
        return err;
    }
    *out = d;
    return 0;
}

bool psum_describe_would_load(uint64_t made_in)
{
    return psum_os_process_id() == made_in && !(psum_os_symbols_loaded(false) && psum_disasm_loaded(false));
}

void psum_describe_load(uint64_t made_in)
{
    if (psum_os_process_id() == made_in) {
        (void)psum_os_symbols_loaded(true);
        (void)psum_disasm_loaded(true);
    }
}

void psum_describer_free(psum_describer *d)
{
    if (!d)
        return;
    psum_symbols_free(d->symbols);
    psum_disasm_free(d->disasm);
    free(d);
}

void psum_page_change_free_text(procsum_page_change *pc)
{
    free((void *)(uintptr_t)pc->symbol);
    free((void *)(uintptr_t)pc->old_insn);
    free((void *)(uintptr_t)pc->new_insn);
    pc->symbol = pc->old_insn = pc->new_insn = NULL;
}

/* The file offset of the first byte of the page pc is about. */
static uint64_t page_offset(const procsum_page_change *pc)
{
    return pc->file_offset;
}

/*
 * The file's code from the function's start to `len` bytes: the page's own
 * bytes from old_page (read from the disk where that is what memory was
 * compared with), the rest from the file. NULL when out of memory or
 * unreadable.
 */
static uint8_t *old_code(const psum_code_view *v, const procsum_page_change *pc, uint64_t from, size_t len)
{
    uint8_t *buf = malloc(len);
    if (!buf)
        return NULL;
    if (psum_os_file_read(v->file, from, buf, len, NULL) != 0) {
        free(buf);
        return NULL;
    }
    uint64_t p0 = page_offset(pc), p1 = p0 + PROCSUM_PAGE_SIZE;
    uint64_t lo = from > p0 ? from : p0, hi = from + len < p1 ? from + len : p1;
    if (lo < hi)
        memcpy(buf + (lo - from), v->old_page + (lo - p0), hi - lo);
    return buf;
}

/*
 * Memory's bytes [addr, addr + *len): the page's from new_page, the rest
 * read from the process. A part after the page that cannot be read shortens
 * *len; false when a part before it cannot.
 */
static bool new_code(const psum_code_view *v, const procsum_page_change *pc, uintptr_t addr, uint8_t *buf, size_t *len)
{
    uintptr_t p0 = pc->addr, p1 = p0 + PROCSUM_PAGE_SIZE, end = addr + *len;
    if (addr < p0) {
        size_t n = (size_t)((end < p0 ? end : p0) - addr);
        if (psum_os_read(v->target, addr, buf, n) != 0)
            return false;
    }
    uintptr_t lo = addr > p0 ? addr : p0, hi = end < p1 ? end : p1;
    if (lo < hi)
        memcpy(buf + (lo - addr), v->new_page + (lo - p0), hi - lo);
    if (end > p1 && psum_os_read(v->target, p1, buf + (p1 - addr), (size_t)(end - p1)) != 0)
        *len = (size_t)(p1 - addr);
    return true;
}

/* A jump's target as what is mapped there: module+offset in its file, or what kind of memory. */
static void name_target(void *ctx, uint64_t target, char *out, size_t cap)
{
    const psum_os_region_list *mapped = ctx;
    const psum_os_region *r = NULL;
    for (size_t i = 0; mapped && i < mapped->count && !r; i++)
        if (target >= mapped->items[i].start && target < mapped->items[i].end)
            r = &mapped->items[i];
    if (r && r->kind == PROCSUM_REGION_FILE && r->path) {
        const char *base = r->path;
        for (const char *p = r->path; *p; p++)
            if (*p == '/' || *p == '\\')
                base = p + 1;
        snprintf(out, cap, "%s+0x%" PRIx64, base, r->file_offset + (target - r->start));
    } else if (r) {
        snprintf(out, cap, "0x%" PRIx64 " (%s)", target,
                 r->kind == PROCSUM_REGION_ANON ? "anonymous memory" : r->path ? r->path : "unnamed memory");
    } else {
        snprintf(out, cap, "0x%" PRIx64 " (no executable mapping)", target);
    }
}

/* The function holding the byte at file offset off, and its start address given that byte's address. */
static bool function_of(psum_describer *d, const psum_code_view *v, uint64_t off, psum_symbol_hit *hit)
{
    return psum_symbols_find(d->symbols, v->file, v->region->dev, v->region->ino, off, hit) &&
           off - hit->file_offset <= MAX_LEAD;
}

/* Where the instruction of the file's code holding the run's first byte starts; false when unknown. */
static bool insn_start(psum_describer *d, const psum_code_view *v, const procsum_page_change *pc,
                       const procsum_byte_run *run, const psum_symbol_hit *hit, uintptr_t *start)
{
    size_t lead = (size_t)(run->file_offset - hit->file_offset);
    uintptr_t fn = run->addr - lead;
    uint8_t *code = old_code(v, pc, hit->file_offset, lead + TAIL);
    if (!code)
        return false;
    uint64_t at;
    bool ok = psum_disasm_start_of(d->disasm, hit->machine, code, lead + TAIL, fn, run->addr, &at);
    free(code);
    *start = (uintptr_t)at;
    return ok;
}

void psum_describe_code(psum_describer *d, const psum_code_view *v, procsum_page_change *pc)
{
    if (!d || pc->run_count == 0)
        return;
    const procsum_byte_run *run = &pc->runs[0];
    psum_symbol_hit hit;
    if (!function_of(d, v, run->file_offset, &hit))
        return;
    char text[TEXT_MAX];
    snprintf(text, sizeof(text), "%s+0x%" PRIx64, hit.name, run->file_offset - hit.file_offset);
    pc->symbol = psum_text_dup(text);
    uintptr_t start;
    if (!insn_start(d, v, pc, run, &hit, &start))
        return;
    /* The instructions from there that start before the run ends, before and after the change. */
    uintptr_t end = run->addr + run->len;
    size_t len = (size_t)(end - start) + TAIL;
    uint64_t from = run->file_offset - (run->addr - start);
    uint8_t *old = old_code(v, pc, from, len);
    uint8_t *now = malloc(len);
    if (old && psum_disasm_text(d->disasm, hit.machine, old, len, start, end, name_target, (void *)(uintptr_t)v->mapped,
                                text, sizeof(text)))
        pc->old_insn = psum_text_dup(text);
    size_t now_len = len;
    if (now && new_code(v, pc, start, now, &now_len) &&
        psum_disasm_text(d->disasm, hit.machine, now, now_len, start, end, name_target, (void *)(uintptr_t)v->mapped,
                         text, sizeof(text)))
        pc->new_insn = psum_text_dup(text);
    free(old);
    free(now);
}

psum_insn_place psum_describe_int3_place(psum_describer *d, const psum_code_view *v, const procsum_page_change *pc)
{
    if (!d)
        return PSUM_INSN_PLACE_UNKNOWN;
    psum_insn_place place = PSUM_INSN_PLACE_START;
    for (size_t i = 0; i < pc->run_count; i++) {
        size_t shown = pc->runs[i].len < PROCSUM_RUN_BYTES ? pc->runs[i].len : PROCSUM_RUN_BYTES;
        /* Each changed byte where it is: breakpoints less than 8 bytes apart share a run. */
        for (size_t j = 0; j < shown; j++) {
            if (!pc->runs[i].xor_mask[j])
                continue;
            procsum_byte_run run = pc->runs[i];
            run.addr += j;
            run.file_offset += j;
            psum_symbol_hit hit;
            uintptr_t start;
            bool x86 = false;
            if (function_of(d, v, run.file_offset, &hit))
                x86 = hit.machine == PSUM_MACHINE_X86_64 || hit.machine == PSUM_MACHINE_X86_32;
            if (!x86 || !insn_start(d, v, pc, &run, &hit, &start))
                place = PSUM_INSN_PLACE_UNKNOWN;
            else if (start != run.addr)
                return PSUM_INSN_PLACE_INSIDE;
        }
    }
    return pc->run_count ? place : PSUM_INSN_PLACE_UNKNOWN;
}
