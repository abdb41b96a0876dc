#!/usr/bin/env bash
# The libraries libprocsum loads on first need (ISA-L, libelf, Capstone),
# missing at run time: each is hidden in a private mount namespace (an empty
# file mounted over it, which the loader refuses), and procsum must do
# without. CRC-64 then runs on its portable code and gives the same digests;
# a flip is still found with its verdict and file offset, only without the
# function's name (libelf) and the instructions (Capstone); the table and the
# other algorithms are unchanged. Needs root (a mount namespace).
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname -- "${BASH_SOURCE[0]}")/outside_lib.sh"

if [ "$(id -u)" -ne 0 ] || ! have unshare; then
    fail "root and unshare(1) are needed to hide libraries in a mount namespace"
    finish
fi

# The file the loader finds for each soname procsum asks for.
hidden=()
for soname in libisal.so.2 libelf.so.1 libcapstone.so.4; do
    path=$(ldconfig -p | awk -v s="$soname" '$1 == s && /x86-64|x32|64bit/ { print $NF; exit }')
    [ -n "$path" ] || path=$(ldconfig -p | awk -v s="$soname" '$1 == s { print $NF; exit }')
    if [ -z "$path" ]; then
        fail "$soname is installed (the test hides it)"
        continue
    fi
    hidden+=("$(readlink -f -- "$path")")
done
: >"$TMP/empty.so"

# hidden_run ARGS...: procsum with the libraries hidden, as run() leaves it.
hidden_run() {
    unshare -m --propagation private bash -c '
        empty=$1 procsum=$2 out=$3 err=$4
        shift 4
        while [ "$1" != -- ]; do mount --bind "$empty" "$1" || exit 99; shift; done
        shift
        "$procsum" "$@" >"$out" 2>"$err"' \
        hide "$TMP/empty.so" "$PROCSUM" "$TMP/out" "$TMP/err" "${hidden[@]}" -- "$@"
    rc=$?
}

# The libraries really are out of reach there: a process that asks for one does not get it.
unshare -m --propagation private bash -c '
    empty=$1; shift
    for f; do mount --bind "$empty" "$f" || exit 99; done
    python3 -c "
import ctypes, sys
for name in (\"libisal.so.2\", \"libelf.so.1\", \"libcapstone.so.4\"):
    try:
        ctypes.CDLL(name)
        sys.exit(name + \" still loads\")
    except OSError:
        pass
"' hide "$TMP/empty.so" "${hidden[@]}" >"$TMP/probe" 2>&1
probe_rc=$?
if [ "$probe_rc" -eq 0 ]; then pass "hidden: none of the three loads"; else fail "hidden: none of the three loads" "$(cat "$TMP/probe")"; fi

# ---- CRC-64 without ISA-L: the same digests ----------------------------------
# The row of procsum's own program: its code is the file's, wherever it is mapped.
own_digest() { awk -v p="$PROCSUM" '$3 == "exe" && $5 == p { print $4; exit }' "$TMP/out"; }
run regions --algo crc64
with_isal=$(own_digest)
grep -q "libisal" "$TMP/out" && loaded_isal=yes || loaded_isal=no
hidden_run regions --algo crc64
without_isal=$(own_digest)
if [ "$rc" -eq 0 ] && [ -n "$with_isal" ] && [ "$with_isal" = "$without_isal" ]; then
    pass "crc64: the same digest of procsum's program with ISA-L ($loaded_isal loaded) and without"
else
    fail "crc64: the same digest with ISA-L and without" "with $with_isal, without $without_isal" "$(show_run)"
fi
if grep -q "libisal" "$TMP/out"; then fail "crc64: no ISA-L mapped when hidden" "$(show_run)"; else pass "crc64: no ISA-L mapped when hidden"; fi
hidden_run bench --algo crc64
if [ "$rc" -eq 0 ] && grep -q "crc64" "$TMP/out"; then pass "crc64: bench runs"; else fail "crc64: bench runs" "$(show_run)"; fi

# ---- a flip found without libelf and Capstone ---------------------------------
prog="$TMP/prog"
start_target "$prog" || fail "target starts"
named_offset=$(($(spare_offset "$prog") - 4))
read -r old new < <(flip_at "$target_pid" "$prog" "$named_offset" 4)
for algo in blake3 crc64 xxh3; do
    hidden_run verify --json --algo "$algo" "$target_pid"
    if [ "$rc" -eq 5 ]; then pass "$algo: exit 5"; else fail "$algo: exit 5" "$(show_run)"; fi
    check "$algo: one alert, bitflip at its offset, no symbol or instructions" json_check "$TMP/out" '
assert len(alerts) == 1, alerts
a = alerts[0]
assert a["procsum.verdict"] == "bitflip" and a["procsum.file_offset"] == int(args[0]), a
assert a["procsum.old_bytes"] == args[1] and a["procsum.new_bytes"] == args[2], a
for key in ("procsum.symbol", "procsum.old_insn", "procsum.new_insn"):
    assert a.get(key) is None, (key, a)
' "$named_offset" "$old" "$new"
done
# The same flip with the libraries there: named, so the absence above is the libraries'.
run verify --json "$target_pid"
check "with the libraries: the function and instructions are named" json_check "$TMP/out" '
assert len(alerts) == 1 and alerts[0].get("procsum.symbol") == "outside_spare+0x1", alerts
assert alerts[0].get("procsum.old_insn") and alerts[0].get("procsum.new_insn"), alerts
'
hidden_run verify "$target_pid"
if [ "$rc" -eq 5 ] && grep -Eq "^$target_pid +changed " "$TMP/out" && ! grep -q " in outside_spare" "$TMP/out"; then
    pass "table: the change, without a function name"
else
    fail "table: the change, without a function name" "$(show_run)"
fi

# ---- a watch finds a second flip ----------------------------------------------
unshare -m --propagation private bash -c '
    empty=$1 procsum=$2 out=$3 err=$4 pid=$5
    shift 5
    for f; do mount --bind "$empty" "$f" || exit 99; done
    exec "$procsum" watch --json --period 100 "$pid" >"$out" 2>"$err"' \
    hide "$TMP/empty.so" "$PROCSUM" "$TMP/watch.out" "$TMP/watch.err" "$target_pid" "${hidden[@]}" &
watch_pid=$!
wait_for "$TMP/watch.out" 'l.get("event.action") == "watching"' ||
    fail "watch: started" "$(cat "$TMP/watch.err")"
flip_at "$target_pid" "$prog" "$named_offset" 5 >/dev/null
if wait_for "$TMP/watch.out" 'l.get("event.action") == "code-changed" and l.get("procsum.file_offset") == '"$named_offset"; then
    pass "watch: the change is reported"
else
    fail "watch: the change is reported" "$(cat "$TMP/watch.out" "$TMP/watch.err" | head -c 800)"
fi
kill -TERM "$watch_pid" 2>/dev/null
wait "$watch_pid"
watch_rc=$?
if [ "$watch_rc" -eq 0 ]; then pass "watch: exit 0 on SIGTERM"; else fail "watch: exit 0 on SIGTERM" "exit $watch_rc: $(cat "$TMP/watch.err")"; fi

finish
