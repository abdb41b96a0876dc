#!/usr/bin/env bash
# What reaches the output: a write that fails (a full disk, a closed
# stdout) is reported, exit 1; names chosen by whoever made the process (a
# library's path) are escaped, in the table and in JSON lines.
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
need_python

# ---- lost output ------------------------------------------------------------
# expect_lost NAME WANT_ERROR: checks $rc and $TMP/err after a run whose output was lost.
expect_lost() {
    local name=$1 want=$2
    local lines
    lines=$(wc -l <"$TMP/err")
    if [ "$rc" -eq 1 ] && [ "$lines" -eq 1 ] && [ "$(cat "$TMP/err")" = "procsum: writing output: $want" ]; then
        pass "$name: exit 1, '$(cat "$TMP/err")'"
    else
        fail "$name: exit 1 with 'procsum: writing output: $want'" "exit $rc; stderr: $(head -c 400 "$TMP/err")"
    fi
}

if [ -c /dev/full ]; then
    for args in "regions" "regions --json" "bench --algo xxh3" "bench --json" "version" "version --json" "--help"; do
        # shellcheck disable=SC2086 # word splitting wanted
        "$PROCSUM" $args >/dev/full 2>"$TMP/err"
        rc=$?
        expect_lost "procsum $args >/dev/full" "No space left on device"
    done
    # Unbuffered, the first write fails, in the middle of the command.
    if have stdbuf; then
        preloaded "" stdbuf -o0 "$PROCSUM" regions >/dev/full 2>"$TMP/err"
        rc=$?
        expect_lost "unbuffered procsum regions >/dev/full" "No space left on device"
    else
        fail "stdbuf is not installed: a write failing in the middle of a command is not checked"
    fi
else
    fail "no /dev/full: a full disk cannot be checked"
fi

for args in "regions" "bench --algo crc64" "version" "--help"; do
    # shellcheck disable=SC2086 # word splitting wanted
    "$PROCSUM" $args >&- 2>"$TMP/err"
    rc=$?
    expect_lost "procsum $args with stdout closed" "Bad file descriptor"
done

# A bad usage message still goes to stderr, and the exit code stays 2.
"$PROCSUM" frobnicate >/dev/full 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ]; then
    pass "bad usage with stdout full still exits 2 with one line"
else
    fail "bad usage with stdout full still exits 2 with one line" "exit $rc; stderr: $(head -c 400 "$TMP/err")"
fi

# A file that fills up in the middle of a line (here a 1 KiB file size limit,
# as a full disk does) keeps only whole lines: half a line would be glued to
# the next run's first one, and a log shipper would lose both.
sleep 60 &
s1=$!
sleep 60 &
s2=$!
sleep 60 &
s3=$!
for out in json-file stdout; do
    rm -f "$TMP/full.jsonl"
    if [ $out = json-file ]; then
        (trap '' XFSZ; ulimit -f 1 && exec "$PROCSUM" verify --json-file "$TMP/full.jsonl" $s1 $s2 $s3 $$) 2>"$TMP/err"
    else
        (trap '' XFSZ; ulimit -f 1 && exec "$PROCSUM" verify --json $s1 $s2 $s3 $$ >"$TMP/full.jsonl") 2>"$TMP/err"
    fi
    rc=$?
    size=$(wc -c <"$TMP/full.jsonl")
    if [ "$rc" -eq 1 ] && grep -q 'File too large' "$TMP/err" && [ "$size" -gt 0 ] &&
        [ "$(tail -c 1 "$TMP/full.jsonl" | od -An -c | tr -d ' ')" = '\n' ]; then
        pass "a $out that fills up keeps whole lines ($size bytes)"
    else
        fail "a $out that fills up keeps whole lines" "exit $rc, $size bytes, ends with: $(tail -c 40 "$TMP/full.jsonl")" \
            "stderr: $(head -c 400 "$TMP/err")"
    fi
done
kill $s1 $s2 $s3
wait $s1 $s2 $s3 2>/dev/null

# ---- escaping of library paths --------------------------------------------
# Copies of one of procsum's own libraries, preloaded from hostile paths
# (LD_PRELOAD cannot take spaces or colons).
lib=$(small_lib)
if [ -z "$lib" ]; then
    fail "no libinih in ldd output: escaping of library paths not checked"
    finish
fi
mkdir -p "$TMP/lib,dir"
ESC=$(printf '\033')

