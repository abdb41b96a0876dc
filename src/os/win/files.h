/* What other files of the Windows backend use of an open file (files.c): its parsed PE headers. */
#ifndef PSUM_WIN_FILES_H
#define PSUM_WIN_FILES_H

#include "../os.h"
#include "pe.h"

/* The PE headers of f, parsed when it was opened; NULL when f is no PE image. */
const psum_pe_image *psum_win_file_image(const psum_os_file *f);

#endif
