/*
 * psum_maps_parse_line: ordinary and awkward /proc/PID/maps lines, malformed
 * ones, and every line of this process's real maps file.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "os/linux/maps.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Parses a NUL-terminated line; the caller frees r->path. */
static int parse(const char *line, psum_os_region *r)
{
    memset(r, 0, sizeof(*r));
    return psum_maps_parse_line(line, strlen(line), r);
}

static void done(psum_os_region *r)
{
    free(r->path);
    r->path = NULL;
}

/* ---- well-formed lines ------------------------------------------------- */

Test(maps_line, normal_file_line)
{
    psum_os_region r;
    cr_assert_eq(parse("55d4c6e0a000-55d4c6e2f000 r-xp 00002000 fd:01 1234567                    /usr/bin/cat\n",
                       &r),
                 0);
    cr_assert_eq(r.start, (uintptr_t)0x55d4c6e0a000u);
    cr_assert_eq(r.end, (uintptr_t)0x55d4c6e2f000u);
    cr_assert_eq(r.prot, PSUM_PROT_R | PSUM_PROT_X);
    cr_assert_eq(r.file_offset, 0x2000u);
    cr_assert_eq(r.dev, (uint64_t)makedev(0xfd, 1));
    cr_assert_eq(r.ino, 1234567u);
    cr_assert_str_eq(r.path, "/usr/bin/cat");
    cr_assert_eq(r.kind, PROCSUM_REGION_FILE);
    cr_assert_eq(r.file_deleted, false);
    cr_assert_eq(r.main_executable, false, "the parser must leave main_executable to the caller");
    done(&r);
}

Test(maps_line, protection_bits)
{
    static const struct {
        const char *perms;
        unsigned prot;
    } cases[] = {
        {"r--p", PSUM_PROT_R},
        {"-w-p", PSUM_PROT_W},
        {"--xp", PSUM_PROT_X},
        {"rw-p", PSUM_PROT_R | PSUM_PROT_W},
        {"rwxp", PSUM_PROT_R | PSUM_PROT_W | PSUM_PROT_X},
        {"r-xs", PSUM_PROT_R | PSUM_PROT_X},
        {"---p", 0},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char line[160];
        snprintf(line, sizeof line, "7f0000000000-7f0000004000 %s 00000000 08:02 42   /lib/x.so", cases[i].perms);
        psum_os_region r;
        cr_assert_eq(parse(line, &r), 0, "%s", line);
        cr_assert_eq(r.prot, cases[i].prot, "%s: prot %u", cases[i].perms, r.prot);
        done(&r);
    }
}

Test(maps_line, device_packing_large_numbers)
{
    /* Majors above 0xfff and minors above 0xff use the split fields of dev_t. */
    static const struct {
        const char *dev;
        unsigned major, minor;
    } cases[] = {
        {"00:00", 0, 0},      {"08:01", 8, 1},        {"fd:01", 0xfd, 1},
        {"103:1a5", 0x103, 0x1a5}, {"fff:ff", 0xfff, 0xff}, {"1000:100", 0x1000, 0x100},
        {"abcde:12345", 0xabcde, 0x12345},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char line[160];
        snprintf(line, sizeof line, "1000-2000 r-xp 00000000 %s 7 /x", cases[i].dev);
        psum_os_region r;
        cr_assert_eq(parse(line, &r), 0, "%s", line);
        cr_assert_eq(r.dev, (uint64_t)makedev(cases[i].major, cases[i].minor), "%s: dev %#" PRIx64, cases[i].dev,
                     r.dev);
        cr_assert_eq(major((dev_t)r.dev), cases[i].major, "%s", cases[i].dev);
        cr_assert_eq(minor((dev_t)r.dev), cases[i].minor, "%s", cases[i].dev);
        done(&r);
    }
}

Test(maps_line, anonymous_code)
{
    /* The kernel ends a line without a path with "0 ". Both spellings must work. */
    static const char *const lines[] = {
        "7f2bd4bcd000-7f2bd4c91000 r-xp 00000000 00:00 0 ",
        "7f2bd4bcd000-7f2bd4c91000 r-xp 00000000 00:00 0",
        "7f2bd4bcd000-7f2bd4c91000 r-xp 00000000 00:00 0 \n",
    };
    for (size_t i = 0; i < COUNT(lines); i++) {
        psum_os_region r;
        cr_assert_eq(parse(lines[i], &r), 0, "line %zu", i);
        cr_assert_eq(r.kind, PROCSUM_REGION_ANON, "line %zu", i);
        cr_assert_str_eq(r.path, "[anon]", "line %zu", i);
        cr_assert_eq(r.prot, PSUM_PROT_R | PSUM_PROT_X);
        cr_assert_eq(r.start, (uintptr_t)0x7f2bd4bcd000u);
        cr_assert_eq(r.end, (uintptr_t)0x7f2bd4c91000u);
        cr_assert_eq(r.dev, 0u);
        cr_assert_eq(r.ino, 0u);
        cr_assert_eq(r.file_offset, 0u);
        cr_assert_eq(r.file_deleted, false);
        done(&r);
    }
}

