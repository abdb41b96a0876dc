/*
 * Shell-style patterns over paths, for options.skip_files: the meaning of
 * fnmatch(3) without flags in the C locale ('*' and '?' also match '/', a
 * leading '.' is not special), written here because not every platform has fnmatch.
 */
#ifndef PSUM_GLOB_H
#define PSUM_GLOB_H

#include <stdbool.h>

/*
 * Whether s matches pattern: '*' any run of characters, '?' one character,
 * [set] one of a set ("a-z" ranges, '!' or '^' first negates, ']' first is
 * literal, "[:digit:]" and the other classes of the C locale, "[=c=]" and
 * "[.c.]" the character c), '\' makes the next character literal. A '['
 * without its ']' is an ordinary character; a pattern ending in a lone '\'
 * matches nothing. Bytes are compared as bytes.
 */
bool psum_glob_match(const char *pattern, const char *s);

/* Whether s matches any pattern of the NULL-terminated list (NULL: none). */
bool psum_glob_any(const char *const *patterns, const char *s);

#endif
