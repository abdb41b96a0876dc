#!/usr/bin/env bash
# Builds the fuzz targets with clang's libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer into OUTDIR (default build-fuzz):
#
#   fuzz/build.sh [OUTDIR]      then OUTDIR/fuzz_maps, OUTDIR/fuzz_pe, OUTDIR/fuzz_filediff
#
# Each target compiles only the pure parser it drives, with no meson build:
# the parsers take bytes and need nothing else of the library. The source
# file is the one under src/ that defines the parser's function, so files
# may move without this script knowing; the targets include the parsers'
# headers through src/ as the tests do. Needs clang and its runtime
# (Debian: clang, libclang-rt-14-dev).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-build-fuzz}
mkdir -p "$out"

CC=${CC:-clang}
CFLAGS=(-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
    -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
    -Wno-unused-parameter -Werror
    "-fsanitize=fuzzer,address,undefined" -fno-sanitize-recover=all
    -Iinclude -Isrc -Ifuzz)

# The one file under src/ that defines function $1.
source_of() {
    local found
    found=$(grep -rlE --include='*.c' "^[a-z_][a-z_0-9 ]*[ *]$1\(" src)
    if [ "$(printf '%s\n' "$found" | grep -c .)" -ne 1 ]; then
        echo "fuzz/build.sh: expected one file under src/ defining $1, found: ${found:-none}" >&2
        exit 1
    fi
    printf '%s\n' "$found"
}

# target  the functions it drives
targets=(
    "fuzz_maps psum_maps_parse_line"
    "fuzz_pe psum_pe_parse"
    "fuzz_filediff psum_page_diff"
)
for t in "${targets[@]}"; do
    read -r name fns <<<"$t"
    sources=()
    for fn in $fns; do
        sources+=("$(source_of "$fn")")
    done
    echo "fuzz/build.sh: $out/$name from fuzz/$name.c ${sources[*]}"
    "$CC" "${CFLAGS[@]}" "fuzz/$name.c" "${sources[@]}" -o "$out/$name"
done
