#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into fuzz/corpus/<target>/.

    python3 fuzz/make_corpus.py

maps: real lines of this very process's /proc/self/maps, after it mapped a
file whose name holds spaces, a file it then deleted, and a file at the end
of a long path; plus lines the kernel prints on other machines
(named anonymous memory, a shared mapping, 5-digit device).
pe: PE headers built here field by field (PE32+, PE32, SectionAlignment
below a page, the entry point in a section that is not executable, a
truncated file), and, where MinGW is installed, the headers of a small
program and a small DLL it builds. filediff: inputs in the format that
fuzz_filediff.c describes at its top.

The corpora are kept in the tree; run this again only to change them.
"""
import mmap
import os
import shutil
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- maps -----------------------------------------------------------------

def maps_seeds():
    tmp = tempfile.mkdtemp(prefix="psum-maps-")
    keep = []
    try:
        spaced = os.path.join(tmp, "a name with  spaces.so")
        deleted = os.path.join(tmp, "gone.so")
        long_dir = os.path.join(tmp, *(["d" * 200] * 18))
        os.makedirs(long_dir)
        long_path = os.path.join(long_dir, "deep.so")
        for p in (spaced, deleted, long_path):
            with open(p, "wb") as f:
                f.write(b"\0" * 8192)
            with open(p, "rb") as f:
                keep.append(mmap.mmap(f.fileno(), 8192, prot=mmap.PROT_READ))
        os.unlink(deleted)
        with open("/proc/self/maps", "rb") as f:
            lines = f.read().splitlines(keepends=True)
    finally:
        for m in keep:
            m.close()
        shutil.rmtree(tmp)

    def first(pred):
        return next((l for l in lines if pred(l)), None)

    picks = {
        "spaces": first(lambda l: b"a name with  spaces" in l),
        "deleted": first(lambda l: l.rstrip().endswith(b"(deleted)")),
        "long_path": first(lambda l: b"deep.so" in l),
        "exec_lib": first(lambda l: b" r-xp " in l and b"libc.so" in l),
        "main_exe": lines[0],
        "heap": first(lambda l: l.rstrip().endswith(b"[heap]")),
        "stack": first(lambda l: l.rstrip().endswith(b"[stack]")),
        "vvar": first(lambda l: l.rstrip().endswith(b"[vvar]")),
        "vdso": first(lambda l: l.rstrip().endswith(b"[vdso]")),
        "vsyscall": first(lambda l: l.rstrip().endswith(b"[vsyscall]")),
        "anon": first(lambda l: l.rstrip().endswith(b" 0")),
    }
    for name, line in picks.items():
        if line is not None:
            write("maps", name, line)
    # Printed by other kernels or for other processes than this one.
    write("maps", "anon_named",
          b"7f0000000000-7f0000021000 rwxp 00000000 00:00 0                          [anon:jit code]\n")
    write("maps", "shared_big_dev",
          b"7f1000000000-7f1000400000 r-xs 00a00000 103:1f 18446744073709551615     /dev/shm/x\n")
    write("maps", "no_newline", b"00400000-00401000 r-xp 00000000 08:01 42 /bin/a")


# ---- pe -------------------------------------------------------------------

SCN_CODE_X = 0x60000020  # code, execute, read
SCN_RDATA = 0x40000040   # initialized data, read
SCN_DATA = 0xC0000040    # initialized data, read, write


def pe(sections, entry=0x1000, salign=0x1000, falign=0x200, size_of_image=None, pe32=False, lfanew=0x80):
    """A PE file's headers: DOS header, PE signature, file and optional headers, section table."""
    opt_size = 0xE0 if pe32 else 0xF0
    hdr_end = lfanew + 24 + opt_size + 40 * len(sections)
    size_of_headers = (hdr_end + falign - 1) // falign * falign
    if size_of_image is None:
        top = max([va + max(vs, raw) for _, vs, va, raw, _, _ in sections] + [size_of_headers])
        size_of_image = (top + salign - 1) // salign * salign
    dos = bytearray(lfanew)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, lfanew)
    fh = struct.pack("<HHIIIHH", 0x14C if pe32 else 0x8664, len(sections), 0, 0, 0, opt_size,
                     0x0102 if pe32 else 0x0022)
    oh = bytearray(opt_size)
    struct.pack_into("<HBBIIIII", oh, 0, 0x10B if pe32 else 0x20B, 2, 40, 0x1000, 0, 0, entry, 0x1000)
    if pe32:
        struct.pack_into("<II", oh, 24, 0x2000, 0x400000)  # BaseOfData, ImageBase
    else:
        struct.pack_into("<Q", oh, 24, 0x140000000)
    struct.pack_into("<II", oh, 32, salign, falign)
    struct.pack_into("<HHHHHH", oh, 40, 6, 0, 0, 0, 6, 0)
    struct.pack_into("<III", oh, 56, size_of_image, size_of_headers, 0)
    struct.pack_into("<HH", oh, 68, 3, 0x8160)  # console subsystem; DLL characteristics
    table = b"".join(struct.pack("<8sIIIIIIHHI", name, vs, va, raw, ptr, 0, 0, 0, 0, flags)
                     for name, vs, va, raw, ptr, flags in sections)
    out = bytes(dos) + b"PE\0\0" + fh + bytes(oh) + table
    return out + b"\0" * (size_of_headers - len(out))