Test(maps_line, vdso)
{
    psum_os_region r;
    cr_assert_eq(parse("7ffd1a5f0000-7ffd1a5f2000 r-xp 00000000 00:00 0                          [vdso]", &r), 0);
    cr_assert_eq(r.kind, PROCSUM_REGION_VDSO);
    cr_assert_str_eq(r.path, "[vdso]");
    cr_assert_eq(r.prot, PSUM_PROT_R | PSUM_PROT_X);
    done(&r);
}

Test(maps_line, vsyscall_huge_addresses)
{
    psum_os_region r;
    cr_assert_eq(parse("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n", &r),
                 0);
    cr_assert_eq(r.kind, PROCSUM_REGION_OTHER);
    cr_assert_str_eq(r.path, "[vsyscall]");
    cr_assert_eq(r.prot, PSUM_PROT_X);
    cr_assert_eq((uint64_t)r.start, UINT64_C(0xffffffffff600000));
    cr_assert_eq((uint64_t)r.end, UINT64_C(0xffffffffff601000));
    done(&r);
}

Test(maps_line, full_width_addresses)
{
    psum_os_region r;
    cr_assert_eq(parse("fffffffffffff000-ffffffffffffffff r-xp ffffffffffff0000 00:00 0 [x]", &r), 0);
    cr_assert_eq((uint64_t)r.start, UINT64_C(0xfffffffffffff000));
    cr_assert_eq((uint64_t)r.end, UINT64_MAX);
    done(&r);
}

Test(maps_line, other_kernel_names)
{
    static const char *const names[] = {"[heap]", "[stack]", "[vvar]", "[uprobes]"};
    for (size_t i = 0; i < COUNT(names); i++) {
        char line[160];
        snprintf(line, sizeof line, "1000-2000 r-xp 00000000 00:00 0          %s", names[i]);
        psum_os_region r;
        cr_assert_eq(parse(line, &r), 0, "%s", line);
        cr_assert_eq(r.kind, PROCSUM_REGION_OTHER, "%s", names[i]);
        cr_assert_str_eq(r.path, names[i]);
        done(&r);
    }
}

Test(maps_line, named_anonymous)
{
    psum_os_region r;
    cr_assert_eq(parse("7f0000000000-7f0000010000 r-xp 00000000 00:00 0                          [anon:my jit]\n",
                       &r),
                 0);
    cr_assert_eq(r.kind, PROCSUM_REGION_ANON);
    cr_assert_str_eq(r.path, "[anon:my jit]");
    cr_assert_eq(r.file_deleted, false);
    done(&r);
}

Test(maps_line, path_with_spaces)
{
    psum_os_region r;
    cr_assert_eq(parse("7f0000000000-7f0000010000 r-xp 00001000 08:01 99                         /tmp/my lib.so\n", &r),
                 0);
    cr_assert_eq(r.kind, PROCSUM_REGION_FILE);
    cr_assert_str_eq(r.path, "/tmp/my lib.so");
    cr_assert_eq(r.ino, 99u);
    cr_assert_eq(r.file_offset, 0x1000u);
    cr_assert_eq(r.file_deleted, false);
    done(&r);

    /* Several spaces inside the path are kept too. */
    cr_assert_eq(parse("1000-2000 r-xp 00000000 08:01 99 /tmp/a  b   c.so", &r), 0);
    cr_assert_str_eq(r.path, "/tmp/a  b   c.so");
    done(&r);

    /* File names may end in spaces; the kernel prints them as they are. */
    cr_assert_eq(parse("1000-2000 r-xp 00000000 08:01 99 /tmp/trailing  \n", &r), 0);
    cr_assert_str_eq(r.path, "/tmp/trailing  ");
    done(&r);
}

