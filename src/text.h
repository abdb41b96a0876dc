/* Small string helpers shared by the core and both backends. */
#ifndef PSUM_TEXT_H
#define PSUM_TEXT_H

/* A malloc'ed copy of s, or NULL when out of memory. */
char *psum_text_dup(const char *s);
/*
 * A copy of a NULL-terminated list of strings in one malloc'ed block (free
 * it with free()): 0 with *out NULL for a NULL list, or PROCSUM_ENOMEM.
 */
int psum_text_dup_list(const char *const *list, char ***out);

#endif
