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
 */
#include "../os.h"

#ifdef PSUM_HAVE_LIBELF

#include <gelf.h>
#include <libelf.h>
#include <string.h>

#include "files.h"

/* The file offset of value v, through the PT_LOAD that holds it with file bytes; false when none does. */
static bool offset_of(Elf *elf, size_t phnum, uint64_t v, uint64_t *out)
{
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
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
    if (!gelf_getehdr(elf, &eh))
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
    for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn))
        if (gelf_getshdr(scn, sh) && sh->sh_type == type)
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
    if (elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &phnum) != 0)
        return PROCSUM_EBADMSG;
    out->machine = machine_of(elf);
    GElf_Shdr sh;
    Elf_Scn *scn = section_of_type(elf, SHT_SYMTAB, &sh);
    if (!scn)
        scn = section_of_type(elf, SHT_DYNSYM, &sh);
    if (!scn)
        return 0; /* no symbols: nothing to name */
    Elf_Data *data = elf_getdata(scn, NULL);
    if (!data || sh.sh_entsize == 0)
        return PROCSUM_EBADMSG;
    size_t n = sh.sh_size / sh.sh_entsize;
    for (size_t i = 1; i < n; i++) {
        GElf_Sym sym;
        if (!gelf_getsym(data, (int)i, &sym))
            return PROCSUM_EBADMSG;
        unsigned type = GELF_ST_TYPE(sym.st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF || sym.st_name == 0)
            continue;
        uint64_t off;
        if (!offset_of(elf, phnum, sym.st_value, &off))
            continue;
        const char *name = elf_strptr(elf, sh.sh_link, sym.st_name);
        if (!name || name[0] == '\0')
            continue;
        int err = psum_os_symbol_list_push(out, off, sym.st_size, rank_of(GELF_ST_BIND(sym.st_info)), name,
                                           strlen(name));
        if (err)
            return err;
    }
    return 0;
}

int psum_os_file_symbols(psum_os_file *f, psum_os_symbol_list *out)
{
    memset(out, 0, sizeof(*out));
    if (!f)
        return PROCSUM_EINVAL;
    if (elf_version(EV_CURRENT) == EV_NONE)
        return PROCSUM_ENOSYS;
    Elf *elf = elf_begin(psum_linux_file_fd(f), ELF_C_READ, NULL);
    if (!elf)
        return PROCSUM_EBADMSG;
    int err = read_symbols(elf, out);
    elf_end(elf);
    if (err)
        psum_os_symbol_list_free(out);
    return err;
}

#else

int psum_os_file_symbols(psum_os_file *f, psum_os_symbol_list *out)
{
    (void)f;
    *out = (psum_os_symbol_list){0};
    return PROCSUM_ENOSYS;
}

#endif
