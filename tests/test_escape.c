/*
 * psum_escape_text and psum_escape_json (tools/output/escape.c): exact
 * outputs for hostile names (terminal escapes, bells, carriage returns,
 * quotes, backslashes, every kind of malformed UTF-8, bidi overrides), that
 * valid UTF-8 is kept, and the snprintf-like contract when the buffer is
 * short.
 */
#include <criterion/criterion.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"

static void expect(size_t (*escape)(char *, size_t, const char *), const char *in, const char *want)
{
    char out[256];
    size_t n = escape(out, sizeof(out), in);
    cr_assert_str_eq(out, want);
    cr_assert_eq(n, strlen(want), "returned %zu, want %zu", n, strlen(want));
}

#define TEXT(in, want) expect(psum_escape_text, in, want)
#define JSON(in, want) expect(psum_escape_json, in, want)

Test(escape, plain_ascii_is_kept)
{
    TEXT("", "");
    JSON("", "");
    TEXT("/usr/lib/libc.so.6 [vdso] a b'c", "/usr/lib/libc.so.6 [vdso] a b'c");
    JSON("/usr/lib/libc.so.6 [vdso] a b'c", "/usr/lib/libc.so.6 [vdso] a b'c");
}

Test(escape, terminal_escape_sequence)
{
    TEXT("lib\x1b[2Jx.so", "lib\\x1b[2Jx.so");
    JSON("lib\x1b[2Jx.so", "lib\\u001b[2Jx.so");
    TEXT("\x1b]0;title\x07", "\\x1b]0;title\\x07");
    JSON("\x1b]0;title\x07", "\\u001b]0;title\\u0007");
}

Test(escape, bell_cr_lf_tab_and_other_c0)
{
    TEXT("a\ab", "a\\x07b");
    JSON("a\ab", "a\\u0007b");
    TEXT("ok\rEVIL", "ok\\x0dEVIL");
    JSON("ok\rEVIL", "ok\\rEVIL");
    TEXT("a\nb\tc", "a\\x0ab\\x09c");
    JSON("a\nb\tc", "a\\nb\\tc");
    TEXT("\b\f\x01\x1f", "\\x08\\x0c\\x01\\x1f");
    JSON("\b\f\x01\x1f", "\\b\\f\\u0001\\u001f");
}

Test(escape, delete)
{
    TEXT("a\x7f", "a\\x7f");
    JSON("a\x7f", "a\\u007f");
}

Test(escape, quotes_and_backslash)
{
    TEXT("we\"ird\\lib", "we\"ird\\lib");
    JSON("we\"ird\\lib", "we\\\"ird\\\\lib");
    /* A backslash before x and two hex digits in a name cannot pass for an escape. */
    TEXT("\\x1b", "\\x5cx1b");
    TEXT("\\xAb", "\\x5cxAb");
    TEXT("\\xg1 \\x1", "\\xg1 \\x1");
    /* Before a character that is escaped, a backslash stays itself. */
    TEXT("a\\\x1b", "a\\\\x1b");
    TEXT("\\\\x41", "\\\\x5cx41");
}

Test(escape, windows_paths_read_as_themselves)
{
    /* In a table a path shows as Windows writes it; JSON doubles each backslash, as JSON must. */
    TEXT("C:\\windows\\system32\\kernel32.dll", "C:\\windows\\system32\\kernel32.dll");
    JSON("C:\\windows\\system32\\kernel32.dll", "C:\\\\windows\\\\system32\\\\kernel32.dll");
    TEXT("C:\\windows\\system32\\ntdll.dll", "C:\\windows\\system32\\ntdll.dll");
    TEXT("\\\\?\\C:\\temp\\run\\new.dll", "\\\\?\\C:\\temp\\run\\new.dll");
    /* The one backslash that is escaped: before "x" and two hex digits. */
    TEXT("C:\\sdk\\x86\\a.dll", "C:\\sdk\\x5cx86\\a.dll");
}

/* Reads text escaping back: \x and two hex digits is that byte, any other backslash is itself. */
static size_t unescape_text(char *dst, const char *src)
{
    size_t n = 0;
    for (const char *p = src; *p;) {
        unsigned hi, lo;
        if (p[0] == '\\' && p[1] == 'x' && sscanf(p + 2, "%1x%1x", &hi, &lo) == 2 && isxdigit((unsigned char)p[2]) &&
            isxdigit((unsigned char)p[3])) {
            dst[n++] = (char)(hi << 4 | lo);
            p += 4;
        } else {
            dst[n++] = *p++;
        }
    }
    dst[n] = '\0';
    return n;
}

