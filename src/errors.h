/* The library's error codes, as the API lets them out. */
#ifndef PSUM_ERRORS_H
#define PSUM_ERRORS_H

#include "procsum.h"

/*
 * What an exported function may return: rc itself when it is 0, a positive
 * count, or a code of PROCSUM_ERRNO_MAP; any other negative value (a bug, or
 * a platform code that slipped through) becomes PROCSUM_EIO.
 */
int psum_error_filter(int rc);

/* procsum_strerror() and procsum_err_name(). */
const char *psum_error_text(int err);
const char *psum_error_name(int err);

#endif
