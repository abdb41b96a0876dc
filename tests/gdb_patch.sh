#!/usr/bin/env bash
# A debugger patches a running process from outside, as an attacker would:
# gdb writes a 5-byte jmp over a function of tests/patch_target, and procsum,
# running inside it, must report a "patch" carrying exactly those bytes, at
# the file offset the ELF file gives patch_me, as a write, and nothing else.
# Usage: gdb_patch.sh PATH_TO_PATCH_TARGET
set -u
target=$1
if ! command -v gdb >/dev/null; then
    echo "gdb-patch: 0 passed, 0 failed, 1 skipped (no gdb)"
    exit 77
fi
out=$(mktemp)
trap 'rm -f "$out"; kill "$pid" 2>/dev/null' EXIT
"$target" >"$out" 2>&1 &
pid=$!
for _ in $(seq 1 200); do
    grep -q '^ready' "$out" && break
    sleep 0.05
done
read -r _ tpid addr < <(grep '^ready' "$out")
if [ -z "${addr:-}" ]; then
    echo "FAIL: the target did not start"; cat "$out"
    echo "gdb-patch: 0 passed, 1 failed"; exit 1
fi
# gdb stops the process, writes through ptrace, and detaches.
if ! gdb -p "$tpid" -batch -ex "set {unsigned char[5]}$addr = {0xe9, 0x10, 0x20, 0x30, 0x40}" >/dev/null 2>&1; then
    echo "FAIL: gdb could not write into process $tpid (ptrace not permitted?)"
    echo "gdb-patch: 0 passed, 1 failed"; exit 1
fi
wait "$pid"
status=$?
fail() {
    echo "FAIL: $1; target said:"
    cat "$out"
    echo "gdb-patch: 0 passed, 1 failed"
    exit 1
}
[ "$status" -eq 0 ] || fail "the target exited with $status"
# Where patch_me's bytes lie in the file: its address in the ELF file, in the loadable segment that holds it.
symaddr=$(readelf -sW "$target" | awk '$8 == "patch_me" && $4 == "FUNC" { print "0x" $2 }')
[ -n "$symaddr" ] || fail "no symbol patch_me in $target"
fileoff=
while read -r kind off va _ filesz _; do
    if [ "$kind" = LOAD ] && [ $((symaddr)) -ge $((va)) ] && [ $((symaddr)) -lt $((va + filesz)) ]; then
        fileoff=$((off + symaddr - va))
    fi
done < <(readelf -lW "$target")
[ -n "$fileoff" ] || fail "no loadable segment of $target holds patch_me"
# The bytes written that differ from the file's make one run (gaps under 8 bytes join runs).
expected=(e9 10 20 30 40)
read -r -a original < <(od -An -tx1 -v -j "$fileoff" -N 5 "$target")
first=-1 last=-1
for i in 0 1 2 3 4; do
    if [ "${expected[$i]}" != "${original[$i]}" ]; then
        [ "$first" -lt 0 ] && first=$i
        last=$i
    fi
done
[ "$first" -ge 0 ] || fail "the jump equals the file's bytes: nothing to find"
want_bytes=$(printf '%s' "${expected[@]:first:last-first+1}")
# Written through ptrace, but no int3: a write, not a breakpoint.
want_line=$(printf 'change patch write %#x %#x %s' $((fileoff + first)) $((addr + first)) "$want_bytes")
grep -q '^finding' "$out" && fail "a page differed from its file before the patch"
lines=$(grep -c '^change' "$out")
line=$(grep '^change' "$out" | head -1)
[ "$lines" -eq 1 ] || fail "expected exactly one changed run, got $lines"
[ "$line" = "$want_line" ] || fail "expected '$want_line'"
echo "ok - gdb's 5-byte patch at $addr reported at file offset $((fileoff + first)): $line"
echo "gdb-patch: 1 passed, 0 failed"
exit 0
