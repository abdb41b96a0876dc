#!/usr/bin/env bash
# procsum bench: a table row per algorithm, and one JSON line for --algo.
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
need_python

run bench
algos=$(awk 'NR > 1 { print $1 }' "$TMP/out" | tr '\n' ' ')
if [ "$rc" -eq 0 ] && [ "$algos" = "blake3 crc64 xxh3 " ] && [ "$(wc -l <"$TMP/out")" -eq 4 ]; then
    pass "bench exits 0 with rows blake3, crc64, xxh3"
else
    fail "bench exits 0 with rows blake3, crc64, xxh3" "rows: '$algos'" "$(show_run)"
fi
# Every row hashed something.
if [ "$rc" -eq 0 ] && awk 'NR > 1 && !($2 > 0 && $3 > 0) { bad = 1 } END { exit bad }' "$TMP/out"; then
    pass "bench rows have regions and bytes"
else
    fail "bench rows have regions and bytes" "$(show_run)"
fi
if [ ! -s "$TMP/err" ]; then pass "bench writes nothing to stderr"; else fail "bench writes nothing to stderr" "$(show_run)"; fi

run bench --algo crc64 --json
if [ "$rc" -eq 0 ] && msg=$(python3 -c '
import json, sys
res = [json.loads(line) for line in sys.stdin]
assert len(res) == 1, "%d results" % len(res)
r = res[0]
assert r["record"] == "bench", r
assert r["algorithm"] == "crc64", r
assert isinstance(r["hashed_bytes"], int) and r["hashed_bytes"] > 0, r
assert r["hashed_bytes"] % 4096 == 0, r
assert isinstance(r["regions"], int) and r["regions"] > 0, r
for key in ("scan_ns", "hash_ns"):
    assert isinstance(r[key], int) and r[key] >= 0, r
assert isinstance(r["gb_per_s"], (int, float)), r
' <"$TMP/out" 2>&1); then
    pass "bench --algo crc64 --json: one result with hashed_bytes > 0"
else
    fail "bench --algo crc64 --json: one result with hashed_bytes > 0" "${msg:-}" "$(show_run)"
fi

run bench --json
if [ "$rc" -eq 0 ] && msg=$(python3 -c '
import json, sys
algos = [json.loads(line)["algorithm"] for line in sys.stdin]
assert algos == ["blake3", "crc64", "xxh3"], algos
' <"$TMP/out" 2>&1); then
    pass "bench --json: one line per algorithm"
else
    fail "bench --json: one line per algorithm" "${msg:-}" "$(show_run)"
fi

finish
