/*
 * Instructions through Capstone: one handle per instruction set, opened on
 * first need and kept with the describer (a report decodes a function from
 * its start, which may be thousands of instructions: cs_disasm_iter decodes
 * them into one reused instruction, with no allocation each).
 */
#include "disasm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef PSUM_HAVE_CAPSTONE

#include <capstone/capstone.h>

#include "lazylib.h"
#include "os/os.h"

#define MACHINES 4

/*
 * Capstone is loaded on first need, not linked: its tables hold some 77,000
 * pointers the loader relocates, several milliseconds and more than a
 * megabyte of private memory in every process that loads it, while most
 * processes never report a change. Loaded only in the process that made the
 * checker (made_in; a forked child's checker is made in its parent): in a
 * child (follow_fork) the loader's lock may be held by a thread the child
 * does not have, so a child decodes only if its parent had loaded Capstone
 * before the fork.
 */
#define PSUM_STR_(x) #x
#define PSUM_STR(x) PSUM_STR_(x)
#define CAPSTONE_SONAME "libcapstone.so." PSUM_STR(CS_API_MAJOR)

static struct {
    cs_err (*open)(cs_arch, cs_mode, csh *);
    cs_err (*close)(csh *);
    cs_err (*option)(csh, cs_opt_type, size_t);
    cs_insn *(*malloc_insn)(csh);
    void (*free_insn)(cs_insn *, size_t);
    bool (*disasm_iter)(csh, const uint8_t **, size_t *, uint64_t *, cs_insn *);
    bool (*insn_group)(csh, const cs_insn *, unsigned int);
} cs;
static const psum_lazylib_fn cs_fns[] = {
    PSUM_LAZYLIB_FN(cs, open, "cs_open"),
    PSUM_LAZYLIB_FN(cs, close, "cs_close"),
    PSUM_LAZYLIB_FN(cs, option, "cs_option"),
    PSUM_LAZYLIB_FN(cs, malloc_insn, "cs_malloc"),
    PSUM_LAZYLIB_FN(cs, free_insn, "cs_free"),
    PSUM_LAZYLIB_FN(cs, disasm_iter, "cs_disasm_iter"),
    PSUM_LAZYLIB_FN(cs, insn_group, "cs_insn_group"),
};
static psum_lazylib capstone = PSUM_LAZYLIB_INIT(CAPSTONE_SONAME, cs_fns);

struct psum_disasm {
    uint64_t made_in; /* the process that may load Capstone for it */
    csh handle[MACHINES];
    bool opened[MACHINES], refused[MACHINES];
    cs_insn *insn[MACHINES];
};

/* Whether Capstone's functions are there, loading them if this process may. */
static bool capstone_ready(const psum_disasm *d)
{
    return psum_lazylib_ready(&capstone, psum_os_process_id() == d->made_in);
}

bool psum_disasm_loaded(bool load_now)
{
    if (load_now)
        (void)psum_lazylib_ready(&capstone, true);
    return psum_lazylib_tried(&capstone);
}

int psum_disasm_new(psum_disasm **out, uint64_t made_in)
{
    *out = calloc(1, sizeof(**out));
    if (!*out)
        return PROCSUM_ENOMEM;
    (*out)->made_in = made_in;
    return 0;
}

void psum_disasm_free(psum_disasm *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < MACHINES; i++) {
        if (d->insn[i])
            cs.free_insn(d->insn[i], 1);
        if (d->opened[i])
            cs.close(&d->handle[i]);
    }
    free(d);
}

