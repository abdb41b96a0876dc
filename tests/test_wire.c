/*
 * Events as datagrams (tools/output/wire.c): an alert, a state and a pass
 * come back field for field; a datagram cut anywhere, one with bytes after
 * the event, one of another layout (magic) and one whose run count would
 * send a writer past its array are all refused; a string too long is cut,
 * still terminated; an action, a status or a time the writers cannot
 * print is refused.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "wire.h"

static char buf[PSUM_WIRE_MAX + 64];

/* source names the region; insn is both instructions, and the symbol's name too when it is long. */
static size_t sample_alert(const char *source, const char *insn)
{
    procsum_region r = {.start = 0x1000, .end = 0x3000, .source = source, .kind = PROCSUM_REGION_FILE,
                        .file_offset = 4096};
    procsum_page_change p = {.addr = 0x2000, .file_offset = 8192, .verdict = PROCSUM_VERDICT_BITFLIP,
                             .cause = PROCSUM_CAUSE_WRITE, .changed_bytes = 1, .changed_bits = 1, .run_count = 1,
                             .total_runs = 1};
    p.runs[0].addr = 0x2004;
    p.runs[0].len = 1;
    p.runs[0].xor_mask[0] = 0x10;
    p.symbol = strlen(insn) > 100 ? insn : "deflate+0x1c";
    p.old_insn = insn;
    p.new_insn = insn;
    psum_alert a = {.at = {.sec = 1700000000, .nsec = 5, .host = "h"}, .action = "code-changed", .pid = 42,
                    .executable = "/bin/x", .region = &r, .page = &p};
    return psum_wire_alert(buf, &a);
}

Test(wire, alert_round_trip)
{
    size_t len = sample_alert("/lib/libx.so", "mov eax, 0x10");
    psum_wire_event ev;
    cr_assert_eq(psum_wire_decode(buf, len, &ev), 0);
    cr_assert_eq(ev.kind, PSUM_WIRE_ALERT);
    cr_assert_eq(ev.pid, 42);
    cr_assert_eq(ev.alert.pid, 42);
    cr_assert_eq(ev.alert.at.sec, 1700000000);
    cr_assert_eq(ev.alert.at.nsec, 5);
    cr_assert_str_eq(ev.alert.at.host, "h");
    cr_assert_str_eq(ev.alert.action, "code-changed");
    cr_assert_str_eq(ev.alert.executable, "/bin/x");
    cr_assert_str_eq(ev.alert.region->source, "/lib/libx.so");
    cr_assert_eq(ev.alert.region->start, 0x1000);
    cr_assert_eq(ev.alert.page->verdict, PROCSUM_VERDICT_BITFLIP);
    cr_assert_eq(ev.alert.page->cause, PROCSUM_CAUSE_WRITE);
    cr_assert_eq(ev.alert.page->runs[0].xor_mask[0], 0x10);
    /* The names are strings of the sender's memory: they travel as strings, not as its pointers. */
    cr_assert_str_eq(ev.alert.page->symbol, "deflate+0x1c");
    cr_assert_str_eq(ev.alert.page->old_insn, "mov eax, 0x10");
    cr_assert_str_eq(ev.alert.page->new_insn, "mov eax, 0x10");
    cr_assert(ev.alert.page->symbol >= buf && ev.alert.page->symbol < buf + len, "points into the datagram");
}

Test(wire, state_and_pass_round_trip)
{
    psum_state s = {.at = {.sec = 1, .nsec = 2, .host = "h"}, .action = "not-watched", .pid = 7,
                    .status = "error", .error = PROCSUM_EINVAL, .detail = "PROCSUM_CPU"};
    psum_wire_event ev;
    cr_assert_eq(psum_wire_decode(buf, psum_wire_state(buf, &s), &ev), 0);
    cr_assert_eq(ev.kind, PSUM_WIRE_STATE);
    cr_assert_str_eq(ev.state.action, "not-watched");
    cr_assert_null(ev.state.executable, "a NULL executable comes back NULL");
    cr_assert_str_eq(ev.state.status, "error");
    cr_assert_eq(ev.state.error, PROCSUM_EINVAL);
    cr_assert_str_eq(ev.state.detail, "PROCSUM_CPU");

    psum_pass p = {.processes = 9, .passes = 3, .pages_checked = 100, .bytes_hashed = 409600, .duration_ns = 77};
    psum_event_origin at = {.sec = 1, .nsec = 2, .host = "h"};
    cr_assert_eq(psum_wire_decode(buf, psum_wire_pass(buf, 7, &at, &p), &ev), 0);
    cr_assert_eq(ev.kind, PSUM_WIRE_PASS);
    cr_assert_eq(ev.pid, 7);
    cr_assert_eq(ev.pass.passes, 3);
    cr_assert_eq(ev.pass.pages_checked, 100);
    cr_assert_eq(ev.pass.bytes_hashed, 409600);
    cr_assert_eq(ev.pass.processes, 0, "the receiver counts processes, not the sender");
}

