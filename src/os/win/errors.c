/*
 * Win32 errors as PROCSUM_E* codes: one list of which Win32 code stands
 * for which of the library's codes, expanded into the switch below.
 */
#include "win.h"

#define PSUM_WIN_ERROR_MAP(XX)                  \
    XX(ERROR_ACCESS_DENIED, EACCES)             \
    XX(ERROR_SHARING_VIOLATION, EACCES)         \
    XX(ERROR_LOCK_VIOLATION, EACCES)            \
    XX(ERROR_PRIVILEGE_NOT_HELD, EPERM)         \
    XX(ERROR_FILE_NOT_FOUND, ENOENT)            \
    XX(ERROR_PATH_NOT_FOUND, ENOENT)            \
    XX(ERROR_MOD_NOT_FOUND, ENOENT)             \
    XX(ERROR_INVALID_DRIVE, ENOENT)             \
    XX(ERROR_NOT_ENOUGH_MEMORY, ENOMEM)         \
    XX(ERROR_OUTOFMEMORY, ENOMEM)               \
    XX(ERROR_COMMITMENT_LIMIT, ENOMEM)          \
    XX(ERROR_TOO_MANY_OPEN_FILES, EMFILE)       \
    XX(ERROR_NO_SYSTEM_RESOURCES, EAGAIN)       \
    XX(ERROR_NONPAGED_SYSTEM_RESOURCES, EAGAIN) \
    XX(ERROR_PAGED_SYSTEM_RESOURCES, EAGAIN)    \
    XX(ERROR_WORKING_SET_QUOTA, EAGAIN)         \
    XX(ERROR_PAGEFILE_QUOTA, EAGAIN)            \
    XX(ERROR_NOT_ENOUGH_QUOTA, EAGAIN)          \
    XX(ERROR_MAX_THRDS_REACHED, EAGAIN)         \
    XX(ERROR_PARTIAL_COPY, EFAULT)              \
    XX(ERROR_NOACCESS, EFAULT)                  \
    XX(ERROR_INVALID_ADDRESS, EFAULT)           \
    XX(ERROR_BUSY, EBUSY)                       \
    XX(ERROR_PATH_BUSY, EBUSY)                  \
    XX(ERROR_INVALID_PARAMETER, EINVAL)         \
    XX(ERROR_INVALID_HANDLE, EINVAL)            \
    XX(ERROR_INVALID_FLAGS, EINVAL)             \
    XX(ERROR_INSUFFICIENT_BUFFER, ERANGE)       \
    XX(ERROR_ARITHMETIC_OVERFLOW, ERANGE)       \
    XX(ERROR_BUFFER_OVERFLOW, ERANGE)           \
    XX(ERROR_NOT_SUPPORTED, ENOSYS)             \
    XX(ERROR_CALL_NOT_IMPLEMENTED, ENOSYS)      \
    XX(ERROR_PROC_NOT_FOUND, ENOSYS)            \
    XX(ERROR_BAD_EXE_FORMAT, EBADMSG)           \
    XX(ERROR_INVALID_DATA, EBADMSG)             \
    XX(ERROR_OPERATION_ABORTED, ECANCELED)      \
    XX(ERROR_CANCELLED, ECANCELED)

/* ERROR_SUCCESS too gives PROCSUM_EIO: this is only asked after a call failed. */
int psum_win_error(DWORD code)
{
    switch (code) {
#define PSUM_WIN_ERROR_CASE(win32, name) \
    case win32: return PROCSUM_##name;
        PSUM_WIN_ERROR_MAP(PSUM_WIN_ERROR_CASE)
#undef PSUM_WIN_ERROR_CASE
    }
    return PROCSUM_EIO;
}

int psum_os_last_error(void)
{
    return psum_win_error(GetLastError());
}