Test(maps_line, deleted_suffix)
{
    psum_os_region r;
    cr_assert_eq(parse("7f0000000000-7f0000010000 r-xp 00000000 08:01 77      /usr/lib/libfoo.so (deleted)\n", &r), 0);
    cr_assert_eq(r.kind, PROCSUM_REGION_FILE);
    cr_assert_str_eq(r.path, "/usr/lib/libfoo.so");
    cr_assert_eq(r.file_deleted, true);
    cr_assert_eq(r.ino, 77u);
    done(&r);

    /* Spaces in the path and the suffix together. */
    cr_assert_eq(parse("1000-2000 r-xp 00000000 08:01 77 /tmp/my lib.so (deleted)", &r), 0);
    cr_assert_str_eq(r.path, "/tmp/my lib.so");
    cr_assert_eq(r.file_deleted, true);
    done(&r);
}

Test(maps_line, deleted_in_the_middle_is_kept)
{
    psum_os_region r;
    cr_assert_eq(parse("1000-2000 r-xp 00000000 08:01 77   /tmp/a (deleted)/lib.so\n", &r), 0);
    cr_assert_eq(r.kind, PROCSUM_REGION_FILE);
    cr_assert_str_eq(r.path, "/tmp/a (deleted)/lib.so");
    cr_assert_eq(r.file_deleted, false);
    done(&r);

    /* Without its leading space it is part of the name, not the kernel's suffix. */
    cr_assert_eq(parse("1000-2000 r-xp 00000000 08:01 77   /tmp/lib.so(deleted)\n", &r), 0);
    cr_assert_str_eq(r.path, "/tmp/lib.so(deleted)");
    cr_assert_eq(r.file_deleted, false);
    done(&r);
}

Test(maps_line, with_and_without_newline_agree)
{
    static const char *const base[] = {
        "55d4c6e0a000-55d4c6e2f000 r-xp 00002000 fd:01 1234567                    /usr/bin/cat",
        "7f2bd4bcd000-7f2bd4c91000 r-xp 00000000 00:00 0 ",
        "7ffd1a5f0000-7ffd1a5f2000 r-xp 00000000 00:00 0                          [vdso]",
        "1000-2000 r-xp 00000000 08:01 77 /usr/lib/libfoo.so (deleted)",
    };
    for (size_t i = 0; i < COUNT(base); i++) {
        char with_nl[256];
        snprintf(with_nl, sizeof with_nl, "%s\n", base[i]);
        psum_os_region a, b;
        cr_assert_eq(parse(base[i], &a), 0, "%s", base[i]);
        cr_assert_eq(parse(with_nl, &b), 0, "%s + newline", base[i]);
        cr_assert_eq(a.start, b.start);
        cr_assert_eq(a.end, b.end);
        cr_assert_eq(a.prot, b.prot);
        cr_assert_eq(a.kind, b.kind);
        cr_assert_eq(a.dev, b.dev);
        cr_assert_eq(a.ino, b.ino);
        cr_assert_eq(a.file_offset, b.file_offset);
        cr_assert_eq(a.file_deleted, b.file_deleted);
        cr_assert_str_eq(a.path, b.path);
        cr_assert_null(strchr(b.path, '\n'), "newline kept in path of line %zu", i);
        done(&a);
        done(&b);
    }
}

Test(maps_line, honours_len)
{
    /* Two lines in one buffer: len covers only the first, so the second must not leak into the path. */
    const char buf[] = "1000-2000 r-xp 00000000 08:01 5 /lib/one.so\n3000-4000 r-xp 00000000 08:01 6 /lib/two.so\n";
    size_t first = (size_t)(strchr(buf, '\n') - buf);
    psum_os_region r;
    memset(&r, 0, sizeof r);
    cr_assert_eq(psum_maps_parse_line(buf, first, &r), 0);
    cr_assert_str_eq(r.path, "/lib/one.so");
    cr_assert_eq(r.ino, 5u);
    done(&r);

    /* Cut inside the path. */
    memset(&r, 0, sizeof r);
    cr_assert_eq(psum_maps_parse_line(buf, first - 3, &r), 0);
    cr_assert_str_eq(r.path, "/lib/one");
    done(&r);

    /* Cut before the inode: not a whole line any more. */
    memset(&r, 0, sizeof r);
    cr_assert_eq(psum_maps_parse_line(buf, (size_t)(strstr(buf, " 5 ") - buf), &r), PROCSUM_EBADMSG);
    done(&r);
}

/* ---- malformed lines --------------------------------------------------- */

