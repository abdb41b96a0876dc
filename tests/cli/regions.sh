#!/usr/bin/env bash
# procsum regions: the table, JSON lines for each algorithm, --algo=NAME,
# --skip-libs, and digests that equal b3sum's for the same bytes of the file.
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
need_python

# ---- the table ------------------------------------------------------------
run regions
if [ "$rc" -eq 0 ]; then pass "regions exits 0"; else fail "regions exits 0" "$(show_run)"; fi
if grep -Eq '/libc\.so\.6$' "$TMP/out"; then
    pass "regions lists libc.so.6"
else
    fail "regions lists libc.so.6" "$(show_run)"
fi
# Columns: range size kind digest source...; the source may contain spaces.
exe_paths=$(awk '$3 == "exe" { sub(/^[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+  /, ""); print }' "$TMP/out")
if [ -n "$exe_paths" ] && [ "$(printf '%s\n' "$exe_paths" | sort -u)" = "$PROCSUM" ]; then
    pass "regions: kind exe is $PROCSUM"
else
    fail "regions: kind exe is $PROCSUM" "exe lines give: '$exe_paths'" "$(show_run)"
fi
if [ ! -s "$TMP/err" ]; then pass "regions writes nothing to stderr"; else fail "regions writes nothing to stderr" "$(show_run)"; fi

# ---- JSON lines -----------------------------------------------------------
# check_regions_json FILE ALGO DIGEST_HEX_LEN SKIP_LIBS: validates the lines.
check_regions_json() {
    python3 - "$1" "$2" "$3" "$4" "$PROCSUM" <<'EOF_PY'
import json, sys
path, algo, hexlen, skip_libs, exe = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5]
problems = []
with open(path, encoding="utf-8") as f:
    regions = [json.loads(line) for line in f]
if not regions:
    problems.append("no regions")
prev_end = 0
for r in regions:
    if r.get("record") != "region":
        problems.append("record is not a region: %r" % r)
    if r.get("algorithm") != algo:
        problems.append("algorithm is %r, not %r" % (r.get("algorithm"), algo))
    for key in ("start", "end", "source", "digest", "digest_valid"):
        if key not in r:
            problems.append("region without %s: %r" % (key, r))
    try:
        start, end = int(r["start"], 16), int(r["end"], 16)
    except (KeyError, TypeError, ValueError):
        problems.append("bad bounds: %r" % r)
        continue
    if not (start < end and start % 4096 == 0 and end % 4096 == 0):
        problems.append("bad bounds: %r" % r)
    if start < prev_end:
        problems.append("regions not ascending at %r" % r)
    prev_end = end
    if r.get("size") != end - start:
        problems.append("size is not end - start: %r" % r)
    d = r.get("digest", "")
    if len(d) != hexlen or any(c not in "0123456789abcdef" for c in d):
        problems.append("digest %r is not %d hex digits" % (d, hexlen))
    elif set(d) == {"0"}:
        problems.append("all-zero digest: %r" % r)
    if r.get("digest_valid") is not True:
        problems.append("digest not valid (every page is read for a listing): %r" % r)
    if not isinstance(r.get("source"), str) or not r["source"]:
        problems.append("empty source: %r" % r)
    if r.get("main_executable") and (r.get("source") != exe or r.get("kind") != "file"):
        problems.append("main executable region is not %s: %r" % (exe, r))
    if skip_libs and not r.get("main_executable"):
        problems.append("--skip-libs listed another region: %r" % r)
exes = [r for r in regions if r.get("main_executable")]
if not exes:
    problems.append("no main_executable region")
if not skip_libs and not any(r.get("source", "").endswith("/libc.so.6") for r in regions):
    problems.append("libc.so.6 not listed")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
EOF_PY
}

# Every line is one JSON object.
json_lines_parse() {
    python3 -c '
import json, sys
lines = sys.stdin.read().splitlines()
assert lines
for l in lines:
    assert isinstance(json.loads(l), dict)
' <"$1" 2>/dev/null
}

