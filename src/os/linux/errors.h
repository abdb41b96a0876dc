/* The errors of the Linux backend that need more than errno to name (errors.c). */
#ifndef PSUM_LINUX_ERRORS_H
#define PSUM_LINUX_ERRORS_H

/*
 * After a file of /proc/PID (pid 0: /proc/self) could not be opened or
 * read: the code for errno. A missing file is the process gone
 * (PROCSUM_ESRCH) only where /proc itself is there; without /proc (another
 * mount namespace, a chroot) it is PROCSUM_ENOENT.
 */
int psum_linux_proc_error(long pid);

#endif
