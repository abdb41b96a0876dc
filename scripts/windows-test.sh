#!/usr/bin/env bash
# Cross-builds procsum for 64-bit Windows with MinGW-w64 and runs the Windows
# tests under Wine. Works as root on a fresh Debian 12 machine (installs what
# is missing) and as any user where the packages are already there.
#
#   scripts/windows-test.sh            build into build-win, run everything
#   BUILD_DIR=/tmp/bw scripts/windows-test.sh
#
# Prints one line per check and a last line "windows: N passed, M failed";
# exits non-zero when anything failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-win}
CROSS=$ROOT/cross/x86_64-w64-mingw32.txt
TEST_TIMEOUT=${TEST_TIMEOUT:-600}

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
finish() {
    echo "windows: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
    exit $?
}

# ---- tools ----
find_wine() {
    local w
    for w in /usr/lib/wine/wine64 "$(command -v wine64 2>/dev/null)" "$(command -v wine 2>/dev/null)"; do
        if [ -n "$w" ] && [ -x "$w" ]; then
            echo "$w"
            return 0
        fi
    done
    return 1
}

need=()
command -v x86_64-w64-mingw32-gcc >/dev/null || need+=(gcc-mingw-w64-x86-64)
find_wine >/dev/null || need+=(wine64)
command -v meson >/dev/null || need+=(meson)
command -v ninja >/dev/null || need+=(ninja-build)
[ -f /usr/include/xxhash.h ] || need+=(libxxhash-dev) # used header-only on Windows
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "windows-test: missing ${need[*]}; run as root or install them" >&2
        fail "prerequisites"
        finish
    fi
    echo "windows-test: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; then
        apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null ||
            { fail "apt-get install ${need[*]}"; finish; }
    fi
fi
WINE=$(find_wine) || { fail "no wine found"; finish; }
WINESERVER=$(dirname "$WINE")/wineserver
[ -x "$WINESERVER" ] || WINESERVER=$(command -v wineserver || true)

# ---- build ----
if [ -f "$BUILD/build.ninja" ]; then
    setup_ok=true
else
    meson setup "$BUILD" "$ROOT" --cross-file "$CROSS" --werror >"$BUILD.setup.log" 2>&1 && setup_ok=true || setup_ok=false
    if ! $setup_ok; then
        cat "$BUILD.setup.log"
        fail "meson setup"
        finish
    fi
    rm -f "$BUILD.setup.log"
fi
if ninja -C "$BUILD" >"$BUILD/windows-build.log" 2>&1; then
    pass "cross build (warnings are errors)"
else
    tail -50 "$BUILD/windows-build.log"
    fail "cross build"
    finish
fi

