/* What other files of the Windows backend use of an open file (files.c): its parsed PE headers. */
#ifndef PSUM_WIN_FILES_H
#define PSUM_WIN_FILES_H

#include "../os.h"
#include "pe.h"

/* The PE headers of f (parsed at the first use); NULL when f is no PE image or they cannot be read. */
const psum_pe_image *psum_win_file_image(psum_os_file *f);

#endif