# A quote, a backslash and a non-ASCII letter: JSON gives back the exact path.
odd="$TMP/lib,dir/we\"ird\\lib-é.so"
cp -- "$(readlink -f -- "$lib")" "$odd"
odd=$(readlink -f -- "$odd")
preloaded "$odd" "$PROCSUM" regions --json >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 0 ] && msg=$(python3 - "$odd" "$TMP/out" 2>&1 <<'EOF_PY'
import json, sys
want = sys.argv[1]
with open(sys.argv[2], encoding="utf-8") as f:
    regions = [json.loads(line) for line in f]
hits = [r for r in regions if r["source"] == want]
if not hits:
    sys.exit("no region with source %r in %r" % (want, [r["source"] for r in regions]))
if any(r["kind"] != "file" or r["main_executable"] for r in hits):
    sys.exit("wrong kind: %r" % hits)
EOF_PY
); then
    pass "regions --json escapes a library path with quote, backslash and UTF-8"
else
    fail "regions --json escapes a library path with quote, backslash and UTF-8" "${msg:-}" "$(show_run)"
fi
# In the table the backslash (not before "x" and two hex digits) and the letter are kept as they are.
preloaded "$odd" "$PROCSUM" regions >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 0 ] && grep -qF "  $odd" "$TMP/out"; then
    pass "regions table keeps the backslash and UTF-8"
else
    fail "regions table keeps the backslash and UTF-8" "$(show_run)"
fi

# A name that is not UTF-8 at all: the JSON must still parse strictly.
bad="$TMP/lib,dir/bad$(printf '\377')lib.so"
cp -- "$odd" "$bad"
preloaded "$bad" "$PROCSUM" regions --json >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 0 ] && msg=$(python3 - "$TMP/out" 2>&1 <<'EOF_PY'
import json, sys
raw = open(sys.argv[1], "rb").read()
regions = [json.loads(line) for line in raw.decode("utf-8", errors="strict").splitlines()]
if not any(r["source"].endswith("bad\u00fflib.so") for r in regions):
    sys.exit("the byte 0xff was not written as U+00FF")
EOF_PY
); then
    pass "regions --json stays valid UTF-8 for a path that is not"
else
    fail "regions --json stays valid UTF-8 for a path that is not" "${msg:-}" "$(show_run)"
fi
preloaded "$bad" "$PROCSUM" regions >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 0 ] && grep -qF 'bad\xfflib.so' "$TMP/out" && ! grep -q "$(printf '\377')" "$TMP/out"; then
    pass "regions table writes the byte 0xff as \\xff"
else
    fail "regions table writes the byte 0xff as \\xff" "$(show_run)"
fi

# A terminal escape (ESC [31m: red) and a line break in the name.
evil="$TMP/lib,dir/evil${ESC}[31mred"$'\n'"line.so"
cp -- "$odd" "$evil"
preloaded "$evil" "$PROCSUM" regions >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 0 ] && ! grep -q "$ESC" "$TMP/out" && grep -qF 'evil\x1b[31mred' "$TMP/out"; then
    pass "regions table: no raw ESC, the name shows evil\\x1b[31mred"
else
    fail "regions table: no raw ESC, the name shows evil\\x1b[31mred" "$(show_run)"
fi
# The line break does not start a line of its own: the name stays on its region's line.
if [ "$rc" -eq 0 ] && grep -F 'evil\x1b[31mred' "$TMP/out" | grep -q 'line\.so$' && ! grep -q '^line\.so' "$TMP/out"; then
    pass "regions table: a line break in a name does not break the line"
else
    fail "regions table: a line break in a name does not break the line" "$(show_run)"
fi
preloaded "$evil" "$PROCSUM" regions --json >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 0 ] && ! grep -q "$ESC" "$TMP/out" && msg=$(python3 - "$TMP/out" 2>&1 <<'EOF_PY'
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    regions = [json.loads(line) for line in f]
hits = [r for r in regions if "/evil\x1b[31mred" in r["source"] and r["source"].endswith("line.so")]
if not hits:
    sys.exit("no region whose source holds ESC [31m: %r" % [r["source"] for r in regions])
EOF_PY
); then
    pass "regions --json: no raw ESC, the name decodes with its ESC"
else
    fail "regions --json: no raw ESC, the name decodes with its ESC" "${msg:-}" "$(show_run)"
fi

finish