# ---- the DLL exports procsum_* and nothing else ----
dll=$(ls "$BUILD"/src/*procsum*.dll 2>/dev/null | head -1)
if [ -n "$dll" ]; then
    exports=$(x86_64-w64-mingw32-objdump -p "$dll" |
        sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' | awk 'NF >= 3 && $1 == "[" {print $3} NF == 2 && $1 ~ /^\[/ {print $2}')
    others=$(echo "$exports" | grep -v '^procsum_' | grep -v '^$' || true)
    if [ -n "$exports" ] && [ -z "$others" ]; then
        pass "$(basename "$dll") exports only procsum_* ($(echo "$exports" | wc -l) symbols)"
    else
        fail "$(basename "$dll") exports: ${others:-nothing}"
    fi
    [ -f "$BUILD/src/procsum.dll.a" ] && pass "import library procsum.dll.a" || fail "no import library"
    [ -f "$BUILD/src/procsum.a" ] && pass "static library procsum.a" || fail "no static library"
    # The DLLs it needs at run time are those docs/windows.md names.
    imports=$(x86_64-w64-mingw32-objdump -p "$dll" | awk '/DLL Name:/ {print tolower($3)}' | sort | tr '\n' ' ')
    [ "$imports" = "bcrypt.dll kernel32.dll msvcrt.dll " ] && pass "$(basename "$dll") imports $imports" ||
        fail "$(basename "$dll") imports $imports"
    # A program links with the static library and what procsum.pc gives for it, as docs/windows.md says.
    pc_libs=$(PKG_CONFIG_PATH="$BUILD/meson-private" pkg-config --static --libs-only-l --libs-only-other procsum | sed 's/-lprocsum//')
    printf '#include <procsum.h>\nint main(void)\n{\n    procsum_options o;\n    procsum_options_init(&o);\n    procsum_checker *c;\n    return procsum_start(&o, 0, 0, &c) || procsum_stop(c);\n}\n' >"$BUILD/static_user.c"
    x86_64-w64-mingw32-gcc -std=c11 -I"$ROOT/include" "$BUILD/static_user.c" -o "$BUILD/static_user.exe" "$BUILD/src/procsum.a" $pc_libs \
        >"$BUILD/static_user.log" 2>&1 && pass "a program links with procsum.a and procsum.pc's libraries ($pc_libs)" ||
        { cat "$BUILD/static_user.log"; fail "a program does not link with procsum.a and procsum.pc's libraries ($pc_libs)"; }
else
    fail "no procsum DLL built"
fi

# ---- Wine ----
export WINEPREFIX=$BUILD/wineprefix
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml=" # no Mono or Gecko install prompts
export WINEARCH=win64
unset DISPLAY WAYLAND_DISPLAY
stop_wine() { [ -n "$WINESERVER" ] && "$WINESERVER" -k >/dev/null 2>&1 || true; }
trap stop_wine EXIT
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    mkdir -p "$WINEPREFIX"
    timeout 600 "$WINE" wineboot -i >"$BUILD/wineboot.log" 2>&1 </dev/null || true
    # The registry reaches the disk when the server has finished: wait for it.
    [ -n "$WINESERVER" ] && timeout 120 "$WINESERVER" -w >/dev/null 2>&1 </dev/null || true
    [ -f "$WINEPREFIX/system.reg" ] || { cat "$BUILD/wineboot.log"; fail "wineboot"; finish; }
fi
# Where Wine looks for procsum.dll: the build's src directory, as a Windows path.
export WINEPATH="Z:$(echo "$BUILD/src" | tr / '\\')"

run() { # name, then the program and its arguments
    local name=$1 log
    shift
    log="$BUILD/win-$name.log"
    timeout "$TEST_TIMEOUT" "$WINE" "$@" >"$log" 2>&1
    local rc=$?
    # Every program here writes a line before anything else: nothing at all means
    # Wine never ran it (its server was still busy with the last one). Once more.
    if [ "$rc" -ne 0 ] && [ ! -s "$log" ]; then
        [ -n "$WINESERVER" ] && timeout 120 "$WINESERVER" -w >/dev/null 2>&1 </dev/null
        timeout "$TEST_TIMEOUT" "$WINE" "$@" >"$log" 2>&1
        rc=$?
    fi
    if [ "$rc" -eq 0 ]; then
        pass "$name ($(tail -1 "$log" | tr -d '\r'))"
        return 0
    fi
    sed 's/^/    /' "$log" | tail -40
    fail "$name (exit $rc)"
    return 1
}

for exe in "$BUILD"/tests/win/test_*.exe; do
    [ -e "$exe" ] || { fail "no Windows test programs in $BUILD/tests/win"; break; }
    run "$(basename "$exe" .exe)" "$exe"
done

procsum="$BUILD/tools/procsum.exe"
if run "procsum.exe regions" "$procsum" regions; then
    log="$BUILD/win-procsum.exe regions.log"
    tr -d '\r' <"$log" | grep -Eq ' exe .*procsum\.exe$' && pass "regions lists procsum.exe as the program" ||
        fail "regions does not list procsum.exe"
    tr -d '\r' <"$log" | grep -Eqi '\\ntdll\.dll$' && pass "regions lists ntdll.dll" || fail "regions lacks ntdll.dll"
    # A Windows path reads as itself in the table: one backslash between its parts.
    tr -d '\r' <"$log" | grep -qiF '  C:\windows\system32\kernel32.dll' &&
        ! tr -d '\r' <"$log" | grep -qF '\\' && pass "regions table shows C:\windows\system32\kernel32.dll as it is" ||
        fail "regions table does not show C:\windows\system32\kernel32.dll as it is"
fi
if run "procsum.exe regions --json" "$procsum" regions --json; then
    # Valid JSON, and the same path once decoded.
    tr -d '\r' <"$BUILD/win-procsum.exe regions --json.log" | python3 -c '
import json, sys
sources = [json.loads(line)["source"].lower() for line in sys.stdin if line.strip()]
assert "c:\\windows\\system32\\kernel32.dll" in sources, sources
' && pass "regions --json is valid JSON and holds C:\windows\system32\kernel32.dll" ||
        fail "regions --json: not valid JSON, or no C:\windows\system32\kernel32.dll"
fi
run "procsum.exe bench" "$procsum" bench
run "procsum.exe regions --json --skip-libs" "$procsum" regions --json --skip-libs

finish
