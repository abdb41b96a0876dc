/* Byte runs, XOR masks and a verdict for one page that differs from its file. */
#include "filediff.h"

#include <stdbool.h>
#include <string.h>

static unsigned popcount8(uint8_t x)
{
    unsigned n = 0;
    for (; x; x &= (uint8_t)(x - 1))
        n++;
    return n;
}

typedef struct diff_state {
    const uint8_t *file, *mem;
    uintptr_t page_addr;
    uint64_t page_file_offset;
    procsum_byte_run *runs;
    size_t max_runs;
    size_t total;
    bool patch;
} diff_state;

/* Records the run [start, last]; changed is how many of its bytes differ. */
static void emit_run(diff_state *s, size_t start, size_t last, size_t changed)
{
    if (changed >= 2)
        s->patch = true;
    if (s->total < s->max_runs) {
        procsum_byte_run *r = &s->runs[s->total];
        memset(r, 0, sizeof(*r));
        r->addr = s->page_addr + start;
        r->file_offset = s->page_file_offset + start;
        r->len = last - start + 1;
        size_t keep = r->len < PROCSUM_RUN_BYTES ? r->len : PROCSUM_RUN_BYTES;
        for (size_t i = 0; i < keep; i++) {
            r->old_bytes[i] = s->file[start + i];
            r->new_bytes[i] = s->mem[start + i];
            r->xor_mask[i] = (uint8_t)(s->file[start + i] ^ s->mem[start + i]);
        }
    }
    s->total++;
}

size_t psum_page_diff(const uint8_t *file_page, const uint8_t *mem_page, uintptr_t page_addr,
                      uint64_t page_file_offset, procsum_byte_run *runs, size_t max_runs, size_t *changed_bytes,
                      size_t *changed_bits, procsum_verdict *verdict)
{
    diff_state s = {
        .file = file_page,
        .mem = mem_page,
        .page_addr = page_addr,
        .page_file_offset = page_file_offset,
        .runs = runs,
        .max_runs = runs ? max_runs : 0,
    };
    size_t bytes = 0, bits = 0;

    if (memcmp(file_page, mem_page, PROCSUM_PAGE_SIZE) != 0) {
        bool open = false;
        size_t start = 0, last = 0, in_run = 0;
        for (size_t i = 0; i < PROCSUM_PAGE_SIZE; i++) {
            uint8_t x = (uint8_t)(file_page[i] ^ mem_page[i]);
            if (!x)
                continue;
            unsigned b = popcount8(x);
            bytes++;
            bits += b;
            if (b >= 2)
                s.patch = true;
            if (open && i - last - 1 < PSUM_DIFF_MERGE_GAP) {
                last = i;
                in_run++;
                continue;
            }
            if (open)
                emit_run(&s, start, last, in_run);
            open = true;
            start = last = i;
            in_run = 1;
        }
        if (open)
            emit_run(&s, start, last, in_run);
    }

    if (changed_bytes)
        *changed_bytes = bytes;
    if (changed_bits)
        *changed_bits = bits;
    if (verdict) {
        if (bits == 0)
            *verdict = PROCSUM_VERDICT_RESTORED;
        else if (bits == 1)
            *verdict = PROCSUM_VERDICT_BITFLIP;
        else if (s.patch)
            *verdict = PROCSUM_VERDICT_PATCH;
        else
            *verdict = PROCSUM_VERDICT_MULTI_BIT;
    }
    return s.total;
}
