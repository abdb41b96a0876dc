#!/usr/bin/env bash
# A kernel uprobe is reported as one: a uprobe event is added on a function
# of tests/truth_target and enabled, so that the kernel writes its int3 into
# the process's copy of the page. The report must say cause "uprobe", the
# process's own (private) copy, and the one byte: address, file offset, the
# file's byte, 0xcc, the flipped bits. Once the probe is removed, the next
# report about the page must say "restored".
# Needs root and a kernel with CONFIG_UPROBE_EVENTS; tracefs is mounted if it
# is not (and unmounted after).
# Usage: truth_uprobe.sh PATH_TO_TRUTH_TARGET
set -u
target=$1
source "$(dirname "$0")/truth_lib.sh"
tracing=/sys/kernel/tracing
event=procsum_test/probe
skip() {
    echo "truth-uprobe: 0 passed, 0 failed, 1 skipped ($1)"
    exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root to add a uprobe"
mounted_here=
if [ ! -e "$tracing/uprobe_events" ] && ! mountpoint -q "$tracing"; then
    mount -t tracefs nodev "$tracing" || skip "tracefs could not be mounted on $tracing"
    mounted_here=1
fi
if [ ! -e "$tracing/uprobe_events" ]; then
    [ -n "$mounted_here" ] && umount "$tracing"
    skip "this kernel has no uprobe events (CONFIG_UPROBE_EVENTS): no $tracing/uprobe_events"
fi

remove_probe() {
    if [ -e "$tracing/events/$event/enable" ]; then
        echo 0 >"$tracing/events/$event/enable"
        echo "-:$event" >>"$tracing/uprobe_events"
    fi
}
cleanup() {
    remove_probe 2>/dev/null
    kill "$tpid" 2>/dev/null
    rm -f "$tout"
    [ -n "$mounted_here" ] && umount "$tracing"
}
trap cleanup EXIT
remove_probe 2>/dev/null # one left by a run that was killed
truth_start "$target" uprobe

probe="p:$event $tpath:$(printf '%#x' "$toff")"
if ! echo "$probe" >>"$tracing/uprobe_events" || ! echo 1 >"$tracing/events/$event/enable"; then
    echo "FAIL: the kernel refused the uprobe '$probe'"
    echo "truth-uprobe: 0 passed, 1 failed"
    exit 1
fi
for _ in $(seq 1 600); do
    [ "$(truth_lines_about "$tpage")" -ge 1 ] && break
    sleep 0.05
done
remove_probe
wait "$tpid"
status=$?
[ "$status" -eq 0 ] || truth_fail "truth_target exited with $status: it did not see two reports about page $(printf '%#x' "$tpage")"

n=$(truth_lines_about "$tpage")
[ "$n" -eq 2 ] || truth_fail "expected 2 reports about page $(printf '%#x' "$tpage") (the uprobe, then restored), got $n"

what="a uprobe at $tpath:$(printf '%#x' "$toff")"
truth_report 1 "$tpage"
truth_expect_page "$what"
truth_expect "$what" "cause" "${rpage[6]:-}" uprobe
truth_expect "$what" "copy" "${rpage[7]:-}" private
truth_expect_int3 "$what" "$taddr"

# The kernel may put the file's page back in place of its copy: no copy is expected here.
truth_report 2 "$tpage"
truth_expect_restored "the page after the uprobe was removed"
truth_summary truth-uprobe