def pe_seeds():
    ordinary = [(b".text", 0x1a34, 0x1000, 0x1c00, 0x400, SCN_CODE_X),
                (b".rdata", 0x0820, 0x3000, 0x0a00, 0x2000, SCN_RDATA),
                (b".data", 0x0100, 0x4000, 0x0200, 0x2a00, SCN_DATA)]
    write("pe", "pe32plus", pe(ordinary, entry=0x1230))
    write("pe", "pe32", pe(ordinary, entry=0x1230, pe32=True))
    write("pe", "entry_in_rdata", pe(ordinary, entry=0x3010))
    write("pe", "no_sections", pe([], entry=0))
    write("pe", "low_alignment",
          pe([(b".text", 0x0300, 0x0400, 0x0300, 0x0400, SCN_CODE_X),
              (b".text2", 0x0200, 0x0800, 0x0200, 0x0800, SCN_CODE_X),
              (b".text3", 0x0600, 0x1200, 0x0600, 0x1200, SCN_CODE_X),
              (b".data", 0x0100, 0x2a00, 0x0100, 0x2a00, SCN_DATA)], entry=0x410, salign=0x200, falign=0x200))
    write("pe", "big_alignment",
          pe([(b".text", 0x0010, 0x10000, 0x0200, 0x400, SCN_CODE_X),
              (b".bss", 0x0000, 0x20000, 0x0200, 0x600, SCN_CODE_X)], entry=0x10000, salign=0x10000))
    write("pe", "truncated", pe(ordinary)[:0x120])

    cc = shutil.which("x86_64-w64-mingw32-gcc")
    if not cc:
        return
    tmp = tempfile.mkdtemp(prefix="psum-pe-")
    try:
        src = os.path.join(tmp, "small.c")
        with open(src, "w") as f:
            f.write("__declspec(dllexport) int small(int x) { return x * 3; }\n"
                    "int main(void) { return small(1) - 3; }\n")
        for name, extra in (("mingw_exe", []), ("mingw_dll", ["-shared"])):
            out = os.path.join(tmp, name + (".dll" if extra else ".exe"))
            subprocess.run([cc, "-O2", "-s", *extra, src, "-o", out], check=True)
            with open(out, "rb") as f:
                data = f.read()
            lfanew = struct.unpack_from("<I", data, 0x3C)[0]
            size_of_headers = struct.unpack_from("<I", data, lfanew + 24 + 60)[0]
            write("pe", name, data[:size_of_headers])
    finally:
        shutil.rmtree(tmp)


# ---- filediff ---------------------------------------------------------------

def diff_input(edits, max_runs=8, addr=0x7F1234560000, offset=0x3000):
    head = bytes([0, max_runs]) + struct.pack("<QQ", addr, offset)
    return head + b"".join(struct.pack("<HB", at, mask) for at, mask in edits)


def filediff_seeds():
    write("filediff", "restored", diff_input([]))
    write("filediff", "bitflip", diff_input([(0x123, 0x10)]))
    write("filediff", "int3", diff_input([(0x400, 0xFF)]))
    write("filediff", "jmp_hook", diff_input([(0x800 + i, 0x5A ^ i) for i in range(5)]))
    write("filediff", "scattered_bits", diff_input([(i * 100, 1 << (i % 8)) for i in range(30)]))
    write("filediff", "gap_7_and_8", diff_input([(10, 1), (18, 2), (27, 4), (4095, 8)]))
    write("filediff", "many_runs", diff_input([(i * 9, 0x81) for i in range(456)], max_runs=3))
    write("filediff", "page_edges", diff_input([(0, 1), (4095, 0x80)], max_runs=0, addr=2**64 - 4096,
                                               offset=2**64 - 1))
    raw_file = bytes(range(256)) * 2
    raw_mem = bytearray(raw_file)
    raw_mem[100:104] = b"\xcc\xcc\xcc\xcc"
    write("filediff", "raw", bytes([0x80, 8]) + struct.pack("<QQ", 0x400000, 0) + raw_file + b"\0" * (4096 - 512)
          + bytes(raw_mem))


if __name__ == "__main__":
    for target in ("maps", "pe", "filediff"):
        shutil.rmtree(os.path.join(CORPUS, target), ignore_errors=True)
    maps_seeds()
    pe_seeds()
    filediff_seeds()
