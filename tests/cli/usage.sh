#!/usr/bin/env bash
# The command line: help, and bad usage of every kind exits 2 with one line
# on stderr and nothing on stdout (never a crash, whatever the input).
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

# ---- help -----------------------------------------------------------------
for h in --help -h help "regions --help" "bench -h"; do
    # shellcheck disable=SC2086 # word splitting wanted: "regions --help" is two arguments
    run $h
    if [ "$rc" -eq 0 ] && grep -q '^usage: procsum' "$TMP/out" && grep -q -- '--algo' "$TMP/out" &&
        grep -q '^  json ' "$TMP/out" && [ ! -s "$TMP/err" ]; then
        pass "procsum $h exits 0 with the usage text"
    else
        fail "procsum $h exits 0 with the usage text" "$(show_run)"
    fi
done

# ---- bad usage: exit 2, one line on stderr, nothing on stdout --------------
# usage_error NAME ARGS...
usage_error() {
    local name=$1
    shift
    run "$@"
    local lines
    lines=$(wc -l <"$TMP/err")
    if [ "$rc" -eq 2 ] && [ ! -s "$TMP/out" ] && [ "$lines" -eq 1 ] && grep -q '[^[:space:]]' "$TMP/err"; then
        pass "bad usage ($name) exits 2 with one line on stderr: $(head -c 200 "$TMP/err")"
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
usage_error "--algo with an empty argument" regions --algo ""
usage_error "extra argument" regions extra
usage_error "two commands" regions bench
usage_error "options only" --json
usage_error "empty command" ""
usage_error "empty command after a command" regions ""
usage_error "a lone dash" regions -
usage_error "a double dash" regions --
usage_error "--json with a value" regions --json=yes
usage_error "--help with a value" --help=1
usage_error "--format without value" regions --format
usage_error "--format unknown" regions --format xml
usage_error "--format empty" regions --format=
usage_error "--algo for version" version --algo xxh3
usage_error "--skip-libs for version" version --skip-libs
usage_error "--include-writable-code for help" help --include-writable-code
usage_error "a control byte in the command" "$(printf 'a\nb')"

long=$(head -c 100000 /dev/zero | tr '\0' x)
usage_error "a 100000-byte command" "$long"
usage_error "a 100000-byte option" "--$long"
usage_error "a 100000-byte algorithm" regions --algo "$long"
usage_error "a 100000-byte extra argument" regions "$long"
if [ "$(wc -c <"$TMP/err")" -lt 300 ]; then
    pass "a long argument is cut short in the message"
else
    fail "a long argument is cut short in the message" "$(wc -c <"$TMP/err") bytes on stderr"
fi

# PROCSUM_SIMD: a known path runs; any other value is bad usage (the library would ignore it).
for v in avx3 AVX2 "avx2 " "$(printf 'x\033[2J')"; do
    PROCSUM_SIMD=$v usage_error "PROCSUM_SIMD='$(printf %q "$v")'" version
done
if ! grep -q "$(printf '\033')" "$TMP/err"; then
    pass "PROCSUM_SIMD is escaped in the message"
else
    fail "PROCSUM_SIMD is escaped in the message" "$(show_run)"
fi
for v in portable sse41 avx2 avx512 ""; do
    PROCSUM_SIMD=$v run version
    check "PROCSUM_SIMD='$v' is accepted" [ "$rc" -eq 0 ]
done

# An argument reaches the message escaped: no terminal control from stderr either.
run "$(printf 'x\033[2Jy')"
if [ "$rc" -eq 2 ] && ! grep -q "$(printf '\033')" "$TMP/err" && grep -qF 'x\x1b[2Jy' "$TMP/err"; then
    pass "an escape sequence in an argument is escaped in the message"
else
    fail "an escape sequence in an argument is escaped in the message" "$(show_run)"
fi

finish
