/* CRC-64/XZ through ISA-L, which picks its carry-less multiply path at run time. */
#include "crc64.h"

#include <isa-l/crc64.h>

uint64_t psum_crc64(uint64_t crc, const void *data, size_t len)
{
    return crc64_ecma_refl(crc, data, (uint64_t)len);
}
