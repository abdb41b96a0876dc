/* Parsing of /proc/PID/maps lines; separate so that tests can feed it awkward lines. */
#ifndef PSUM_LINUX_MAPS_H
#define PSUM_LINUX_MAPS_H

#include "../os.h"

/* What the kernel appends to the name of a file that was unlinked (a name may also end so). */
#define PSUM_MAPS_DELETED_SUFFIX " (deleted)"

/*
 * Parses one line (with or without its newline). On success fills *out
 * (out->path is allocated) and returns 0; returns PROCSUM_EBADMSG for a line
 * that is not in the maps format and PROCSUM_ENOMEM when allocation fails.
 * main_executable is left false: the caller decides it. file_deleted is
 * set, and the suffix taken off the path, when the path ends in
 * PSUM_MAPS_DELETED_SUFFIX: only a guess, which the caller settles by the
 * file's identity.
 */
int psum_maps_parse_line(const char *line, size_t len, psum_os_region *out);

/*
 * The same in steps, allocating nothing. psum_maps_parse_fields: the
 * fields of a line, out->path left NULL, its name pointed at (*name,
 * *name_len: inside the line, or a constant for anonymous memory).
 * psum_maps_name_fields: what a mapping's name says, as the maps file and
 * PROCMAP_QUERY give it (len bytes, not NUL-terminated; empty for anonymous
 * memory): sets out->kind and out->file_deleted (the guess described
 * above), and narrows *name to the path to keep (*path_len bytes; "[anon]"
 * for no name). psum_maps_copy_name gives out->path an allocated copy.
 */
int psum_maps_parse_fields(const char *line, size_t len, psum_os_region *out, const char **name, size_t *name_len);
void psum_maps_name_fields(psum_os_region *out, const char **name, size_t len, size_t *path_len);
int psum_maps_copy_name(psum_os_region *out, const char *name, size_t len);

/* A device number as the maps file and PROCMAP_QUERY split it, packed as the kernel's dev_t. */
uint64_t psum_maps_dev(uint64_t major, uint64_t minor);

#endif
