/*
 * The functions an ELF file names, read with libelf through the file's
 * descriptor (ELF_C_READ: pread, never a mapping, so a file truncated under
 * us fails a read instead of raising SIGBUS; libelf reads the section
 * headers at once and a section's data only when asked, so only the symbol
 * table and its strings are held). .symtab where the file keeps one (it
 * names static functions too), else .dynsym, which stripped libraries keep.
 * A symbol's value is an address in the file's own layout: the program
 * header that loads it turns it into a file offset, which is how procsum
 * finds a byte whatever address the file is mapped at.
 *
 * libelf (and the libz it brings) is loaded the first time a report asks
 * for symbols, not linked: see lazylib.h. Its functions are called through
 * the table below. Every elfutils release has kept the soname libelf.so.1
 * (its symbols are versioned instead). A process that may not load it
 * (os.h: psum_os_file_symbols) and one where it is missing name no symbol,
 * as a build without libelf.
 */
#include "../os.h"

#ifdef PSUM_HAVE_LIBELF

#include <gelf.h>
#include <libelf.h>
#include <string.h>

#include "files.h"
#include "lazylib.h"

static struct {
    unsigned (*version)(unsigned);
    Elf *(*begin)(int, Elf_Cmd, Elf *);
    int (*end)(Elf *);
    Elf_Kind (*kind)(Elf *);
    int (*getphdrnum)(Elf *, size_t *);
    Elf_Scn *(*nextscn)(Elf *, Elf_Scn *);
    Elf_Data *(*getdata)(Elf_Scn *, Elf_Data *);
    char *(*strptr)(Elf *, size_t, size_t);
    GElf_Phdr *(*getphdr)(Elf *, int, GElf_Phdr *);
    GElf_Ehdr *(*getehdr)(Elf *, GElf_Ehdr *);
    GElf_Shdr *(*getshdr)(Elf_Scn *, GElf_Shdr *);
    GElf_Sym *(*getsym)(Elf_Data *, int, GElf_Sym *);
} lib;
static const psum_lazylib_fn elf_fns[] = {
    PSUM_LAZYLIB_FN(lib, version, "elf_version"),
    PSUM_LAZYLIB_FN(lib, begin, "elf_begin"),
    PSUM_LAZYLIB_FN(lib, end, "elf_end"),
    PSUM_LAZYLIB_FN(lib, kind, "elf_kind"),
    PSUM_LAZYLIB_FN(lib, getphdrnum, "elf_getphdrnum"),
    PSUM_LAZYLIB_FN(lib, nextscn, "elf_nextscn"),
    PSUM_LAZYLIB_FN(lib, getdata, "elf_getdata"),
    PSUM_LAZYLIB_FN(lib, strptr, "elf_strptr"),
    PSUM_LAZYLIB_FN(lib, getphdr, "gelf_getphdr"),
    PSUM_LAZYLIB_FN(lib, getehdr, "gelf_getehdr"),
    PSUM_LAZYLIB_FN(lib, getshdr, "gelf_getshdr"),
    PSUM_LAZYLIB_FN(lib, getsym, "gelf_getsym"),
};
static psum_lazylib libelf = PSUM_LAZYLIB_INIT("libelf.so.1", elf_fns);

/* The file offset of value v, through the PT_LOAD that holds it with file bytes; false when none does. */
static bool offset_of(Elf *elf, size_t phnum, uint64_t v, uint64_t *out)
{
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!lib.getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
            continue;
        if (v >= ph.p_vaddr && v - ph.p_vaddr < ph.p_filesz) {
            *out = ph.p_offset + (v - ph.p_vaddr);
            return true;
        }
    }
    return false;
}

static psum_machine machine_of(Elf *elf)
{
    GElf_Ehdr eh;
    if (!lib.getehdr(elf, &eh))
        return PSUM_MACHINE_UNKNOWN;
    switch (eh.e_machine) {
    case EM_X86_64: return PSUM_MACHINE_X86_64;
    case EM_386: return PSUM_MACHINE_X86_32;
    case EM_AARCH64: return PSUM_MACHINE_ARM64;
    default: return PSUM_MACHINE_UNKNOWN;
    }
}

/* The section of type `type`, or NULL. */
static Elf_Scn *section_of_type(Elf *elf, GElf_Word type, GElf_Shdr *sh)
{
    for (Elf_Scn *scn = lib.nextscn(elf, NULL); scn; scn = lib.nextscn(elf, scn))
        if (lib.getshdr(scn, sh) && sh->sh_type == type)
            return scn;
    return NULL;
}

static uint8_t rank_of(unsigned bind)
{
    return bind == STB_GLOBAL || bind == STB_GNU_UNIQUE ? 3 : bind == STB_WEAK ? 2 : 1;
}

static int read_symbols(Elf *elf, psum_os_symbol_list *out)
{
    size_t phnum;
    if (lib.kind(elf) != ELF_K_ELF || lib.getphdrnum(elf, &phnum) != 0)
        return PROCSUM_EBADMSG;
    out->machine = machine_of(elf);
    GElf_Shdr sh;
    Elf_Scn *scn = section_of_type(elf, SHT_SYMTAB, &sh);
    if (!scn)
        scn = section_of_type(elf, SHT_DYNSYM, &sh);
    if (!scn)
        return 0; /* no symbols: nothing to name */
    Elf_Data *data = lib.getdata(scn, NULL);
    if (!data || sh.sh_entsize == 0)
        return PROCSUM_EBADMSG;
    size_t n = sh.sh_size / sh.sh_entsize;
    for (size_t i = 1; i < n; i++) {
        GElf_Sym sym;
        if (!lib.getsym(data, (int)i, &sym))
            return PROCSUM_EBADMSG;
        unsigned type = GELF_ST_TYPE(sym.st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF || sym.st_name == 0)
            continue;
        uint64_t off;
        if (!offset_of(elf, phnum, sym.st_value, &off))
            continue;
        const char *name = lib.strptr(elf, sh.sh_link, sym.st_name);
        if (!name || name[0] == '\0')
            continue;
        int err = psum_os_symbol_list_push(out, off, sym.st_size, rank_of(GELF_ST_BIND(sym.st_info)), name,
                                           strlen(name));
        if (err)
            return err;
    }
    return 0;
}

bool psum_os_symbols_loaded(bool load_now)
{
    if (load_now)
        (void)psum_lazylib_ready(&libelf, true);
    return psum_lazylib_tried(&libelf);
}

int psum_os_file_symbols(psum_os_file *f, bool may_load, psum_os_symbol_list *out)
{
    memset(out, 0, sizeof(*out));
    if (!f)
        return PROCSUM_EINVAL;
    if (!psum_lazylib_ready(&libelf, may_load) || lib.version(EV_CURRENT) == EV_NONE)
        return PROCSUM_ENOSYS;
    Elf *elf = lib.begin(psum_linux_file_fd(f), ELF_C_READ, NULL);
    if (!elf)
        return PROCSUM_EBADMSG;
    int err = read_symbols(elf, out);
    lib.end(elf);
    if (err)
        psum_os_symbol_list_free(out);
    return err;
}

#else

bool psum_os_symbols_loaded(bool load_now)
{
    (void)load_now;
    return true;
}

int psum_os_file_symbols(psum_os_file *f, bool may_load, psum_os_symbol_list *out)
{
    (void)f;
    (void)may_load;
    *out = (psum_os_symbol_list){0};
    return PROCSUM_ENOSYS;
}

#endif
