/*
 * PROCSUM_SKIP_FILES as the preload library reads it (tools/preload/skip.c):
 * one glob per line, kept whole when it holds ':' or spaces; unset or empty
 * is no glob; an empty line (a newline at the end too), more than
 * PROCSUM_MAX_SKIP_FILES globs and a value longer than PSUM_SKIP_TEXT_MAX
 * are refused with a reason naming the variable, leaving the list empty.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "skip.h"

static psum_skip_list list;
static char why[256];

Test(preload_skip, one_glob_per_line)
{
    cr_assert(psum_skip_parse(&list, "/opt/agent/*.so\n/srv/a:b/lib x.so\n?", why, sizeof(why)));
    cr_assert_eq(list.count, 3);
    cr_assert_str_eq(list.patterns[0], "/opt/agent/*.so");
    cr_assert_str_eq(list.patterns[1], "/srv/a:b/lib x.so");
    cr_assert_str_eq(list.patterns[2], "?");
    cr_assert_null(list.patterns[3]);
}

Test(preload_skip, unset_or_empty_is_no_glob)
{
    cr_assert(psum_skip_parse(&list, "x", why, sizeof(why)));
    cr_assert(psum_skip_parse(&list, NULL, why, sizeof(why)));
    cr_assert_eq(list.count, 0);
    cr_assert_null(list.patterns[0]);
    cr_assert(psum_skip_parse(&list, "", why, sizeof(why)));
    cr_assert_eq(list.count, 0);
    cr_assert_null(list.patterns[0]);
}

/* Refused, with a reason naming the variable, and the list left empty. */
static void refused(const char *value, const char *reason)
{
    cr_assert(psum_skip_parse(&list, "/before", why, sizeof(why)));
    why[0] = '\0';
    cr_assert_not(psum_skip_parse(&list, value, why, sizeof(why)), "taken: %.40s", value);
    cr_assert_eq(list.count, 0);
    cr_assert_null(list.patterns[0]);
    cr_assert(strstr(why, "PROCSUM_SKIP_FILES") && strstr(why, reason), "%s", why);
}

Test(preload_skip, empty_lines_refused)
{
    refused("\n", "glob 1 is empty");
    refused("/a\n\n/b", "glob 2 is empty");
    refused("/a\n", "glob 2 is empty");
}

Test(preload_skip, at_most_max_globs)
{
    size_t n = PROCSUM_MAX_SKIP_FILES + 1;
    char *v = malloc(2 * n);
    cr_assert_not_null(v);
    for (size_t i = 0; i < n; i++) {
        v[2 * i] = 'a';
        v[2 * i + 1] = '\n';
    }
    v[2 * n - 3] = '\0'; /* exactly the most */
    cr_assert(psum_skip_parse(&list, v, why, sizeof(why)), "%s", why);
    cr_assert_eq(list.count, PROCSUM_MAX_SKIP_FILES);
    cr_assert_null(list.patterns[PROCSUM_MAX_SKIP_FILES]);
    v[2 * n - 3] = '\n';
    v[2 * n - 1] = '\0'; /* one more */
    refused(v, "more than");
    free(v);
}

Test(preload_skip, bounded_length)
{
    char *v = malloc(PSUM_SKIP_TEXT_MAX + 2);
    cr_assert_not_null(v);
    memset(v, 'a', PSUM_SKIP_TEXT_MAX + 1);
    v[PSUM_SKIP_TEXT_MAX] = '\0'; /* exactly the most */
    cr_assert(psum_skip_parse(&list, v, why, sizeof(why)), "%s", why);
    cr_assert_eq(list.count, 1);
    cr_assert_eq(strlen(list.patterns[0]), PSUM_SKIP_TEXT_MAX);
    v[PSUM_SKIP_TEXT_MAX] = 'a';
    v[PSUM_SKIP_TEXT_MAX + 1] = '\0';
    refused(v, "longer than");
    free(v);
}
