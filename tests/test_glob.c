/*
 * The patterns of options.skip_files (src/glob.c): fixed cases, then
 * thousands of random patterns and paths over a small alphabet, each
 * checked against the C library's fnmatch(3) without flags, the meaning
 * it promises: built from single characters and from the pieces of sets
 * (classes, equivalence classes, collating symbols, well formed or not),
 * over paths of letters, digits, spaces, punctuation and control bytes.
 */
#include <criterion/criterion.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"

Test(glob, fixed_cases)
{
    cr_assert(psum_glob_match("/opt/agent/*.so", "/opt/agent/libhook.so"));
    cr_assert(psum_glob_match("/opt/agent/*.so", "/opt/agent/sub/dir/libhook.so"), "'*' matches '/' too");
    cr_assert(!psum_glob_match("/opt/agent/*.so", "/opt/agent/libhook.so.1"));
    cr_assert(psum_glob_match("*libz.so*", "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13"));
    cr_assert(psum_glob_match("lib?.so", "libz.so"));
    cr_assert(!psum_glob_match("lib?.so", "lib.so"));
    cr_assert(psum_glob_match("lib[xyz].so", "libz.so"));
    cr_assert(!psum_glob_match("lib[!xyz].so", "libz.so"));
    cr_assert(psum_glob_match("lib[a-c].so", "libb.so"));
    cr_assert(psum_glob_match("lib[a-\\c].so", "libb.so"), "an escaped end of a range is its character");
    cr_assert(!psum_glob_match("lib[a-\\c].so", "lib\\.so"));
    cr_assert(psum_glob_match("a\\*b", "a*b"));
    cr_assert(!psum_glob_match("a\\*b", "axb"));
    cr_assert(psum_glob_match("a[b", "a[b"), "an unclosed '[' is a character");
    cr_assert(psum_glob_match("*lib[[:digit:]].so", "/opt/lib7.so"));
    cr_assert(!psum_glob_match("*lib[[:digit:]].so", "/opt/libx.so"));
    cr_assert(psum_glob_match("[[:upper:][:space:]]x", " x"), "two classes in one set");
    cr_assert(!psum_glob_match("[![:alnum:]]", "q"));
    cr_assert(!psum_glob_match("[[:nosuch:]]", "n"), "an unknown class matches nothing");
    cr_assert(psum_glob_match("[[=a=]]", "a"));
    cr_assert(psum_glob_match("[[.-.]x]", "-"), "a collating symbol of one character");
    cr_assert(psum_glob_match("[[.a.]-c]", "b"), "a collating symbol starts a range");
    cr_assert(!psum_glob_match("a\\", "a\\"), "a trailing lone backslash matches nothing");
    cr_assert(psum_glob_match("", ""));
    cr_assert(!psum_glob_match("", "a"));
    cr_assert(psum_glob_match("*", ""));
    const char *list[] = {"nothing", "/usr/*", NULL};
    cr_assert(psum_glob_any(list, "/usr/bin/sleep"));
    cr_assert(!psum_glob_any(list, "/opt/x"));
    cr_assert(!psum_glob_any(NULL, "/opt/x"));
}

static void random_text(char *buf, size_t max, const char *alphabet)
{
    size_t n = (size_t)rand() % max;
    size_t k = strlen(alphabet);
    for (size_t i = 0; i < n; i++)
        buf[i] = alphabet[(size_t)rand() % k];
    buf[n] = '\0';
}

/* A pattern of up to `pieces` pieces: single characters, and pieces of sets that may be whole or cut short. */
static void random_pattern(char *buf, size_t size, int pieces)
{
    static const char *const parts[] = {
        "a", "b", "1", " ", "/", "*", "?", "[", "]", "!", "^", "-", "\\", ":", ".", "=", "z",
        "[:alpha:]", "[:digit:]", "[:upper:]", "[:space:]", "[:punct:]", "[:cntrl:]", "[:xdigit:]", "[:alnum:]",
        "[:nosuch:]", "[:", ":]", "[:a", "[::]", "[=a=]", "[=", "=]", "[==]", "[.a.]", "[.-.]", "[.ab.]", "[.",
        ".]", "[..]", "a-z", "[a-", "-]", "[!", "[^", "[]", "[!]",
    };
    size_t count = sizeof(parts) / sizeof(parts[0]);
    buf[0] = '\0';
    int n = rand() % (pieces + 1);
    for (int i = 0; i < n; i++) {
        const char *part = parts[(size_t)rand() % count];
        if (strlen(buf) + strlen(part) + 1 > size)
            break;
        strcat(buf, part);
    }
}

/* Pattern and text of one random case: from single characters, or from pieces of sets. */
static void random_case(bool sets, char pattern[64], char s[16])
{
    if (sets) {
        random_pattern(pattern, 64, 6);
        random_text(s, 8, "ab1Zpunct -/[]:.=!\\\t\x7f\xe9");
    } else {
        random_text(pattern, 10, "ab/*?[]!^-\\");
        random_text(s, 10, "ab/-]![\\*");
    }
}

/* Compares `cases` random cases with fnmatch; returns how many of them match. */
static size_t agree_with_fnmatch(unsigned seed, int cases, bool sets)
{
    srand(seed);
    char pattern[64], s[16];
    size_t matched = 0;
    for (int i = 0; i < cases; i++) {
        random_case(sets, pattern, s);
        bool want = fnmatch(pattern, s, 0) == 0;
        cr_assert_eq(psum_glob_match(pattern, s), want, "pattern '%s', text '%s': fnmatch says %d", pattern, s,
                     want);
        matched += want;
    }
    return matched;
}

Test(glob, agrees_with_fnmatch)
{
    cr_assert_gt(agree_with_fnmatch(12345, 200000, false), 1000u, "the random cases must match often enough");
}

Test(glob, agrees_with_fnmatch_on_sets)
{
    cr_assert_gt(agree_with_fnmatch(54321, 300000, true), 3000u, "the random cases must match often enough");
}

/*
 * A "[:" whose name runs on: the C library reads up to CHARCLASS_NAME_MAX
 * (2048) characters of it before calling the set malformed, in a set being
 * matched and in the rest of one that matched; fewer would refuse patterns
 * it takes.
 */
Test(glob, long_class_names_as_fnmatch)
{
    static char pattern[2200];
    static const int lengths[] = {0, 1, 6, 7, 255, 256, 257, 1000, 2045, 2046, 2047, 2048, 2049};
    static const char *const texts[] = {"a", "b", ":", "[", "x"};
    for (size_t l = 0; l < sizeof(lengths) / sizeof(lengths[0]); l++)
        for (int form = 0; form < 8; form++) {
            /* form: bit 0 "[a" first (the name is then in the rest of a set that matched "a"), bit 1 ":]" ends
             * the name, bit 2 negated. */
            size_t at = 0;
            pattern[at++] = '[';
            if (form & 4)
                pattern[at++] = '!';
            if (form & 1)
                pattern[at++] = 'a';
            pattern[at++] = '[';
            pattern[at++] = ':';
            memset(pattern + at, 'b', (size_t)lengths[l]);
            at += (size_t)lengths[l];
            if (form & 2)
                pattern[at++] = ':';
            pattern[at++] = ']';
            pattern[at++] = ']';
            pattern[at] = '\0';
            for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++)
                cr_assert_eq(psum_glob_match(pattern, texts[t]), fnmatch(pattern, texts[t], 0) == 0,
                             "a name of %d characters, form %d, text '%s'", lengths[l], form, texts[t]);
        }
}