Test(wire, cut_or_padded_datagrams_are_refused)
{
    size_t len = sample_alert("/lib/libx.so", "mov eax, 0x10");
    char copy[PSUM_WIRE_MAX + 64];
    psum_wire_event ev;
    for (size_t cut = 0; cut < len; cut++) {
        memcpy(copy, buf, len);
        cr_assert_neq(psum_wire_decode(copy, cut, &ev), 0, "cut at %zu of %zu", cut, len);
    }
    memcpy(copy, buf, len);
    copy[len] = 'x';
    cr_assert_neq(psum_wire_decode(copy, len + 1, &ev), 0, "a byte after the event");
}

Test(wire, another_layout_and_too_many_runs_are_refused)
{
    size_t len = sample_alert("/lib/libx.so", "mov eax, 0x10");
    psum_wire_event ev;
    buf[0] ^= 1;
    cr_assert_neq(psum_wire_decode(buf, len, &ev), 0, "magic");
    buf[0] ^= 1;
    cr_assert_eq(psum_wire_decode(buf, len, &ev), 0);
    /* The page change follows the head, the host and the region; the strings end the datagram. */
    size_t at = len - sizeof("/lib/libx.so") - sizeof("/bin/x") - sizeof("code-changed") - sizeof("deflate+0x1c") -
                2 * sizeof("mov eax, 0x10") - sizeof(procsum_page_change);
    size_t bad = PROCSUM_MAX_RUNS + 1;
    memcpy(buf + at + offsetof(procsum_page_change, run_count), &bad, sizeof(bad));
    cr_assert_neq(psum_wire_decode(buf, len, &ev), 0, "run_count past the array");
}

Test(wire, long_strings_are_cut_and_terminated)
{
    static char path[PSUM_WIRE_MAX];
    memset(path, 'a', sizeof(path) - 1);
    size_t len = sample_alert(path, path);
    cr_assert_leq(len, PSUM_WIRE_MAX);
    psum_wire_event ev;
    cr_assert_eq(psum_wire_decode(buf, len, &ev), 0);
    size_t n = strlen(ev.alert.region->source);
    cr_assert(n > 1000 && n < sizeof(path) - 1, "cut to %zu bytes", n);
    cr_assert_eq(strlen(ev.alert.page->symbol), n);
    cr_assert_eq(strlen(ev.alert.page->new_insn), n);
}

/*
 * A process of the tree is not trusted to send only names: an action or a
 * status that is not one of the writers' words, and a time they cannot
 * print, are refused (the writers print them as they are).
 */
Test(wire, words_and_times_outside_the_vocabulary_are_refused)
{
    psum_wire_event ev;
    procsum_region r = {.source = "/lib/x"};
    procsum_page_change p = {0};
    psum_alert a = {.at = {.sec = 1, .host = "h"}, .action = "code-\x1b[31mchanged", .region = &r, .page = &p};
    cr_assert_neq(psum_wire_decode(buf, psum_wire_alert(buf, &a), &ev), 0, "an alert's action");
    a.action = "differs-from-file";
    cr_assert_eq(psum_wire_decode(buf, psum_wire_alert(buf, &a), &ev), 0);

    psum_state s = {.at = {.sec = 1, .host = "h"}, .action = "not-watched", .status = "c\001ean"};
    cr_assert_neq(psum_wire_decode(buf, psum_wire_state(buf, &s), &ev), 0, "a state's status");
    s.status = "error";
    s.action = "%s%n";
    cr_assert_neq(psum_wire_decode(buf, psum_wire_state(buf, &s), &ev), 0, "a state's action");
    s.action = "watching";
    cr_assert_neq(psum_wire_decode(buf, psum_wire_state(buf, &s), &ev), 0, "an error status without its code");
    s.error = PROCSUM_EACCES;
    cr_assert_eq(psum_wire_decode(buf, psum_wire_state(buf, &s), &ev), 0);
    s.status = "clean";
    cr_assert_neq(psum_wire_decode(buf, psum_wire_state(buf, &s), &ev), 0, "a clean status with an error code");
    s.status = "error";

    const struct {
        int64_t sec;
        long nsec;
    } times[] = {{-1, 0}, {253402300800, 0}, {INT64_MAX, 0}, {1, -1}, {1, 1000000000}};
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        s.at.sec = times[i].sec;
        s.at.nsec = times[i].nsec;
        cr_assert_neq(psum_wire_decode(buf, psum_wire_state(buf, &s), &ev), 0, "time %zu", i);
    }
    s.at.sec = 253402300799;
    s.at.nsec = 999999999;
    cr_assert_eq(psum_wire_decode(buf, psum_wire_state(buf, &s), &ev), 0, "the last second of 9999");
}
