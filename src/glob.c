/*
 * fnmatch(3)'s patterns without flags, in the C locale, read as the GNU C
 * library reads them, malformed sets included: a pattern means the same
 * here as in the tools an operator tries it with. '*' is matched by
 * remembering the last star and retrying one character further on
 * failure: linear in practice and never recursive, so a hostile path
 * cannot make it deep.
 */
#include "glob.h"

#include <stddef.h>
#include <string.h>

/* What a bracket expression makes of one character. */
typedef enum set_answer {
    SET_MISS,    /* not in the set */
    SET_HIT,     /* in the set */
    SET_LITERAL, /* not a set (no closing ']'): the '[' is an ordinary character */
    SET_BROKEN   /* malformed in a way that matches nothing at this place */
} set_answer;

/* The longest "[:name:]" read as a name; longer is malformed (the C library's CHARCLASS_NAME_MAX). */
#define CLASS_NAME_MAX 2048
/* Room for the longest name of a class ("xdigit") and its NUL: a longer name is none. */
#define CLASS_NAME_ROOM 7

/* Whether c is in the C locale's class `name`; -1 for a name that is none. */
static int in_class(const char *name, unsigned char c)
{
    bool upper = c >= 'A' && c <= 'Z', lower = c >= 'a' && c <= 'z', digit = c >= '0' && c <= '9';
    bool graph = c >= 0x21 && c <= 0x7e;
    static const char *const names[] = {"alnum", "alpha", "blank", "cntrl", "digit", "graph",
                                        "lower", "print", "punct", "space", "upper", "xdigit"};
    bool in[] = {
        upper || lower || digit,
        upper || lower,
        c == ' ' || c == '\t',
        c < 0x20 || c == 0x7f,
        digit,
        graph,
        lower,
        graph || c == ' ',
        graph && !upper && !lower && !digit,
        c == ' ' || (c >= '\t' && c <= '\r'),
        upper,
        digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'),
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0)
            return in[i];
    return -1;
}

/* Past the ".]" of a collating symbol whose '.' after '[' is at p; NULL when it has none. */
static const char *symbol_end(const char *p)
{
    const char *q = p + 1;
    while (!(q[0] == '.' && q[1] == ']')) {
        if (*q == '\0')
            return NULL;
        q++;
    }
    return q + 2;
}

/* Whether the collating symbol from p (its '.') to end names one character: the only names the C locale has. */
static bool one_character_symbol(const char *p, const char *end)
{
    return end - p == 4;
}

/*
 * The rest of a set that already matched, from *p: SET_HIT with *p past
 * its ']', SET_LITERAL when it has none, SET_BROKEN when a piece of it is
 * malformed (stricter than reading a set for a match, as the C library is).
 */
static set_answer skip_set(const char **at)
{
    const char *p = *at;
    for (;;) {
        char c = *p++;
        if (c == ']') {
            *at = p;
            return SET_HIT;
        }
        if (c == '\0')
            return SET_LITERAL;
        if (c == '\\') {
            if (*p++ == '\0')
                return SET_BROKEN;
        } else if (c == '[' && *p == ':') {
            const char *colon = p;
            for (size_t len = 1;; len++) {
                char n = *++p;
                if (len == CLASS_NAME_MAX)
                    return SET_BROKEN;
                if (p[0] == ':' && p[1] == ']') {
                    p += 2;
                    break;
                }
                if (n < 'a' || n >= 'z') { /* no class name: the '[' was an ordinary member */
                    p = colon;
                    break;
                }
            }
        } else if (c == '[' && *p == '=') {
            if (p[1] == '\0' || p[2] != '=' || p[3] != ']')
                return SET_BROKEN;
            p += 4;
        } else if (c == '[' && *p == '.') {
            p = symbol_end(p);
            if (!p)
                return SET_BROKEN;
        }
    }
}

