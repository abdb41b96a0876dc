/* Words and names for the library's error codes. */
#include "procsum.h"

typedef struct error_text {
    int code;
    const char *name;
    const char *text;
} error_text;

static const error_text ERRORS[] = {
    {0, "PROCSUM_OK", "success"},
    {PROCSUM_EPERM, "PROCSUM_EPERM", "operation not permitted"},
    {PROCSUM_ENOENT, "PROCSUM_ENOENT", "no such file or directory"},
    {PROCSUM_ESRCH, "PROCSUM_ESRCH", "no such process"},
    {PROCSUM_EIO, "PROCSUM_EIO", "input/output error"},
    {PROCSUM_EAGAIN, "PROCSUM_EAGAIN", "resource temporarily unavailable"},
    {PROCSUM_ENOMEM, "PROCSUM_ENOMEM", "out of memory"},
    {PROCSUM_EACCES, "PROCSUM_EACCES", "permission denied"},
    {PROCSUM_EFAULT, "PROCSUM_EFAULT", "memory could not be read (unmapped or protected)"},
    {PROCSUM_EBUSY, "PROCSUM_EBUSY", "busy: called from the checker's own callback"},
    {PROCSUM_EINVAL, "PROCSUM_EINVAL", "invalid argument"},
    {PROCSUM_ERANGE, "PROCSUM_ERANGE", "value out of range"},
    {PROCSUM_ENOSYS, "PROCSUM_ENOSYS", "not supported on this platform"},
    {PROCSUM_EBADMSG, "PROCSUM_EBADMSG", "malformed data from the operating system"},
    {PROCSUM_ECANCELED, "PROCSUM_ECANCELED", "stopped on request"},
};

static const error_text *find(int code)
{
    for (size_t i = 0; i < sizeof(ERRORS) / sizeof(ERRORS[0]); i++)
        if (ERRORS[i].code == code)
            return &ERRORS[i];
    return NULL;
}

const char *procsum_strerror(int err)
{
    const error_text *e = find(err);
    return e ? e->text : "unknown error";
}

const char *procsum_err_name(int err)
{
    const error_text *e = find(err);
    return e ? e->name : "PROCSUM_EUNKNOWN";
}
