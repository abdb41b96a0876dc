#!/usr/bin/env bash
# Drives the real procsum binary: tests/cli.sh PATH/TO/procsum
# Prints one line per check and ends with "cli: N passed, M failed";
# exits non-zero when any check failed.
set -u

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
    echo "usage: $0 PATH/TO/procsum" >&2
    exit 2
fi

PROCSUM=$(readlink -f -- "$1")
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/procsum_cli.XXXXXX")
trap 'rm -rf -- "$TMP"' EXIT

passed=0
failed=0

pass() {
    passed=$((passed + 1))
    echo "ok   - $1"
}

fail() {
    failed=$((failed + 1))
    echo "FAIL - $1"
    shift
    for detail in "$@"; do
        printf '       %s\n' "$detail"
    done
}

# check NAME COMMAND...: passes when the command succeeds.
check() {
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}

# run ARGS...: runs procsum, leaving $TMP/out, $TMP/err and $rc.
run() {
    "$PROCSUM" "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
}

show_run() {
    echo "exit $rc; stdout: $(head -c 400 "$TMP/out"); stderr: $(head -c 400 "$TMP/err")"
}

have() { command -v "$1" >/dev/null 2>&1; }

if ! have python3; then
    echo "cli: python3 is needed for the JSON checks" >&2
    echo "cli: 0 passed, 1 failed"
    exit 1
fi

# ---- regions (table) ------------------------------------------------------
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

# ---- regions --json -------------------------------------------------------
# check_regions_json FILE ALGO DIGEST_HEX_LEN SKIP_LIBS: validates the document.
check_regions_json() {
    python3 - "$1" "$2" "$3" "$4" "$PROCSUM" <<'EOF'
import json, sys
path, algo, hexlen, skip_libs, exe = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5]
problems = []
with open(path, encoding="utf-8") as f:
    doc = json.load(f)
if doc.get("algorithm") != algo:
    problems.append("algorithm is %r, not %r" % (doc.get("algorithm"), algo))
regions = doc.get("regions")
if not isinstance(regions, list) or not regions:
    problems.append("no regions")
    regions = []
prev_end = 0
for r in regions:
    for key in ("start", "end", "source", "digest"):
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
EOF
}

for spec in blake3:64 crc64:16 xxh3:16; do
    algo=${spec%%:*}
    hexlen=${spec##*:}
    if [ "$algo" = blake3 ]; then run regions --json; else run regions --json --algo "$algo"; fi
    cp "$TMP/out" "$TMP/regions_$algo.json"
    if [ "$rc" -eq 0 ] && python3 -c 'import json,sys; json.load(sys.stdin)' <"$TMP/out" 2>/dev/null; then
        pass "regions --json ($algo) exits 0 and is valid JSON"
    else
        fail "regions --json ($algo) exits 0 and is valid JSON" "$(show_run)"
    fi
    if msg=$(check_regions_json "$TMP/out" "$algo" "$hexlen" 0 2>&1); then
        pass "regions --json ($algo): fields, $hexlen-digit digests, exe and libc present"
    else
        fail "regions --json ($algo): fields, $hexlen-digit digests, exe and libc present" "$msg"
    fi
done

# The three algorithms see the same regions.
if python3 - "$TMP"/regions_blake3.json "$TMP"/regions_crc64.json "$TMP"/regions_xxh3.json <<'EOF'
import json, sys
sets = []
for p in sys.argv[1:]:
    with open(p, encoding="utf-8") as f:
        sets.append(sorted((r["source"], r["size"], r["file_offset"]) for r in json.load(f)["regions"]))
sys.exit(0 if sets[0] == sets[1] == sets[2] else 1)
EOF
then
    pass "regions --json: blake3, crc64 and xxh3 list the same regions"
else
    fail "regions --json: blake3, crc64 and xxh3 list the same regions"
fi

# --algo=NAME spelling.
run regions --json --algo=xxh3
if [ "$rc" -eq 0 ] && msg=$(check_regions_json "$TMP/out" xxh3 16 0 2>&1); then
    pass "regions --algo=xxh3 works"
else
    fail "regions --algo=xxh3 works" "${msg:-}" "$(show_run)"
fi

# ---- JSON escaping of an awkward library path -----------------------------
# A copy of one of procsum's own libraries, preloaded from a path with a quote,
# a backslash and a non-ASCII letter (LD_PRELOAD cannot take spaces).
lib=$(ldd "$PROCSUM" 2>/dev/null | awk '$1 ~ /^libxxhash\.so/ && $3 ~ /^\// { print $3; exit }')
if [ -n "$lib" ]; then
    mkdir -p "$TMP/lib,dir"
    odd="$TMP/lib,dir/we\"ird\\lib-é.so"
    cp -- "$(readlink -f -- "$lib")" "$odd"
    odd=$(readlink -f -- "$odd")
    # Sanitizer builds insist on their runtime coming first; a preload is harmless here.
    LD_PRELOAD="$odd" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        "$PROCSUM" regions --json >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ "$rc" -eq 0 ] && msg=$(python3 - "$odd" "$TMP/out" 2>&1 <<'EOF'
import json, sys
want = sys.argv[1]
with open(sys.argv[2], encoding="utf-8") as f:
    doc = json.load(f)
hits = [r for r in doc["regions"] if r["source"] == want]
if not hits:
    sys.exit("no region with source %r in %r" % (want, [r["source"] for r in doc["regions"]]))
if any(r["kind"] != "file" or r["main_executable"] for r in hits):
    sys.exit("wrong kind: %r" % hits)
EOF
    ); then
        pass "regions --json escapes a library path with quote, backslash and UTF-8"
    else
        fail "regions --json escapes a library path with quote, backslash and UTF-8" "${msg:-}" "$(show_run)"
    fi
    # A name that is not UTF-8 at all: the JSON must still parse strictly.
    bad="$TMP/lib,dir/bad$(printf '\377')lib.so"
    cp -- "$odd" "$bad"
    LD_PRELOAD="$bad" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        "$PROCSUM" regions --json >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ "$rc" -eq 0 ] && msg=$(python3 - "$TMP/out" 2>&1 <<'EOF'
import json, sys
raw = open(sys.argv[1], "rb").read()
doc = json.loads(raw.decode("utf-8", errors="strict"))
if not any(r["source"].endswith("bad\u00fflib.so") for r in doc["regions"]):
    sys.exit("the byte 0xff was not written as U+00FF")
EOF
    ); then
        pass "regions --json stays valid UTF-8 for a path that is not"
    else
        fail "regions --json stays valid UTF-8 for a path that is not" "${msg:-}" "$(show_run)"
    fi
