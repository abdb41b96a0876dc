/*
 * A DLL that asks for the base psum_target.exe already holds, so that the
 * loader always relocates it; its .text holds an absolute address (a
 * DIR64 base relocation in code), which therefore differs from the file.
 */
__declspec(dllexport) int psum_clash_value(void);
__declspec(dllexport) int psum_clash_value(void)
{
    return 7;
}

/* Eight bytes of .text that the loader rewrites: the address of psum_clash_value. */
__asm__(".text\n"
        ".p2align 3\n"
        ".globl psum_clash_address\n"
        "psum_clash_address:\n"
        "    .quad psum_clash_value\n");
