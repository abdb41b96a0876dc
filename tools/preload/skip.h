/*
 * PROCSUM_SKIP_FILES: the globs of options.skip_files, one per line (a path
 * may hold ':', not a newline). Parsed in the constructor into storage of
 * the preload library's own: no allocation there, and the list stays the
 * same whatever the program later does to its environment or after a fork.
 */
#ifndef PSUM_PRELOAD_SKIP_H
#define PSUM_PRELOAD_SKIP_H

#include <stdbool.h>
#include <stddef.h>

#include "procsum.h"

/* The longest value taken, in bytes, without its terminating NUL. */
#define PSUM_SKIP_TEXT_MAX 65535u

typedef struct psum_skip_list {
    char text[PSUM_SKIP_TEXT_MAX + 1];                  /* the value, each newline made a NUL */
    const char *patterns[PROCSUM_MAX_SKIP_FILES + 1u]; /* into text, NULL-terminated */
    size_t count;
} psum_skip_list;

/*
 * The list from `value` (the variable's text; NULL or "" is no glob). false
 * when refused (an empty line, more than PROCSUM_MAX_SKIP_FILES lines, more
 * than PSUM_SKIP_TEXT_MAX bytes): why[cap] says so, naming the variable,
 * and the list is empty.
 */
bool psum_skip_parse(psum_skip_list *l, const char *value, char *why, size_t cap);

#endif
