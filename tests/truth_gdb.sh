#!/usr/bin/env bash
# A debugger's breakpoint is reported as one: gdb attaches to
# tests/truth_target, sets a breakpoint on one of its functions and lets it
# run, so that the byte there is 0xCC while a tracer is attached. The report
# must say cause "breakpoint", memory's own (private) copy of the page, and
# the one byte: address, file offset, the file's byte, 0xcc, the flipped
# bits, and the function and offset it lies at. When the breakpoint is hit
# gdb detaches, putting the byte back: the next report about the page must
# say "restored".
# Usage: truth_gdb.sh PATH_TO_TRUTH_TARGET
set -u
target=$1
source "$(dirname "$0")/truth_lib.sh"
if ! command -v gdb >/dev/null; then
    echo "truth-gdb: 0 passed, 0 failed, 1 skipped (no gdb)"
    exit 77
fi
gdblog=$(mktemp)
trap 'kill "$tpid" 2>/dev/null; rm -f "$gdblog" "$tout"' EXIT
truth_start "$target" breakpoint

# gdb inserts its breakpoints when the process runs on; the target calls the
# function once a report names its page, which stops it there; then detach.
timeout 150 gdb -p "$tpid" -batch -ex 'break truth_breakme' -ex continue -ex detach >"$gdblog" 2>&1
wait "$tpid"
status=$?
bp=$(grep -o 'Breakpoint 1 at 0x[0-9a-f]*' "$gdblog" | head -1 | awk '{print $4}')
if [ -z "$bp" ]; then
    echo "FAIL: gdb set no breakpoint in process $tpid (ptrace not permitted?); gdb said:"
    cat "$gdblog"
    echo "truth-gdb: 0 passed, 1 failed"
    exit 1
fi
if [ $((bp & ~4095)) -ne "$tpage" ]; then
    echo "FAIL: gdb's breakpoint $bp is not on the page of truth_breakme ($taddr)"
    echo "truth-gdb: 0 passed, 1 failed"
    exit 1
fi
grep -q "Breakpoint 1, .*truth_breakme" "$gdblog" || truth_fail "the breakpoint at $bp was not hit; gdb said: $(cat "$gdblog")"
[ "$status" -eq 0 ] || truth_fail "truth_target exited with $status: it did not see two reports about page $(printf '%#x' "$tpage")"

n=$(truth_lines_about "$tpage")
[ "$n" -eq 2 ] || truth_fail "expected 2 reports about page $(printf '%#x' "$tpage") (the breakpoint, then restored), got $n"

what="gdb's breakpoint at $bp"
truth_report 1 "$tpage"
truth_expect_page "$what"
truth_expect "$what" "cause" "${rpage[6]:-}" breakpoint
truth_expect "$what" "copy" "${rpage[7]:-}" private
truth_expect_int3 "$what" "$bp"
# gdb puts it where an instruction of truth_breakme starts: the report names that place.
truth_expect "$what" "symbol" "${rsym[2]:-}" "$(printf 'truth_breakme+0x%x' $((bp - taddr)))"

what="the page after gdb detached"
truth_report 2 "$tpage"
truth_expect_restored "$what"
truth_expect "$what" "copy" "${rpage[7]:-}" private
truth_summary truth-gdb