Test(escape, text_reads_back_to_the_original)
{
    static const char *const names[] = {
        "C:\\windows\\system32\\ntdll.dll", "\\x41\\\\x41\\\\\\x41", "a\\\x1b[2J\\", "\\\n\\\t\\\r",
        "bad\xff\\xffx", "\\x\\xg\\x4", "caf\xc3\xa9\\x\xe2\x80\xae", "\\",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char esc[256], back[256];
        psum_escape_text(esc, sizeof(esc), names[i]);
        unescape_text(back, esc);
        cr_assert_str_eq(back, names[i], "name %zu escaped as %s", i, esc);
    }
}

Test(escape, valid_multibyte_utf8_is_kept)
{
    const char *s = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e \xe6\x97\xa5\xe6\x9c\xac \xef\xbf\xbd";
    TEXT(s, s);
    JSON(s, s);
    /* The highest code point, U+10FFFF. */
    TEXT("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");
}

Test(escape, raw_c1_bytes)
{
    /* 0x9b alone is a CSI on terminals that take 8-bit controls. */
    TEXT("a\x9b" "2Jb", "a\\x9b2Jb");
    JSON("a\x9b" "2Jb", "a\\u009b2Jb");
    TEXT("\x80\x9f", "\\x80\\x9f");
}

Test(escape, c1_encoded_as_utf8)
{
    TEXT("a\xc2\x9b" "2J", "a\\xc2\\x9b2J");
    JSON("a\xc2\x9b" "2J", "a\\u009b2J");
    TEXT("\xc2\x85", "\\xc2\\x85");
    /* U+00A0, just past C1, is an ordinary character. */
    TEXT("\xc2\xa0", "\xc2\xa0");
}

Test(escape, bidi_controls_and_separators)
{
    /* U+202E RIGHT-TO-LEFT OVERRIDE: makes "gpj.exe" read as "exe.jpg". */
    TEXT("a\xe2\x80\xae" "gpj.so", "a\\xe2\\x80\\xaegpj.so");
    JSON("a\xe2\x80\xae" "gpj.so", "a\\u202egpj.so");
    JSON("\xe2\x81\xa6\xe2\x81\xa9", "\\u2066\\u2069");
    JSON("\xe2\x80\xa8\xe2\x80\xa9", "\\u2028\\u2029");
    JSON("\xd8\x9c\xe2\x80\x8e\xe2\x80\x8f", "\\u061c\\u200e\\u200f");
    /* Neighbours that are not controls are kept. */
    TEXT("\xe2\x80\xa7\xe2\x80\xaf", "\xe2\x80\xa7\xe2\x80\xaf");
}

Test(escape, invalid_utf8)
{
    /* A byte that never starts a sequence. */
    TEXT("bad\xfflib.so", "bad\\xfflib.so");
    JSON("bad\xfflib.so", "bad\\u00fflib.so");
    /* An overlong '/' (C0 AF) and overlong forms of three and four bytes. */
    TEXT("\xc0\xaf", "\\xc0\\xaf");
    JSON("\xc0\xaf", "\\u00c0\\u00af");
    TEXT("\xe0\x80\xaf", "\\xe0\\x80\\xaf");
    TEXT("\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf");
    /* A UTF-16 surrogate, and a code point above U+10FFFF. */
    TEXT("\xed\xa0\x80", "\\xed\\xa0\\x80");
    JSON("\xed\xa0\x80", "\\u00ed\\u00a0\\u0080");
    TEXT("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
    /* A sequence cut short, in the middle and at the end; the next character survives. */
    TEXT("\xe2\x82x", "\\xe2\\x82x");
    TEXT("a\xe2\x82", "a\\xe2\\x82");
    JSON("a\xe2\x82", "a\\u00e2\\u0082");
    /* A stray continuation byte before a valid character. */
    TEXT("\xa9\xc3\xa9", "\\xa9\xc3\xa9");
}

Test(escape, short_buffer_keeps_whole_escapes)
{
    char out[8];
    memset(out, 'Z', sizeof(out));
    /* "ab\x1b" is 6 bytes: with room for 5 the escape is left out whole. */
    size_t n = psum_escape_text(out, 6, "ab\x1b" "c");
    cr_assert_eq(n, 7);
    cr_assert_str_eq(out, "ab");
    n = psum_escape_text(out, sizeof(out), "ab\x1b" "c");
    cr_assert_eq(n, 7);
    cr_assert_str_eq(out, "ab\\x1bc");
    /* Nothing stored for cap 0, but the length is still returned. */
    cr_assert_eq(psum_escape_json(NULL, 0, "\x01"), 6);
    out[0] = 'Z';
    cr_assert_eq(psum_escape_json(out, 1, "abc"), 3);
    cr_assert_str_eq(out, "");
}