for spec in blake3:64 crc64:16 xxh3:16; do
    algo=${spec%%:*}
    hexlen=${spec##*:}
    if [ "$algo" = blake3 ]; then run regions --json; else run regions --json --algo "$algo"; fi
    cp "$TMP/out" "$TMP/regions_$algo.json"
    if [ "$rc" -eq 0 ] && json_lines_parse "$TMP/out"; then
        pass "regions --json ($algo) exits 0 and every line is a JSON object"
    else
        fail "regions --json ($algo) exits 0 and every line is a JSON object" "$(show_run)"
    fi
    if msg=$(check_regions_json "$TMP/out" "$algo" "$hexlen" 0 2>&1); then
        pass "regions --json ($algo): fields, $hexlen-digit digests, exe and libc present"
    else
        fail "regions --json ($algo): fields, $hexlen-digit digests, exe and libc present" "$msg"
    fi
done

# The three algorithms see the same regions, but for ISA-L's: CRC-64 loads it on first use.
if python3 - "$TMP"/regions_blake3.json "$TMP"/regions_crc64.json "$TMP"/regions_xxh3.json <<'EOF_PY'
import json, os, sys
sets = []
for p in sys.argv[1:]:
    with open(p, encoding="utf-8") as f:
        sets.append(sorted((r["source"], r["size"], r["file_offset"]) for r in map(json.loads, f)
                           if not os.path.basename(r["source"]).startswith("libisal.so")))
sys.exit(0 if sets[0] == sets[1] == sets[2] else 1)
EOF_PY
then
    pass "regions --json: blake3, crc64 and xxh3 list the same regions"
else
    fail "regions --json: blake3, crc64 and xxh3 list the same regions"
fi

# --algo=NAME spelling, and --format json spelled out.
run regions --json --algo=xxh3
if [ "$rc" -eq 0 ] && msg=$(check_regions_json "$TMP/out" xxh3 16 0 2>&1); then
    pass "regions --algo=xxh3 works"
else
    fail "regions --algo=xxh3 works" "${msg:-}" "$(show_run)"
fi
run regions --format json --algo crc64
if [ "$rc" -eq 0 ] && msg=$(check_regions_json "$TMP/out" crc64 16 0 2>&1); then
    pass "regions --format json is --json"
else
    fail "regions --format json is --json" "${msg:-}" "$(show_run)"
fi
run regions --json --format=text
if [ "$rc" -eq 0 ] && head -1 "$TMP/out" | grep -q '^range '; then
    pass "regions: the last of --json and --format=text wins"
else
    fail "regions: the last of --json and --format=text wins" "$(show_run)"
fi

# ---- --skip-libs ----------------------------------------------------------
run regions --json --skip-libs
if [ "$rc" -eq 0 ] && msg=$(check_regions_json "$TMP/out" blake3 64 1 2>&1); then
    pass "regions --skip-libs --json lists only $PROCSUM"
else
    fail "regions --skip-libs --json lists only $PROCSUM" "${msg:-}" "$(show_run)"
fi
run regions --skip-libs
kinds=$(awk 'NR > 1 { print $3 }' "$TMP/out" | sort -u)
if [ "$rc" -eq 0 ] && [ "$kinds" = exe ]; then
    pass "regions --skip-libs table shows only exe lines"
else
    fail "regions --skip-libs table shows only exe lines" "kinds: '$kinds'" "$(show_run)"
fi

# ---- digests are real: BLAKE3 of the binary's own code = b3sum of the file bytes ----
# A private copy, so that a rebuild of $1 meanwhile cannot change the file between the two reads.
if have b3sum; then
    cp -- "$PROCSUM" "$TMP/procsum-copy"
    COPY=$(readlink -f -- "$TMP/procsum-copy")
    "$COPY" regions --json --skip-libs >"$TMP/self.json" 2>"$TMP/self.err"
    copy_rc=$?
    if [ "$copy_rc" -eq 0 ] && msg=$(python3 - "$TMP/self.json" "$COPY" "$TMP/range.bin" <<'EOF_PY' 2>&1
import json, subprocess, sys
doc_path, exe, scratch = sys.argv[1:4]
with open(doc_path, encoding="utf-8") as f:
    regions = [r for r in map(json.loads, f) if r["main_executable"]]
if not regions:
    sys.exit("no main_executable region")
with open(exe, "rb") as f:
    image = f.read()
for r in regions:
    if r["source"] != exe:
        sys.exit("region source %r is not %r" % (r["source"], exe))
    off, size = r["file_offset"], r["size"]
    data = image[off:off + size]
    if len(data) < size:
        # The kernel maps zeros past the end of the file within the last page.
        if size - len(data) >= 4096:
            sys.exit("region %r extends pages past the end of the file" % r)
        data += b"\0" * (size - len(data))
    with open(scratch, "wb") as f:
        f.write(data)
    out = subprocess.run(["b3sum", "--no-names", scratch], check=True, capture_output=True, text=True).stdout.strip()
    if out != r["digest"]:
        sys.exit("region at file offset %d, %d bytes: procsum %s, b3sum %s" % (off, size, r["digest"], out))
print("%d region(s) match" % len(regions))
EOF_PY
    ); then
        pass "regions blake3 digest of the binary's code equals b3sum of the file bytes ($msg)"
    else
        fail "regions blake3 digest of the binary's code equals b3sum of the file bytes" "${msg:-}" \
            "exit $copy_rc; stderr: $(head -c 400 "$TMP/self.err")"
    fi
else
    fail "b3sum is not installed: cannot check digests against it"
fi

finish
