/* Parsing of /proc/PID/maps lines; separate so that tests can feed it awkward lines. */
#ifndef PSUM_LINUX_MAPS_H
#define PSUM_LINUX_MAPS_H

#include "../os.h"

/*
 * Parses one line (with or without its newline). On success fills *out
 * (out->path is allocated) and returns 0; returns PROCSUM_EBADMSG for a line
 * that is not in the maps format and PROCSUM_ENOMEM when allocation fails.
 * main_executable is left false: the caller decides it.
 */
int psum_maps_parse_line(const char *line, size_t len, psum_os_region *out);

#endif
