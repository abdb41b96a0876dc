/* page_copy.c: which copy of a file page a pagemap entry describes. */
#ifndef PSUM_OS_LINUX_PAGE_COPY_H
#define PSUM_OS_LINUX_PAGE_COPY_H

#include <stdint.h>

#include "../os.h"

procsum_copy psum_linux_copy_from_entry(uint64_t entry);

#endif
