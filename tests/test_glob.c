/*
 * The patterns of options.skip_files (src/glob.c): fixed cases, then
 * thousands of random patterns and paths over a small alphabet, each
 * checked against the C library's fnmatch(3) without flags, the meaning
 * it promises. Patterns are left out only where glob.h says it differs:
 * character classes ("[:") and a pattern ending in a lone '\'.
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

Test(glob, agrees_with_fnmatch)
{
    srand(12345);
    char pattern[16], s[16];
    size_t compared = 0, matched = 0;
    for (int i = 0; i < 200000; i++) {
        random_text(pattern, 10, "ab/*?[]!^-\\");
        random_text(s, 10, "ab/-]![\\*");
        size_t n = strlen(pattern);
        if (strstr(pattern, "[:") || (n && pattern[n - 1] == '\\'))
            continue;
        bool want = fnmatch(pattern, s, 0) == 0;
        cr_assert_eq(psum_glob_match(pattern, s), want, "pattern '%s', text '%s': fnmatch says %d", pattern, s,
                     want);
        compared++;
        matched += want;
    }
    cr_assert_gt(compared, 100000u);
    cr_assert_gt(matched, 1000u, "the random cases must match often enough to test matching");
}