else
    echo "skip - no libxxhash in ldd output: JSON escaping of library paths not checked"
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

# ---- bench ----------------------------------------------------------------
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

run bench --algo crc64 --json
if [ "$rc" -eq 0 ] && msg=$(python3 -c '
import json, sys
doc = json.load(sys.stdin)
res = doc["results"]
assert len(res) == 1, "%d results" % len(res)
r = res[0]
assert r["algorithm"] == "crc64", r
assert isinstance(r["hashed_bytes"], int) and r["hashed_bytes"] > 0, r
assert r["hashed_bytes"] % 4096 == 0, r
assert isinstance(r["regions"], int) and r["regions"] > 0, r
' <"$TMP/out" 2>&1); then
    pass "bench --algo crc64 --json: one result with hashed_bytes > 0"
else
    fail "bench --algo crc64 --json: one result with hashed_bytes > 0" "${msg:-}" "$(show_run)"
fi

# ---- digests are real: BLAKE3 of the binary's own code = b3sum of the file bytes ----
# A private copy, so that a rebuild of $1 meanwhile cannot change the file between the two reads.
if have b3sum; then
    cp -- "$PROCSUM" "$TMP/procsum-copy"
    COPY=$(readlink -f -- "$TMP/procsum-copy")
    "$COPY" regions --json --skip-libs >"$TMP/self.json" 2>"$TMP/self.err"
    copy_rc=$?
    if [ "$copy_rc" -eq 0 ] && msg=$(python3 - "$TMP/self.json" "$COPY" "$TMP/range.bin" <<'EOF' 2>&1
import json, subprocess, sys
doc_path, exe, scratch = sys.argv[1:4]
with open(doc_path, encoding="utf-8") as f:
    regions = [r for r in json.load(f)["regions"] if r["main_executable"]]
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
EOF
    ); then
        pass "regions blake3 digest of the binary's code equals b3sum of the file bytes ($msg)"
    else
        fail "regions blake3 digest of the binary's code equals b3sum of the file bytes" "${msg:-}" \
            "exit $copy_rc; stderr: $(head -c 400 "$TMP/self.err")"
    fi
else
    fail "b3sum is not installed: cannot check digests against it"
fi

# ---- bad usage: exit 2, one line on stderr, nothing on stdout --------------
# usage_error NAME ARGS...
usage_error() {
    local name=$1
    shift
    run "$@"
    local lines
    lines=$(wc -l <"$TMP/err")
    if [ "$rc" -eq 2 ] && [ ! -s "$TMP/out" ] && [ "$lines" -eq 1 ] && grep -q '[^[:space:]]' "$TMP/err"; then
        pass "bad usage ($name) exits 2 with one line on stderr: $(cat "$TMP/err")"
    else
        fail "bad usage ($name) exits 2 with one line on stderr" "stderr lines: $lines" "$(show_run)"
    fi
}
usage_error "no command"
usage_error "unknown command" frobnicate
usage_error "unknown option" regions --frobnicate
usage_error "unknown short option" regions -x
usage_error "--algo without value" regions --algo
usage_error "--algo md5" regions --algo md5
usage_error "--algo=md5" bench --algo=md5
usage_error "--algo with empty value" regions --algo=
usage_error "extra argument" regions extra
usage_error "two commands" regions bench
usage_error "options only" --json

# ---- help and version -----------------------------------------------------
for h in --help -h; do
    run "$h"
    if [ "$rc" -eq 0 ] && grep -q '^usage: procsum' "$TMP/out" && grep -q -- '--algo' "$TMP/out"; then
        pass "procsum $h exits 0 with the usage text"
    else
        fail "procsum $h exits 0 with the usage text" "$(show_run)"
    fi
done

header="$HERE/../include/procsum.h"
if [ -r "$header" ]; then
    v() { sed -n "s/^#define PROCSUM_VERSION_$1 \\([0-9][0-9]*\\).*/\\1/p" "$header"; }
    want="procsum $(v MAJOR).$(v MINOR).$(v PATCH)"
else
    want=""
fi
run version
got=$(cat "$TMP/out")
if [ "$rc" -eq 0 ] && { [ -n "$want" ] && [ "$got" = "$want" ] || { [ -z "$want" ] && [[ "$got" =~ ^procsum\ [0-9]+\.[0-9]+\.[0-9]+$ ]]; }; }; then
    pass "procsum version prints '$got'"
else
    fail "procsum version prints '${want:-procsum X.Y.Z}'" "$(show_run)"
fi

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
