/* CRC-64/XZ (ECMA-182 polynomial, reflected, init and final XOR all ones). */
#ifndef PSUM_CRC64_H
#define PSUM_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: pass 0 to start, and the previous result to go on. */
uint64_t psum_crc64(uint64_t crc, const void *data, size_t len);

/* The same in plain C, table-driven. */
uint64_t psum_crc64_portable(uint64_t crc, const void *data, size_t len);
/* The same with the carry-less multiply: x86-64 with PCLMULQDQ and SSE4.1 only (crc64_clmul.c). */
uint64_t psum_crc64_clmul(uint64_t crc, const void *data, size_t len);
/* What psum_crc64 runs where ISA-L is not there: psum_crc64_clmul where the CPU has it, else the table. */
uint64_t psum_crc64_builtin(uint64_t crc, const void *data, size_t len);
/* Its name for this CPU: "PCLMUL" or "portable". */
const char *psum_crc64_builtin_name(void);

/*
 * Chooses the code psum_crc64 runs, loading ISA-L if the build has it; the
 * first psum_crc64 does it too. Done where a checker is made, so that a
 * forked child's checker finds the choice made (lazylib.h). Returns its
 * name: "ISA-L", else psum_crc64_builtin_name()'s.
 */
const char *psum_crc64_prepare(void);

#endif
