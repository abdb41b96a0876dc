/*
 * Escaping of strings that came from a process (paths, names): whoever
 * made the process chose them, so they may hold terminal escapes, line
 * breaks or bytes that are not UTF-8. Both functions are pure: bytes in,
 * bytes out, no allocation.
 *
 * Both work like snprintf: they return the length of the whole escaped
 * string (without the NUL) and store as much of it as fits in dst[cap],
 * whole escapes only, always NUL-terminated when cap > 0. Call again with
 * the returned length + 1 to get everything.
 */
#ifndef PSUM_OUTPUT_ESCAPE_H
#define PSUM_OUTPUT_ESCAPE_H

#include <stddef.h>

/*
 * For a person's terminal. Every byte of a control character (C0 with
 * tab, line feed and carriage return, DEL; C1 whether raw or encoded as
 * UTF-8), of a character that reorders or hides text (bidi controls, line
 * and paragraph separators) and every byte that is not part of valid UTF-8
 * becomes \xNN. A backslash is kept, so that a Windows path shows as it is,
 * except one followed by "x" and two hex digits, which becomes \x5c.
 * Everything else, valid multi-byte UTF-8 included, is kept. The original
 * bytes can always be read back: \x and two hex digits is that byte, any
 * other backslash is itself.
 */
size_t psum_escape_text(char *dst, size_t cap, const char *src);

/*
 * The inside of a JSON string (no quotes). \" \\ \b \f \n \r \t; other
 * control characters and the characters psum_escape_text hides become
 * \uXXXX. A byte that is not part of valid UTF-8 becomes the code point of
 * the same value (\u0080-\u00ff), so the output is always valid UTF-8 and
 * keeps the byte's value; a reader cannot tell it from that character
 * written as valid UTF-8.
 */
size_t psum_escape_json(char *dst, size_t cap, const char *src);

#endif
