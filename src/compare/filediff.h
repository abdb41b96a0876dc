/*
 * Byte and bit differences between one page as it is in memory and the same
 * page as its file holds it: the "exact report" behind a digest mismatch.
 *
 * Core code: no platform header. The caller reads the file page (through
 * psum_os_file_read, which zero-fills past the end of the file exactly as
 * the kernel fills the tail of a mapping's last page) and the memory page
 * (through psum_os_read), and hands both here.
 *
 * Definitions (all per page of PROCSUM_PAGE_SIZE bytes):
 *  - A changed byte is one whose file and memory values differ.
 *  - A run is a stretch from a changed byte to a changed byte. Two changed
 *    bytes with fewer than PSUM_DIFF_MERGE_GAP (8) equal bytes between them
 *    belong to the same run; PSUM_DIFF_MERGE_GAP or more equal bytes start a
 *    new run. A run therefore always begins and ends with a changed byte and
 *    may hold up to 7 equal bytes in each of its gaps; `len` counts all of
 *    them. Runs never cross the page's bounds.
 *  - changed_bytes counts changed bytes; changed_bits counts the set bits of
 *    all their XORs (the Hamming distance of the two pages).
 *  - Verdict (a procsum_verdict), first rule that applies:
 *      RESTORED   no byte differs (the page equals the file);
 *      BITFLIP    exactly one bit differs in the whole page;
 *      PATCH      some changed byte differs in 2 or more bits (a whole-byte
 *                 replacement such as an int3, 0xCC, over an instruction),
 *                 or some run holds 2 or more changed bytes (several bytes
 *                 written together: a jmp/call hook, a NOP sled);
 *      MULTI_BIT  otherwise: several bits differ, each in its own byte, each
 *                 such byte at least PSUM_DIFF_MERGE_GAP equal bytes away
 *                 from any other changed byte (scattered single-bit errors).
 *    A single-bit patch (jz 0x74 -> jnz 0x75, or int3 written over an
 *    "int imm8", 0xCD) is a BITFLIP: one bit is all that can be seen.
 */
#ifndef PSUM_FILEDIFF_H
#define PSUM_FILEDIFF_H

#include <stddef.h>
#include <stdint.h>

#include "procsum.h"

/* Equal bytes that separate two runs; fewer merge them into one. */
#define PSUM_DIFF_MERGE_GAP 8u

/*
 * Compares the PROCSUM_PAGE_SIZE bytes of file_page (what the file holds)
 * with mem_page (what memory holds now). page_addr and page_file_offset are
 * the page's address and file offset; the runs' addresses and offsets are
 * derived from them.
 *
 * Fills runs[0 .. min(total, max_runs)) in ascending address order and
 * returns the total number of runs (which may exceed max_runs; runs beyond
 * max_runs are counted, not stored, and still decide the verdict). runs may
 * be NULL when max_runs is 0. changed_bytes, changed_bits and verdict may
 * each be NULL. Never fails, never allocates.
 */
size_t psum_page_diff(const uint8_t *file_page, const uint8_t *mem_page, uintptr_t page_addr,
                      uint64_t page_file_offset, procsum_byte_run *runs, size_t max_runs, size_t *changed_bytes,
                      size_t *changed_bits, procsum_verdict *verdict);

#endif
