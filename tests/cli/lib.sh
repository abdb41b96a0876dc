# Shared by the scripts in tests/cli/, each of which drives the real binary:
#   bash tests/cli/NAME.sh PATH/TO/procsum
# Source it first: it checks the argument and sets PROCSUM (absolute path),
# TESTS (the tests/ directory), TMP (removed on exit) and the functions below.
# A script prints one line per check and ends with finish, which prints
# "cli-NAME: N passed, M failed" and fails when any check failed.
set -u

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
    echo "usage: $0 PATH/TO/procsum" >&2
    exit 2
fi

PROCSUM=$(readlink -f -- "$1")
TESTS=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
SUITE="cli-$(basename -- "$0" .sh)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/procsum_cli.XXXXXX")
trap 'rm -rf -- "$TMP"' EXIT

passed=0
failed=0

pass() {
    passed=$((passed + 1))
    echo "ok   - $1"
}

# fail NAME [DETAIL...]
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

# What the last run did, for a failure's details (control bytes shown as octal).
show_run() {
    echo "exit $rc; stdout: $(head -c 400 "$TMP/out" | od -An -c | tr -s ' ' | head -c 600); stderr: $(head -c 400 "$TMP/err")"
}

have() { command -v "$1" >/dev/null 2>&1; }

# need_python: the JSON checks are written in Python.
need_python() {
    if ! have python3; then
        fail "python3 is needed for the JSON checks"
        finish
    fi
}

# has_line FILE PYTHON_CONDITION: some JSON line of FILE (as `l`) satisfies it.
has_line() {
    python3 - "$1" "$2" <<'EOF_PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    l = json.loads(line)
    if eval(sys.argv[2]):
        sys.exit(0)
sys.exit(1)
EOF_PY
}

# preloaded LIB COMMAND...: runs COMMAND with LIB preloaded (sanitizer
# builds insist on their runtime coming first; a preload is harmless here).
preloaded() {
    local lib=$1
    shift
    LD_PRELOAD="$lib" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@"
}

# A shared library procsum itself loads, to copy under a hostile name and
# preload; empty when ldd does not name one.
small_lib() {
    ldd "$PROCSUM" 2>/dev/null | awk '$1 ~ /^libinih\.so/ && $3 ~ /^\// { print $3; exit }'
}

# none_missing NAME [DETAIL...]: passes when the array `missing` is empty.
none_missing() {
    local name=$1
    shift
    if [ ${#missing[@]} -eq 0 ]; then pass "$name"; else fail "$name" "$@" "missing: ${missing[*]}"; fi
}

# each_found NAME MIN FILE GREP_FLAGS FORMAT ITEMS...: passes when, for each
# item, grep -q with GREP_FLAGS finds printf FORMAT ITEM in FILE, and there
# are at least MIN items (a list read wrongly must not pass unseen).
each_found() {
    local name=$1 min=$2 file=$3 flags=$4 format=$5 item
    shift 5
    missing=()
    for item in "$@"; do
        # shellcheck disable=SC2059 # the format is the caller's
        grep -q"$flags" -- "$(printf "$format" "$item")" "$file" || missing+=("$item")
    done
    [ $# -ge "$min" ] || missing+=("(only $# read)")
    none_missing "$name"
}

finish() {
    echo "$SUITE: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}
