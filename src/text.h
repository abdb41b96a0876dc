/* Small string helpers shared by the core and both backends. */
#ifndef PSUM_TEXT_H
#define PSUM_TEXT_H

/* A malloc'ed copy of s, or NULL when out of memory. */
char *psum_text_dup(const char *s);

#endif
