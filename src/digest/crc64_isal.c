/* CRC-64/XZ through ISA-L, which picks its carry-less multiply path at run time. */
#include "crc64.h"

#include <isa-l/crc64.h>

#include "blake3_impl.h"

uint64_t psum_crc64(uint64_t crc, const void *data, size_t len)
{
    uint64_t r = crc64_ecma_refl(crc, data, (uint64_t)len);
    /*
     * Its VPCLMULQDQ path returns with the upper halves of the vector
     * registers dirty, which makes later SSE code several times slower.
     */
    psum_simd_vzeroupper();
    return r;
}
