/* Words and names for the library's error codes, expanded from PROCSUM_ERRNO_MAP. */
#include "errors.h"

const char *psum_error_text(int err)
{
    switch (err) {
    case 0: return "success";
#define PSUM_ERROR_TEXT(name, value, words) \
    case PROCSUM_##name: return words;
        PROCSUM_ERRNO_MAP(PSUM_ERROR_TEXT)
#undef PSUM_ERROR_TEXT
    }
    return "unknown error";
}

const char *psum_error_name(int err)
{
    switch (err) {
    case 0: return "PROCSUM_OK";
#define PSUM_ERROR_NAME(name, value, words) \
    case PROCSUM_##name: return "PROCSUM_" #name;
        PROCSUM_ERRNO_MAP(PSUM_ERROR_NAME)
#undef PSUM_ERROR_NAME
    }
    return "PROCSUM_EUNKNOWN";
}

int psum_error_filter(int rc)
{
    switch (rc) {
#define PSUM_ERROR_KNOWN(name, value, words) case PROCSUM_##name:
        PROCSUM_ERRNO_MAP(PSUM_ERROR_KNOWN)
#undef PSUM_ERROR_KNOWN
        return rc;
    }
    return rc >= 0 ? rc : PROCSUM_EIO;
}
