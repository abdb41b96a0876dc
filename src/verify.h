/* Verification of a process against its files, without a baseline (procsum_verify, procsum_verifier_*). */
#ifndef PSUM_VERIFY_H
#define PSUM_VERIFY_H

#include "procsum.h"

/* Options must be valid (the API checks them). */
int psum_verifier_new(const procsum_options *o, procsum_verifier **out);
/* pid >= 0; *out is zeroed first and on failure. */
int psum_verifier_check(procsum_verifier *v, long pid, procsum_verify_result *out);
void psum_verifier_free(procsum_verifier *v);
void psum_verify_result_free(procsum_verify_result *r);

#endif
