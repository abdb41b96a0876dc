/*
 * The cause of a change, decided from facts (compare/cause.c), rule by rule
 * in the documented order; and the parser of the tracing file system's
 * uprobe_events lines that one of those facts comes from.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "compare/cause.h"
#include "os/linux/tracing.h"

static procsum_cause decide(psum_cause_facts f)
{
    return psum_cause_decide(&f);
}

Test(cause, each_rule_in_order)
{
    const psum_cause_facts none = {0};
    cr_assert_eq(decide(none), PROCSUM_CAUSE_UNKNOWN);

    psum_cause_facts f = none;
    f.relocated = true;
    f.copy = PROCSUM_COPY_PRIVATE;
    f.file_changed = true;
    f.follows_file = true;
    cr_assert_eq(decide(f), PROCSUM_CAUSE_RELOCATION, "relocation comes first");

    f = none;
    f.file_changed = true;
    f.follows_file = true;
    f.copy = PROCSUM_COPY_PRIVATE;
    cr_assert_eq(decide(f), PROCSUM_CAUSE_FILE_MODIFIED, "memory follows the written file");
    f.follows_file = false;
    cr_assert_eq(decide(f), PROCSUM_CAUSE_WRITE, "a private copy that does not follow it was written");
    f.copy = PROCSUM_COPY_SHARED;
    cr_assert_eq(decide(f), PROCSUM_CAUSE_FILE_MODIFIED, "the cache's own page is the file");

    f = none;
    f.uprobe_listed = true;
    f.int3_only = true;
    f.traced = true;
    cr_assert_eq(decide(f), PROCSUM_CAUSE_UPROBE, "a listed uprobe outranks a debugger");

    f = none;
    f.int3_only = true;
    f.traced = true;
    f.copy = PROCSUM_COPY_PRIVATE;
    cr_assert_eq(decide(f), PROCSUM_CAUSE_BREAKPOINT);
    f.traced = false;
    cr_assert_eq(decide(f), PROCSUM_CAUSE_WRITE, "an int3 without a debugger or uprobes is a write");
    f.uprobes_mapped = true;
    cr_assert_eq(decide(f), PROCSUM_CAUSE_UPROBE, "an unlisted uprobe (perf_event_open) in a process that hit one");
    f.copy = PROCSUM_COPY_SHARED;
    cr_assert_eq(decide(f), PROCSUM_CAUSE_UNKNOWN, "uprobes write private copies only");

    /* Debuggers and uprobes write an int3 where an instruction starts; one inside an instruction is neither. */
    f = none;
    f.int3_only = true;
    f.traced = true;
    f.copy = PROCSUM_COPY_PRIVATE;
    f.int3_place = PSUM_INSN_PLACE_START;
    cr_assert_eq(decide(f), PROCSUM_CAUSE_BREAKPOINT, "an int3 at an instruction's start");
    f.int3_place = PSUM_INSN_PLACE_UNKNOWN;
    cr_assert_eq(decide(f), PROCSUM_CAUSE_BREAKPOINT, "boundaries unknown: taken for a breakpoint");
    f.int3_place = PSUM_INSN_PLACE_INSIDE;
    cr_assert_eq(decide(f), PROCSUM_CAUSE_WRITE, "an int3 inside an instruction is a write");
    f.traced = false;
    f.uprobes_mapped = true;
    cr_assert_eq(decide(f), PROCSUM_CAUSE_WRITE, "nor is it an unlisted uprobe");
    f.copy = PROCSUM_COPY_SHARED;
    f.reference = PROCSUM_REFERENCE_DISK;
    f.differs = true;
    cr_assert_eq(decide(f), PROCSUM_CAUSE_MEMORY_CORRUPTION, "in the page cache's copy: corruption");

    f = none;
    f.copy = PROCSUM_COPY_SHARED;
    f.reference = PROCSUM_REFERENCE_DISK;
    f.differs = true;
    cr_assert_eq(decide(f), PROCSUM_CAUSE_MEMORY_CORRUPTION);
    f.reference = PROCSUM_REFERENCE_CACHE;
    cr_assert_eq(decide(f), PROCSUM_CAUSE_UNKNOWN, "compared through the cache: nothing said about RAM");
    f.reference = PROCSUM_REFERENCE_DISK;
    f.differs = false;
    cr_assert_eq(decide(f), PROCSUM_CAUSE_UNKNOWN, "equal to the disk: no corruption");
}

static bool parse(const char *line, char *path, uint64_t *off)
{
    return psum_linux_uprobe_line_parse(line, strlen(line), path, 256, off);
}

Test(uprobe_events, lines_the_kernel_writes)
{
    char path[256];
    uint64_t off = 0;
    cr_assert(parse("p:uprobes/p_bash_0x4245c0 /bin/bash:0x00000000000455c0", path, &off));
    cr_assert_str_eq(path, "/bin/bash");
    cr_assert_eq(off, 0x455c0);
    cr_assert(parse("r:grp/ev /usr/lib/x86_64-linux-gnu/libc.so.6:0x29dc0 arg1=%ax", path, &off));
    cr_assert_str_eq(path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
    cr_assert_eq(off, 0x29dc0);
    cr_assert(parse("p:g/e /opt/a:b/lib.so:0x10(0x20)", path, &off), "a reference counter, a colon in the path");
    cr_assert_str_eq(path, "/opt/a:b/lib.so");
    cr_assert_eq(off, 0x10);
}

Test(uprobe_events, malformed_lines_are_refused)
{
    char path[256];
    uint64_t off;
    static const char *const bad[] = {"", "p:", "x:g/e /bin/sh:0x10", "p:g/e", "p:g/e /bin/sh", "p:g/e /bin/sh:",
                                      "p:g/e /bin/sh:zz", "p:g/e :0x10", "p:g/e /bin/sh:0x10junk"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_not(parse(bad[i], path, &off), "accepted: \"%s\"", bad[i]);
    char tiny[4];
    cr_assert_not(psum_linux_uprobe_line_parse("p:g/e /bin/bash:0x10", 20, tiny, sizeof(tiny), &off),
                  "a path longer than the buffer");
}
