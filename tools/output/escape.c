/*
 * Escaping of untrusted strings for a terminal (text) and for JSON.
 *
 * Both walk the string one character at a time: a well-formed UTF-8
 * sequence (Unicode's table 3-7: no overlong forms, no surrogates, nothing
 * above U+10FFFF) or, where there is none, a single byte. A character is
 * kept, escaped whole, or (a stray byte) escaped alone, so the text
 * escaping can always be read back to the original bytes.
 */
#include "escape.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const char HEX[] = "0123456789abcdef";

typedef struct out {
    char *dst;
    size_t cap;
    size_t stored; /* bytes in dst, excluding the NUL */
    size_t len;    /* bytes the whole result needs */
    bool full;     /* once one escape did not fit, nothing more is stored */
} out;

static void emit(out *o, const char *s, size_t n)
{
    if (!o->full && o->stored + n < o->cap) {
        memcpy(o->dst + o->stored, s, n);
        o->stored += n;
    } else {
        o->full = true;
    }
    o->len += n;
}

static size_t finish(out *o)
{
    if (o->cap)
        o->dst[o->stored] = '\0';
    return o->len;
}

/* Length of the well-formed UTF-8 sequence at p, 0 if p does not start one; *cp gets its code point. */
static size_t utf8_decode(const unsigned char *p, uint32_t *cp)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t n;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : lo; /* overlong */
        hi = c == 0xed ? 0x9f : hi; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : lo; /* overlong */
        hi = c == 0xf4 ? 0x8f : hi; /* above U+10FFFF */
    } else {
        return 0;
    }
    uint32_t v = c & (0x7fu >> n);
    /* A NUL fails the range check, so the loop never reads past the string. */
    for (size_t i = 1; i < n; i++) {
        unsigned char t = p[i];
        if (t < (i == 1 ? lo : 0x80) || t > (i == 1 ? hi : 0xbf))
            return 0;
        v = v << 6 | (t & 0x3fu);
    }
    *cp = v;
    return n;
}

/*
 * Characters that must not reach a terminal or a log as they are: controls
 * (C0, DEL, C1: U+009B is a CSI on some terminals even in UTF-8) and those
 * that reorder or break lines of text (bidi marks, embeddings, overrides and
 * isolates; the line and paragraph separators).
 */
static bool hidden(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
           (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* The named escape of a character in JSON, or 0. */
static char named(uint32_t cp)
{
    switch (cp) {
    case '\\': return '\\';
    case '\t': return 't';
    case '\n': return 'n';
    case '\r': return 'r';
    default: return 0;
    }
}

static bool hex_digit(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * The text's one escape is \xNN, so a backslash is written as it is (a
 * Windows path reads as itself) unless an "xNN" follows it in the name,
 * which would read as an escape: that backslash alone becomes \x5c.
 */
size_t psum_escape_text(char *dst, size_t cap, const char *src)
{
    out o = {.dst = dst, .cap = cap};
    const unsigned char *p = (const unsigned char *)src;
    while (*p) {
        uint32_t cp = 0;
        size_t n = utf8_decode(p, &cp);
        char e[16];
        bool looks_escaped = cp == '\\' && p[1] == 'x' && hex_digit(p[2]) && hex_digit(p[3]);
        if (n && !hidden(cp) && !looks_escaped) {
            emit(&o, (const char *)p, n);
        } else {
            n = n ? n : 1;
            for (size_t i = 0; i < n; i++)
                memcpy(e + 4 * i, (char[]){'\\', 'x', HEX[p[i] >> 4], HEX[p[i] & 15]}, 4);
            emit(&o, e, 4 * n);
        }
        p += n;
    }
    return finish(&o);
}

size_t psum_escape_json(char *dst, size_t cap, const char *src)
{
    out o = {.dst = dst, .cap = cap};
    const unsigned char *p = (const unsigned char *)src;
    while (*p) {
        uint32_t cp = 0;
        size_t n = utf8_decode(p, &cp);
        if (n == 0) {
            cp = *p; /* a stray byte: the code point of the same value */
            n = 1;
        } else if (!hidden(cp) && cp != '"' && cp != '\\') {
            emit(&o, (const char *)p, n);
            p += n;
            continue;
        }
        char name = cp == '"' ? '"' : cp == '\b' ? 'b' : cp == '\f' ? 'f' : named(cp);
        if (name)
            emit(&o, (char[]){'\\', name}, 2);
        else
            emit(&o, (char[]){'\\', 'u', HEX[cp >> 12 & 15], HEX[cp >> 8 & 15], HEX[cp >> 4 & 15], HEX[cp & 15]}, 6);
        p += n;
    }
    return finish(&o);
}