/*
 * The set whose '[' is at p - 1, against c; *end is set past its ']' when
 * the answer is SET_MISS or SET_HIT. Members: a character ('\' quotes
 * one), a range "a-z" (either end may be quoted or a collating symbol),
 * "[:class:]", "[=c=]" and "[.c.]"; ']' first is a member.
 */
static set_answer match_set(const char *p, unsigned char c, const char **end)
{
    bool negate = *p == '!' || *p == '^';
    if (negate)
        p++;
    unsigned char m = (unsigned char)*p++; /* the member being read; p is past it */
    for (;;) {
        if (m == '\\') {
            if (*p == '\0')
                return SET_BROKEN;
            m = (unsigned char)*p++;
            goto character;
        }
        if (m == '[' && *p == ':') {
            const char *colon = p;
            char name[CLASS_NAME_ROOM];
            size_t len = 0;
            for (;;) {
                if (len == CLASS_NAME_MAX)
                    return SET_BROKEN;
                char n = *++p;
                if (n == ':' && p[1] == ']') {
                    p += 2;
                    break;
                }
                if (n < 'a' || n >= 'z') { /* no class name: an ordinary '[' */
                    p = colon;
                    goto character;
                }
                if (len < CLASS_NAME_ROOM)
                    name[len] = n;
                len++;
            }
            int in = -1; /* longer than any class's name */
            if (len < CLASS_NAME_ROOM) {
                name[len] = '\0';
                in = in_class(name, c);
            }
            if (in < 0)
                return SET_BROKEN;
            if (in)
                goto hit;
            m = (unsigned char)*p++;
        } else if (m == '[' && *p == '=') {
            if (p[1] == '\0' || p[2] != '=' || p[3] != ']')
                goto character; /* an ordinary '[' */
            bool same = (unsigned char)p[1] == c;
            p += 4;
            if (same)
                goto hit;
            m = (unsigned char)*p++;
        } else if (m == '\0') {
            return SET_LITERAL;
        } else {
            unsigned char first;
            bool range;
            if (m == '[' && *p == '.') {
                const char *after = symbol_end(p);
                if (!after)
                    return SET_BROKEN;
                first = (unsigned char)p[1];
                bool one = one_character_symbol(p, after);
                p = after;
                range = *p == '-' && p[1] != '\0';
                if (!one)
                    return SET_BROKEN;
                if (!range && first == c)
                    goto hit;
            } else {
            character:
                range = *p == '-' && p[1] != '\0' && p[1] != ']';
                if (!range && m == c)
                    goto hit;
                first = m;
            }
            m = (unsigned char)*p++;
            if (m == '-' && *p != ']') {
                unsigned char last = (unsigned char)*p++;
                if (last == '[' && *p == '.') {
                    const char *after = symbol_end(p);
                    if (!after || !one_character_symbol(p, after))
                        return SET_BROKEN;
                    last = (unsigned char)p[1];
                    p = after;
                } else {
                    if (last == '\\')
                        last = (unsigned char)*p++;
                    if (last == '\0')
                        return SET_BROKEN;
                }
                if (first <= c && c <= last)
                    goto hit;
                m = (unsigned char)*p++;
            }
        }
        if (m == ']')
            break;
    }
    *end = p;
    return negate ? SET_HIT : SET_MISS;
hit:;
    set_answer rest = skip_set(&p);
    if (rest != SET_HIT)
        return rest;
    *end = p;
    return negate ? SET_MISS : SET_HIT;
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
        } else if (*p == '[') {
            set_answer a = match_set(p + 1, (unsigned char)*s, &next);
            if (a == SET_LITERAL) {
                hit = *s == '[';
                next = p + 1;
            } else {
                hit = a == SET_HIT;
            }
        } else if (*p == '\\') {
            hit = p[1] != '\0' && p[1] == *s; /* a trailing '\' matches nothing */
            next = p + 2;
        } else if (*p) {
            hit = *p == *s;
            next = p + 1;
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
