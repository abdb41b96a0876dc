/* CRC-64/XZ (ECMA-182 polynomial, reflected, init and final XOR all ones). */
#ifndef PSUM_CRC64_H
#define PSUM_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: pass 0 to start, and the previous result to go on. */
uint64_t psum_crc64(uint64_t crc, const void *data, size_t len);

/* The same in plain C, which psum_crc64 uses where ISA-L is not there. */
uint64_t psum_crc64_portable(uint64_t crc, const void *data, size_t len);

/*
 * Chooses the code psum_crc64 runs, loading ISA-L if the build has it; the
 * first psum_crc64 does it too. Done where a checker is made, so that a
 * forked child's checker finds the choice made (lazylib.h). Returns its
 * name: "ISA-L" or "portable".
 */
const char *psum_crc64_prepare(void);

#endif
