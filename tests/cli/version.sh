#!/usr/bin/env bash
# procsum version: the version in include/procsum.h, as text and as JSON.
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

header="$TESTS/../include/procsum.h"
if [ -r "$header" ]; then
    v() { sed -n "s/^#define PROCSUM_VERSION_$1 \\([0-9][0-9]*\\).*/\\1/p" "$header"; }
    number="$(v MAJOR).$(v MINOR).$(v PATCH)"
    want="procsum $number"
else
    number=""
    want=""
fi
run version
got=$(cat "$TMP/out")
if [ "$rc" -eq 0 ] && { [ -n "$want" ] && [ "$got" = "$want" ] || { [ -z "$want" ] && [[ "$got" =~ ^procsum\ [0-9]+\.[0-9]+\.[0-9]+$ ]]; }; }; then
    pass "procsum version prints '$got'"
else
    fail "procsum version prints '${want:-procsum X.Y.Z}'" "$(show_run)"
fi

run version --json
got=$(cat "$TMP/out")
if [ "$rc" -eq 0 ] && [ -n "$number" ] && [ "$got" = "{\"record\":\"version\",\"version\":\"$number\"}" ]; then
    pass "procsum version --json prints '$got'"
else
    fail "procsum version --json prints the version as one JSON line" "$(show_run)"
fi

finish