Test(maps_line, malformed)
{
    static const char *const bad[] = {
        "",
        "\n",
        "garbage",
        "garbage\n",
        /* end <= start */
        "2000-1000 r-xp 00000000 08:01 5 /x",
        "2000-2000 r-xp 00000000 08:01 5 /x",
        /* missing fields */
        "1000-2000",
        "1000-",
        "-2000 r-xp 00000000 08:01 5 /x",
        "1000 r-xp 00000000 08:01 5 /x",
        "1000-2000 r-xp",
        "1000-2000 r-xp 00000000",
        "1000-2000 r-xp 00000000 08:01",
        "1000-2000 r-xp 00000000 08:01 ",
        "1000-2000 r-xp 00000000 08 5 /x",
        "1000-2000 r-xp 00000000 :01 5 /x",
        "1000-2000 r-xp 00000000 08: 5 /x",
        "1000-2000 r-xp 08:01 5 /x",
        "1000-2000 00000000 08:01 5 /x",
        /* bad perms */
        "1000-2000 rzxp 00000000 08:01 5 /x",
        "1000-2000 xr-p 00000000 08:01 5 /x",
        "1000-2000 r-w- 00000000 08:01 5 /x",
        "1000-2000 RWXP 00000000 08:01 5 /x",
        /* 17 hex digits */
        "10000000000000000-10000000000001000 r-xp 00000000 08:01 5 /x",
        "1000-10000000000000000 r-xp 00000000 08:01 5 /x",
        "1000-2000 r-xp 00000000000000000 08:01 5 /x",
        /* inode not numeric */
        "1000-2000 r-xp 00000000 08:01 abc /x",
        "1000-2000 r-xp 00000000 08:01 12a /x",
        "1000-2000 r-xp 00000000 08:01 -5 /x",
        /* inode beyond 64 bits */
        "1000-2000 r-xp 00000000 08:01 18446744073709551616 /x",
        /* not hexadecimal */
        "10g0-2000 r-xp 00000000 08:01 5 /x",
        "0x1000-0x2000 r-xp 00000000 08:01 5 /x",
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        psum_os_region r;
        int err = parse(bad[i], &r);
        cr_expect_eq(err, PROCSUM_EBADMSG, "'%s' gave %d, not PROCSUM_EBADMSG", bad[i], err);
        done(&r);
    }
}

/* Lines that look almost right: the fourth permission character and the separating spaces are required. */
Test(maps_line, strict_format)
{
    static const char *const bad[] = {
        "1000-2000 r-xz 00000000 08:01 5 /x",
        "1000-2000 r-x 00000000 08:01 5 /x",
        "1000-2000r-xp 00000000 08:01 5 /x",
        "1000-2000 r-xp00000000 08:01 5 /x",
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        psum_os_region r;
        int err = parse(bad[i], &r);
        cr_expect_eq(err, PROCSUM_EBADMSG, "'%s' gave %d, not PROCSUM_EBADMSG", bad[i], err);
        done(&r);
    }
}

Test(maps_line, inode_at_64_bit_limit)
{
    psum_os_region r;
    cr_assert_eq(parse("1000-2000 r-xp 00000000 08:01 18446744073709551615 /x", &r), 0);
    cr_assert_eq(r.ino, UINT64_MAX);
    done(&r);
}

Test(maps_line, sixteen_hex_digits_with_leading_zeros)
{
    psum_os_region r;
    cr_assert_eq(parse("0000000000001000-0000000000002000 r-xp 0000000000003000 08:01 5 /x", &r), 0);
    cr_assert_eq(r.start, (uintptr_t)0x1000u);
    cr_assert_eq(r.end, (uintptr_t)0x2000u);
    cr_assert_eq(r.file_offset, 0x3000u);
    done(&r);
}

/* ---- the real maps file ------------------------------------------------ */

static char *read_self_maps(size_t *len)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    cr_assert(fd >= 0, "open /proc/self/maps: %s", strerror(errno));
    size_t cap = 1 << 16, used = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    for (;;) {
        if (cap - used < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
        ssize_t n = read(fd, buf + used, cap - used - 1);
        if (n < 0 && errno == EINTR)
            continue;
        cr_assert(n >= 0, "read /proc/self/maps: %s", strerror(errno));
        if (n == 0)
            break;
        used += (size_t)n;
    }
    close(fd);
    buf[used] = '\0';
    *len = used;
    return buf;
}

static int probe_variable;