/* The handle for m, with details on (groups and operands); false when Capstone cannot decode m. */
static bool handle_for(psum_disasm *d, psum_machine m, csh *h, cs_insn **insn)
{
    if (!d || m <= PSUM_MACHINE_UNKNOWN || m >= MACHINES || d->refused[m] || !capstone_ready(d))
        return false;
    if (!d->opened[m]) {
        cs_arch arch = m == PSUM_MACHINE_ARM64 ? CS_ARCH_ARM64 : CS_ARCH_X86;
        cs_mode mode = m == PSUM_MACHINE_X86_64 ? CS_MODE_64 : m == PSUM_MACHINE_X86_32 ? CS_MODE_32 : CS_MODE_ARM;
        if (cs.open(arch, mode, &d->handle[m]) != CS_ERR_OK) {
            d->refused[m] = true;
            return false;
        }
        d->opened[m] = true;
        d->insn[m] = NULL;
        if (cs.option(d->handle[m], CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK ||
            !(d->insn[m] = cs.malloc_insn(d->handle[m]))) {
            d->refused[m] = true;
            return false;
        }
    }
    *h = d->handle[m];
    *insn = d->insn[m];
    return true;
}

bool psum_disasm_start_of(psum_disasm *d, psum_machine m, const uint8_t *code, size_t len, uint64_t addr,
                          uint64_t at, uint64_t *start)
{
    csh h;
    cs_insn *insn;
    if (!handle_for(d, m, &h, &insn) || at < addr)
        return false;
    const uint8_t *p = code;
    size_t left = len;
    uint64_t pc = addr;
    while (cs.disasm_iter(h, &p, &left, &pc, insn)) {
        if (at < insn->address + insn->size) {
            *start = insn->address;
            return true;
        }
    }
    return false;
}

/* Appends to out what printf would write, cut at cap. */
static void append(char *out, size_t cap, size_t *used, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void append(char *out, size_t cap, size_t *used, const char *fmt, ...)
{
    if (*used + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *used, cap - *used, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used = (size_t)n < cap - *used ? *used + (size_t)n : cap - 1;
}

/* The immediate target of a direct jump or call; false for any other instruction. */
static bool direct_target(csh h, const cs_insn *insn, psum_machine m, uint64_t *target)
{
    if (!cs.insn_group(h, insn, CS_GRP_JUMP) && !cs.insn_group(h, insn, CS_GRP_CALL))
        return false;
    if (m == PSUM_MACHINE_ARM64) {
        const cs_arm64 *a = &insn->detail->arm64;
        if (a->op_count == 0 || a->operands[a->op_count - 1].type != ARM64_OP_IMM)
            return false;
        *target = (uint64_t)a->operands[a->op_count - 1].imm;
        return true;
    }
    const cs_x86 *x = &insn->detail->x86;
    if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
        return false;
    *target = (uint64_t)x->operands[0].imm;
    return true;
}

/*
 * x86: an indirect "jmp/call qword ptr [rip + disp]" whose pointer lies in
 * the bytes at hand (code, mapped at addr): sets *target to that pointer
 * and *pointer_at to its address. The usual absolute hook is such a jump
 * over its own target ("ff 25 00 00 00 00" and the 8 bytes of the address).
 */
static bool jumps_through_pointer(csh h, const cs_insn *insn, const uint8_t *code, size_t len, uint64_t addr,
                                  uint64_t *target, uint64_t *pointer_at)
{
    const cs_x86 *x = &insn->detail->x86;
    if ((!cs.insn_group(h, insn, CS_GRP_JUMP) && !cs.insn_group(h, insn, CS_GRP_CALL)) || x->op_count != 1 ||
        x->operands[0].type != X86_OP_MEM || x->operands[0].mem.base != X86_REG_RIP ||
        x->operands[0].mem.index != X86_REG_INVALID || x->operands[0].size != 8)
        return false;
    uint64_t at = insn->address + insn->size + (uint64_t)x->operands[0].mem.disp;
    if (at < addr || at - addr > len || len - (at - addr) < 8)
        return false;
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--) /* little endian */
        value = value << 8 | code[at - addr + (uint64_t)i];
    *target = value;
    *pointer_at = at;
    return true;
}

/* x86: "mov REG, IMM" sets *reg and *value; an indirect "jmp/call REG" reads them. */
static bool loads_register(const cs_insn *insn, unsigned *reg, uint64_t *value)
{
    const cs_x86 *x = &insn->detail->x86;
    if ((insn->id != X86_INS_MOV && insn->id != X86_INS_MOVABS) || x->op_count != 2 ||
        x->operands[0].type != X86_OP_REG || x->operands[1].type != X86_OP_IMM)
        return false;
    *reg = x->operands[0].reg;
    *value = (uint64_t)x->operands[1].imm;
    return true;
}

static bool jumps_through(csh h, const cs_insn *insn, unsigned reg)
{
    const cs_x86 *x = &insn->detail->x86;
    return (cs.insn_group(h, insn, CS_GRP_JUMP) || cs.insn_group(h, insn, CS_GRP_CALL)) && x->op_count == 1 &&
           x->operands[0].type == X86_OP_REG && x->operands[0].reg == reg;
}

bool psum_disasm_text(psum_disasm *d, psum_machine m, const uint8_t *code, size_t len, uint64_t addr,
                      uint64_t end, psum_disasm_name_fn name, void *ctx, char *out, size_t cap)
{
    csh h;
    cs_insn *insn;
    if (cap == 0 || !handle_for(d, m, &h, &insn))
        return false;
    out[0] = '\0';
    size_t used = 0;
    const uint8_t *p = code;
    size_t left = len;
    uint64_t pc = addr;
    bool x86 = m != PSUM_MACHINE_ARM64, loaded = false;
    unsigned reg = 0;
    uint64_t value = 0;
    char target_name[160];
    for (int n = 0; pc < end; n++) {
        const char *sep = n ? "; " : "";
        if (n == PSUM_DISASM_MAX_INSNS) {
            append(out, cap, &used, "%s...", sep);
            break;
        }
        if (!cs.disasm_iter(h, &p, &left, &pc, insn)) {
            append(out, cap, &used, "%s(bad)", sep);
            break;
        }
        uint64_t target, pointer_at;
        if (direct_target(h, insn, m, &target)) {
            name(ctx, target, target_name, sizeof(target_name));
            append(out, cap, &used, "%s%s %s", sep, insn->mnemonic, target_name);
        } else if (x86 && jumps_through_pointer(h, insn, code, len, addr, &target, &pointer_at)) {
            name(ctx, target, target_name, sizeof(target_name));
            append(out, cap, &used, "%s%s %s -> %s", sep, insn->mnemonic, insn->op_str, target_name);
            /* The pointer right after the jump is data, not code: decoding goes on past it. */
            if (pointer_at == pc && left >= 8) {
                p += 8;
                left -= 8;
                pc += 8;
            }
        } else if (x86 && loaded && jumps_through(h, insn, reg)) {
            name(ctx, value, target_name, sizeof(target_name));
            append(out, cap, &used, "%s%s %s -> %s", sep, insn->mnemonic, insn->op_str, target_name);
        } else {
            append(out, cap, &used, "%s%s%s%s", sep, insn->mnemonic, insn->op_str[0] ? " " : "", insn->op_str);
        }
        loaded = x86 && loads_register(insn, &reg, &value);
    }
    return true;
}

#else

struct psum_disasm {
    int unused;
};

bool psum_disasm_loaded(bool load_now)
{
    (void)load_now;
    return true;
}

int psum_disasm_new(psum_disasm **out, uint64_t made_in)
{
    (void)made_in;
    *out = NULL;
    return PROCSUM_ENOSYS;
}

void psum_disasm_free(psum_disasm *d)
{
    (void)d;
}

bool psum_disasm_start_of(psum_disasm *d, psum_machine m, const uint8_t *code, size_t len, uint64_t addr,
                          uint64_t at, uint64_t *start)
{
    return false;
}

bool psum_disasm_text(psum_disasm *d, psum_machine m, const uint8_t *code, size_t len, uint64_t addr,
                      uint64_t end, psum_disasm_name_fn name, void *ctx, char *out, size_t cap)
{
    return false;
}

#endif
