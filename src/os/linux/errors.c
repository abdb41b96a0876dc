/*
 * errno as a PROCSUM_E* code. The library's codes carry errno's names, so
 * the map is PROCSUM_ERRNO_MAP itself; the few errno values with no code of
 * their own are folded into the nearest one, and anything else is EIO.
 */
#include <errno.h>
#include <unistd.h>

#include "../os.h"
#include "errors.h"

static int error_code(int code)
{
    switch (code) {
#define PSUM_LINUX_ERRNO(name, value, words) \
    case name: return PROCSUM_##name;
        PROCSUM_ERRNO_MAP(PSUM_LINUX_ERRNO)
#undef PSUM_LINUX_ERRNO
#if EOPNOTSUPP != ENOSYS
    case EOPNOTSUPP: return PROCSUM_ENOSYS;
#endif
    case ENOBUFS: return PROCSUM_ENOMEM;
    case ENODEV:
    case ENXIO: return PROCSUM_ENOENT;
    }
    return PROCSUM_EIO;
}

int psum_os_last_error(void)
{
    return error_code(errno);
}

int psum_linux_proc_error(long pid)
{
    int code = errno;
    if (code == ENOENT && pid != 0 && access("/proc/self", F_OK) == 0)
        return PROCSUM_ESRCH;
    return error_code(code);
}