Test(maps_real, every_line_of_proc_self_maps)
{
    size_t len;
    char *maps = read_self_maps(&len);
    cr_assert_gt(len, 0u);

    size_t lines = 0;
    uintptr_t prev_end = 0;
    uintptr_t code = (uintptr_t)&read_self_maps;
    uintptr_t data = (uintptr_t)&probe_variable;
    uintptr_t stack = (uintptr_t)&lines;
    bool code_found = false, data_found = false, stack_found = false;

    for (char *line = maps; *line;) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        char copy[4200];
        cr_assert_lt(n, sizeof copy);
        memcpy(copy, line, n);
        copy[n] = '\0';

        psum_os_region r;
        memset(&r, 0, sizeof r);
        /* Pass the newline too, as a reader of the whole file might. */
        int err = psum_maps_parse_line(line, nl ? n + 1 : n, &r);
        cr_assert_eq(err, 0, "line '%s' gave %d", copy, err);
        lines++;

        /* An independent reading of the same fields. */
        unsigned long long s, e, off, ino;
        unsigned maj, mnr;
        char perms[5];
        int path_at = 0;
        cr_assert_eq(sscanf(copy, "%llx-%llx %4s %llx %x:%x %llu %n", &s, &e, perms, &off, &maj, &mnr, &ino, &path_at),
                     7, "sscanf could not read '%s'", copy);
        cr_assert_eq((unsigned long long)r.start, s, "%s", copy);
        cr_assert_eq((unsigned long long)r.end, e, "%s", copy);
        unsigned prot = (perms[0] == 'r' ? PSUM_PROT_R : 0u) | (perms[1] == 'w' ? PSUM_PROT_W : 0u) |
                        (perms[2] == 'x' ? PSUM_PROT_X : 0u);
        cr_assert_eq(r.prot, prot, "%s", copy);
        cr_assert_eq(r.start % 4096, 0u, "%s", copy);
        cr_assert_eq(r.end % 4096, 0u, "%s", copy);
        cr_assert_geq(r.start, prev_end, "maps not ascending at '%s'", copy);
        prev_end = r.end;

        const char *path = path_at > 0 ? copy + path_at : "";
        cr_assert_not_null(r.path);
        if (*path == '\0') {
            cr_assert_eq(r.kind, PROCSUM_REGION_ANON, "%s", copy);
            cr_assert_str_eq(r.path, "[anon]", "%s", copy);
        } else if (*path == '/') {
            cr_assert_eq(r.kind, PROCSUM_REGION_FILE, "%s", copy);
            cr_assert_eq(r.ino, ino, "%s", copy);
            cr_assert_eq(r.file_offset, off, "%s", copy);
            cr_assert_eq(r.dev, (uint64_t)makedev(maj, mnr), "%s", copy);
            size_t plen = strlen(r.path);
            cr_assert_eq(strncmp(path, r.path, plen), 0, "path '%s' of '%s'", r.path, copy);
            cr_assert_str_eq(path + plen, r.file_deleted ? " (deleted)" : "", "%s", copy);
        } else {
            cr_assert_str_eq(r.path, path, "%s", copy);
            if (strcmp(path, "[vdso]") == 0)
                cr_assert_eq(r.kind, PROCSUM_REGION_VDSO);
            else if (strncmp(path, "[anon:", 6) == 0)
                cr_assert_eq(r.kind, PROCSUM_REGION_ANON);
            else
                cr_assert_eq(r.kind, PROCSUM_REGION_OTHER, "%s", copy);
        }

        if (code >= r.start && code < r.end) {
            code_found = true;
            cr_assert(r.prot & PSUM_PROT_X, "this test's code is in a non-executable region: %s", copy);
            cr_assert_eq(r.kind, PROCSUM_REGION_FILE, "%s", copy);
        }
        if (data >= r.start && data < r.end) {
            data_found = true;
            cr_assert(r.prot & PSUM_PROT_W, "a static variable is in a read-only region: %s", copy);
        }
        if (stack >= r.start && stack < r.end) {
            stack_found = true;
            cr_assert(r.prot & PSUM_PROT_W, "the stack is in a read-only region: %s", copy);
        }
        done(&r);
        line = nl ? nl + 1 : line + n;
    }
    cr_assert_gt(lines, 3u);
    cr_assert(code_found, "no line covers this test's code at %#" PRIxPTR, code);
    cr_assert(data_found, "no line covers a static variable at %#" PRIxPTR, data);
    cr_assert(stack_found, "no line covers the stack at %#" PRIxPTR, stack);
    free(maps);
}
