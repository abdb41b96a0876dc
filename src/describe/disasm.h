/*
 * Machine code as instructions, for reports: where the instruction holding
 * a byte starts, and the text of a few instructions, with the target of a
 * jump or call named by the caller. Capstone decodes; a build without it
 * (the Windows one) has none of this, and says so with PROCSUM_ENOSYS.
 */
#ifndef PSUM_DISASM_H
#define PSUM_DISASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "os/os.h"

/* At most this many instructions in a text; more show as "...". */
#define PSUM_DISASM_MAX_INSNS 4

typedef struct psum_disasm psum_disasm;

/* PROCSUM_ENOSYS when the build has no decoder. Capstone is loaded only in made_in (describe.h). */
int psum_disasm_new(psum_disasm **out, uint64_t made_in);
/* d may be NULL. */
void psum_disasm_free(psum_disasm *d);
/* Whether a decoder made in this process would load nothing (os.h: psum_os_symbols_loaded, the same for Capstone). */
bool psum_disasm_loaded(bool load_now);

/*
 * Decodes code[0, len), the bytes at address addr (an instruction's start,
 * such as a function's), instruction after instruction up to the one that
 * holds the byte at address `at`, and sets *start to where that one
 * starts. false when the machine is unknown, a byte before it does not
 * decode, or the code ends first.
 */
bool psum_disasm_start_of(psum_disasm *d, psum_machine m, const uint8_t *code, size_t len, uint64_t addr,
                          uint64_t at, uint64_t *start);

/* Writes a name for the target of a jump or call into out (cap bytes, terminated). */
typedef void (*psum_disasm_name_fn)(void *ctx, uint64_t target, char *out, size_t cap);

/*
 * The text of the instructions of code[0, len) (at address addr, an
 * instruction's start) that start before address `end`: "mnemonic
 * operands", joined by "; ", at most PSUM_DISASM_MAX_INSNS and then "...";
 * "(bad)" where the bytes do not decode, and the text ends there. A jump or
 * call whose target is known from the instruction (an immediate, or a
 * register just loaded with one: "movabs rax, IMM; jmp rax -> NAME")
 * shows the target as name() gives it. false when the machine is unknown; out holds
 * a terminated string (cut at cap) otherwise.
 */
bool psum_disasm_text(psum_disasm *d, psum_machine m, const uint8_t *code, size_t len, uint64_t addr,
                      uint64_t end, psum_disasm_name_fn name, void *ctx, char *out, size_t cap);

#endif
