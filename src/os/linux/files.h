/* What other files of the Linux backend use of an open file (files.c): its descriptor. */
#ifndef PSUM_LINUX_FILES_H
#define PSUM_LINUX_FILES_H

#include "../os.h"

/* The descriptor f reads through (pread only: the file is never mapped). */
int psum_linux_file_fd(const psum_os_file *f);

#endif
