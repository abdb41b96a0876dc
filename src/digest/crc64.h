/* CRC-64/XZ (ECMA-182 polynomial, reflected, init and final XOR all ones). */
#ifndef PSUM_CRC64_H
#define PSUM_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: pass 0 to start, and the previous result to go on. */
uint64_t psum_crc64(uint64_t crc, const void *data, size_t len);

#endif
