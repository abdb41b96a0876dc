/*
 * CRC-64/XZ through ISA-L, which picks its carry-less multiply path at run
 * time. ISA-L is loaded on first use, not linked (lazylib.h says why); where
 * it cannot be, the plain C code gives the same values. The choice is made
 * once and kept in one pointer: a page's CRC is one load and one call.
 */
#include "crc64.h"

#include <isa-l.h>
#include <pthread.h>
#include <stdatomic.h>

#include "blake3_impl.h"
#include "lazylib.h"

#define PSUM_STR_(x) #x
#define PSUM_STR(x) PSUM_STR_(x)
#define ISAL_SONAME "libisal.so." PSUM_STR(ISAL_MAJOR_VERSION)

typedef uint64_t crc64_fn(uint64_t crc, const unsigned char *data, uint64_t len);

static struct {
    crc64_fn *ecma_refl;
} isal;
static const psum_lazylib_fn isal_fns[] = {PSUM_LAZYLIB_FN(isal, ecma_refl, "crc64_ecma_refl")};
static psum_lazylib isal_lib = PSUM_LAZYLIB_INIT(ISAL_SONAME, isal_fns);

static _Atomic(crc64_fn *) chosen;
static pthread_once_t choosing = PTHREAD_ONCE_INIT;

static uint64_t builtin(uint64_t crc, const unsigned char *data, uint64_t len)
{
    return psum_crc64_builtin(crc, data, (size_t)len);
}

static void choose(void)
{
    atomic_store_explicit(&chosen, psum_lazylib_ready(&isal_lib, true) ? isal.ecma_refl : builtin,
                          memory_order_release);
}

static crc64_fn *current(void)
{
    crc64_fn *f = atomic_load_explicit(&chosen, memory_order_acquire);
    if (!f) {
        pthread_once(&choosing, choose);
        f = atomic_load_explicit(&chosen, memory_order_acquire);
    }
    return f;
}

const char *psum_crc64_prepare(void)
{
    return current() == builtin ? psum_crc64_builtin_name() : "ISA-L";
}

uint64_t psum_crc64(uint64_t crc, const void *data, size_t len)
{
    uint64_t r = current()(crc, data, (uint64_t)len);
    /*
     * ISA-L's VPCLMULQDQ path returns with the upper halves of the vector
     * registers dirty, which makes later SSE code several times slower.
     */
    psum_simd_vzeroupper();
    return r;
}
