/*
 * A tiny shared library for test_stress, built several times with different
 * STRESS_LIB_ID and STRESS_LIB_PAGES (tests/meson.build): each build is a
 * distinct file with distinct code, and a different number of executable
 * pages, so that libraries loaded and unloaded in turn land on each other's
 * addresses with different shapes.
 */
#ifndef STRESS_LIB_ID
#error "build with -DSTRESS_LIB_ID=n"
#endif
#ifndef STRESS_LIB_PAGES
#define STRESS_LIB_PAGES 1
#endif

#define STRESS_STR2(x) #x
#define STRESS_STR(x) STRESS_STR2(x)

int stress_lib_id(void);
int stress_lib_run(int x);

/* Code pages that are never run, filled with a byte that differs between builds. */
__asm__(".pushsection .text.stress_pad,\"ax\",@progbits\n"
        ".globl stress_lib_pad_" STRESS_STR(STRESS_LIB_ID) "\n"
        ".hidden stress_lib_pad_" STRESS_STR(STRESS_LIB_ID) "\n"
        "stress_lib_pad_" STRESS_STR(STRESS_LIB_ID) ":\n"
        ".fill " STRESS_STR(STRESS_LIB_PAGES) " * 4096, 1, 0xc0 + " STRESS_STR(STRESS_LIB_ID) "\n"
        ".popsection\n");

static volatile int constructed;

/* Code that runs at load and unload too, as real libraries' initializers do. */
__attribute__((constructor)) static void stress_lib_init(void)
{
    constructed = STRESS_LIB_ID;
}

__attribute__((destructor)) static void stress_lib_fini(void)
{
    constructed = 0;
}

__attribute__((visibility("default"))) int stress_lib_id(void)
{
    return constructed;
}

__attribute__((visibility("default"), noinline)) int stress_lib_run(int x)
{
    unsigned acc = (unsigned)x;
    for (int i = 0; i < STRESS_LIB_ID + 3; i++)
        acc = acc * 31u + STRESS_LIB_ID;
    return (int)(acc & 0x7fffffffu);
}
