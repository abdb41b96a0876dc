/* tracing.c: the parser of the tracing file system's uprobe_events, exposed for its tests. */
#ifndef PSUM_OS_LINUX_TRACING_H
#define PSUM_OS_LINUX_TRACING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One line of uprobe_events ("p:GROUP/EVENT PATH:0xOFFSET ...") into its
 * path (NUL-terminated, at most path_cap - 1 bytes) and offset.
 */
bool psum_linux_uprobe_line_parse(const char *line, size_t len, char *path, size_t path_cap, uint64_t *offset);

#endif
