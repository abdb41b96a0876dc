/*
 * fnmatch(3)'s patterns without flags. '*' is matched by remembering the
 * last star and retrying one character further on failure: linear in
 * practice and never recursive, so a hostile path cannot make it deep.
 */
#include "glob.h"

#include <stddef.h>

/*
 * The set starting after '[' at p, against c. Returns the character after
 * its ']' and sets *hit, or NULL when the set is not closed (the '[' is then
 * an ordinary character).
 */
static const char *match_set(const char *p, unsigned char c, bool *hit)
{
    bool negate = *p == '!' || *p == '^';
    if (negate)
        p++;
    bool found = false;
    bool first = true;
    while (*p && (first || *p != ']')) {
        first = false;
        unsigned char lo = (unsigned char)*p;
        if (lo == '\\' && p[1])
            lo = (unsigned char)*++p;
        p++;
        unsigned char hi = lo;
        if (p[0] == '-' && p[1] && p[1] != ']') {
            hi = (unsigned char)p[1];
            if (hi == '\\' && p[2])
                hi = (unsigned char)(++p)[1]; /* the character after the backslash */
            p += 2;
        }
        if (lo <= c && c <= hi)
            found = true;
    }
    if (*p != ']')
        return NULL;
    *hit = found != negate;
    return p + 1;
}

bool psum_glob_match(const char *pattern, const char *s)
{
    const char *p = pattern;
    const char *star = NULL, *star_s = NULL; /* the last '*' seen, and where in s it matched up to */
    while (*s) {
        bool hit = false;
        const char *next = NULL;
        if (*p == '*') {
            star = ++p;
            star_s = s;
            continue;
        }
        if (*p == '?') {
            hit = true;
            next = p + 1;
        } else if (*p == '[' && (next = match_set(p + 1, (unsigned char)*s, &hit)) != NULL) {
            /* next and hit are set */
        } else if (*p) {
            const char *lit = p;
            if (*lit == '\\' && lit[1])
                lit++;
            hit = *lit == *s;
            next = lit + 1;
        }
        if (hit) {
            p = next;
            s++;
        } else if (star) {
            p = star;
            s = ++star_s;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

bool psum_glob_any(const char *const *patterns, const char *s)
{
    for (size_t i = 0; patterns && patterns[i]; i++)
        if (psum_glob_match(patterns[i], s))
            return true;
    return false;
}
