#!/usr/bin/env bash
# procsum.conf (--config), on programs that do not link procsum, changed
# through /proc/PID/mem: `change = PATH:OFFSET` silences exactly the page
# holding OFFSET (two pages changed, one allowed: the other is reported,
# exit 5; both allowed: exit 0); `module =` silences a whole library;
# `process =` leaves a process out of --all (by name or by program path)
# while a process named by its id is still verified; `state-cause = write`
# turns the alert into a state event; flags override the file (--format,
# --period), and run hands the file's period, algo and module globs to the
# preload library (a program whose own code changes is reported, and not
# once its path is a `module`, its checker running all the same); a bad file (unknown key, bad value, unknown section, a line
# that is not INI) is one line naming the file and line, exit 2, as is a
# missing --config file.
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname -- "${BASH_SOURCE[0]}")/outside_lib.sh"

conf="$TMP/procsum.conf"

# ---- change = PATH:OFFSET ------------------------------------------------------
prog="$TMP/prog"
start_target "$prog" || fail "target starts"
pid=$target_pid
first=$(spare_offset "$prog")
second=$(spare_offset "$prog" outside_spare_page)
flip_at "$pid" "$prog" "$first" 1 >/dev/null
flip_at "$pid" "$prog" "$second" 2 >/dev/null
run verify --no-config --json "$pid"
if [ "$rc" -eq 5 ]; then pass "change: without a file both pages are reported"; else fail "change: without a file, exit 5" "$(show_run)"; fi
check "change: without a file, two alerts" json_check "$TMP/out" '
assert sorted(a["procsum.file_offset"] for a in alerts) == sorted([int(args[0]), int(args[1])]), alerts
' "$first" "$second"

# The first page allowed, named by an offset elsewhere in the same page (its start), in hex.
printf '# known patches\n[allow]\nchange = %s:0x%x   # the first spare page\n' "$prog" $((first / 4096 * 4096)) >"$conf"
run verify --config "$conf" --json "$pid"
if [ "$rc" -eq 5 ]; then pass "change: one page allowed, the other still gives exit 5"; else fail "change: one page allowed, exit 5" "$(show_run)"; fi
check "change: exactly the other page is reported" json_check "$TMP/out" '
assert len(alerts) == 1 and alerts[0]["procsum.file_offset"] == int(args[0]), alerts
assert states[0]["procsum.status"] == "changed", states
' "$second"
printf '[allow]\nchange = %s:%d\nchange = %s:%d\n' "$prog" "$first" "$prog" "$second" >"$conf"
run verify --config "$conf" --json "$pid"
if [ "$rc" -eq 0 ]; then pass "change: both pages allowed, exit 0"; else fail "change: both allowed, exit 0" "$(show_run)"; fi
check "change: both allowed, no alert, the process clean" json_check "$TMP/out" '
assert not alerts, alerts
assert len(states) == 1 and states[0]["procsum.status"] == "clean", states
'
run verify --config "$conf" "$pid"
if [ "$rc" -eq 0 ] && ! grep -q '^  !' "$TMP/out"; then pass "change: no alert line in the table either"; else fail "change: the table" "$(show_run)"; fi

# ---- state-cause ---------------------------------------------------------------
printf '[allow]\nchange = %s:%d\nstate-cause = write\n' "$prog" "$first" >"$conf"
run verify --config "$conf" --json "$pid"
if [ "$rc" -eq 0 ]; then pass "state-cause: a change of that cause does not give exit 5"; else fail "state-cause: exit 0" "$(show_run)"; fi
check "state-cause: the other page goes out as a state event, the allowed one not at all" json_check "$TMP/out" '
assert not alerts, alerts
changes = [l for l in states if "procsum.cause" in l]
assert len(changes) == 1, states
c = changes[0]
assert c["procsum.cause"] == "write" and c["procsum.file_offset"] == int(args[0]), c
assert c["event.action"] == "differs-from-file" and c["procsum.verdict"] == "bitflip", c
' "$second"
run verify --config "$conf" "$pid"
if [ "$rc" -eq 0 ] && grep -q '^  - ' "$TMP/out" && ! grep -q '^  ! ' "$TMP/out"; then
    pass "state-cause: the table marks it '-', not '!'"
else
    fail "state-cause: the table" "$(show_run)"
fi

# ---- module ----------------------------------------------------------------------
lib=$(small_lib)
if [ -z "$lib" ]; then
    fail "module: procsum links a library to copy (libinih)"
else
    cp -- "$lib" "$TMP/libspare.so"
    LD_PRELOAD="$TMP/libspare.so" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        start_target "$TMP/withlib" || fail "module: target with the library starts"
    lib_pid=$target_pid
    # A byte in the library's code, a page into its executable segment: this program never calls it.
    lib_offset=$(python3 - "$TMP/libspare.so" <<'EOF_PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
phoff, = struct.unpack_from("<Q", data, 0x20)
phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
for i in range(phnum):
    ptype, flags, off, va, pa, filesz, memsz, align = struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize)
    if ptype == 1 and flags & 1:
        print(off + min(4096, filesz // 2) + 3)
        break
EOF_PY
)
    for _ in $(seq 200); do grep -qF "$TMP/libspare.so" "/proc/$lib_pid/maps" && break; sleep 0.01; done
    flip_at "$lib_pid" "$TMP/libspare.so" "$lib_offset" 3 >/dev/null
    run verify --no-config --json "$lib_pid"
    if [ "$rc" -eq 5 ]; then pass "module: without a file the library's change is reported"; else fail "module: without a file, exit 5" "$(show_run)"; fi
    check "module: the alert is in the library" json_check "$TMP/out" '
assert len(alerts) == 1 and alerts[0]["file.path"] == args[0], alerts
' "$TMP/libspare.so"
    checked=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1])][0]["procsum.pages_checked"])' "$TMP/out")
    printf '[allow]\nmodule = %s/libspare*.so\n' "$TMP" >"$conf"
    run verify --config "$conf" --json "$lib_pid"
    if [ "$rc" -eq 0 ]; then pass "module: the library allowed, exit 0"; else fail "module: allowed, exit 0" "$(show_run)"; fi
    check "module: no alert, fewer pages checked (the library's are not read)" json_check "$TMP/out" '
assert not alerts, alerts
assert states[0]["procsum.status"] == "clean" and 0 < states[0]["procsum.pages_checked"] < int(args[0]), states
' "$checked"
fi

# ---- process (verify --all) ----------------------------------------------------------
start_target "$TMP/cfgskipname" || fail "process: target starts"
by_name=$target_pid
start_target "$TMP/bypath" || fail "process: second target starts"
by_path=$target_pid
start_target "$TMP/kept" || fail "process: third target starts"
kept=$target_pid
printf '[check]\nskip-libs = yes\n[allow]\nprocess = cfgskip*\nprocess = %s/by?ath\n' "$TMP" >"$conf"
run verify --config "$conf" --json --all
check "process: --all leaves out the processes matched by name and by path, checks the others" json_check "$TMP/out" '
pids = {s["process.pid"] for s in states}
assert int(args[0]) not in pids and int(args[1]) not in pids, (args, sorted(pids))
assert int(args[2]) in pids, (args, sorted(pids))
' "$by_name" "$by_path" "$kept"
run verify --no-config --json --skip-libs --all
check "process: without the file, --all checks them" json_check "$TMP/out" '
pids = {s["process.pid"] for s in states}
assert {int(a) for a in args} <= pids, (args, sorted(pids))
' "$by_name" "$by_path" "$kept"
flip_at "$by_name" "$TMP/cfgskipname" "$(spare_offset "$TMP/cfgskipname")" 0 >/dev/null
run verify --config "$conf" --json "$by_name"
if [ "$rc" -eq 5 ] && json_check "$TMP/out" '
assert len(alerts) == 1 and alerts[0]["process.pid"] == int(args[0]) and alerts[0]["file.path"] == args[1], alerts
assert alerts[0]["procsum.file_offset"] == int(args[2]) and alerts[0]["procsum.verdict"] == "bitflip", alerts
assert len(states) == 1 and states[0]["procsum.status"] == "changed", states
' "$by_name" "$TMP/cfgskipname" "$(spare_offset "$TMP/cfgskipname")"; then
    pass "process: a process named by its id is verified all the same, its change reported"
else
    fail "process: named, exit 5 and its change" "$(show_run)"
fi

# ---- flags override the file ------------------------------------------------------------
printf '[check]\nperiod = 86400000\n[output]\njson = yes\n' >"$conf"
run verify --config "$conf" "$kept"
if [ "$rc" -eq 0 ] && json_check "$TMP/out" 'assert states and states[0]["procsum.status"] == "clean"'; then
    pass "override: the file's json = yes gives JSON lines"
else
    fail "override: json from the file" "$(show_run)"
fi
run verify --config "$conf" --format text "$kept"
if [ "$rc" -eq 0 ] && grep -Eq "^$kept +clean " "$TMP/out"; then pass "override: --format text wins over the file"; else fail "override: --format text" "$(show_run)"; fi
"$PROCSUM" watch --config "$conf" --period 100 "$kept" >"$TMP/watch.out" 2>"$TMP/watch.err" &
watch_pid=$!
if wait_for "$TMP/watch.out" 'l.get("event.action") == "watching"'; then
    flip_at "$kept" "$TMP/kept" "$(spare_offset "$TMP/kept")" 5 >/dev/null
    # A day between passes (the file) would show nothing here; --period 100 shows the change.
    if wait_for "$TMP/watch.out" 'l.get("event.kind") == "alert" and l["event.action"] == "code-changed"'; then
        pass "override: --period wins over the file's period"
    else
        fail "override: --period" "$(cat "$TMP/watch.out" "$TMP/watch.err")"
    fi
else
    fail "override: watch starts" "$(cat "$TMP/watch.out" "$TMP/watch.err")"
fi
kill -TERM "$watch_pid"
wait "$watch_pid"

# ---- run: the file's period and algo reach the preload library's environment, --period wins ----
# A preload library that checks nothing (a small library procsum itself links, which run takes and the loader
# loads): the program, env, prints what it got.
none=$(small_lib)
[ -n "$none" ] || fail "run: a small library to preload" "none found in ldd $PROCSUM"
printf '[check]\nperiod = 4321\nalgo = xxh3\n' >"$conf"
PROCSUM_PRELOAD="$none" run run --config "$conf" -- env
if [ "$rc" -eq 0 ] && grep -qx 'PROCSUM_PERIOD_MS=4321' "$TMP/out" && grep -qx 'PROCSUM_ALGO=xxh3' "$TMP/out"; then
    pass "run: period and algo from the file"
else
    fail "run: period and algo from the file" "$(show_run)"
fi
PROCSUM_PRELOAD="$none" run run --config "$conf" --period 77 -- env
if [ "$rc" -eq 0 ] && grep -qx 'PROCSUM_PERIOD_MS=77' "$TMP/out" && grep -qx 'PROCSUM_ALGO=xxh3' "$TMP/out"; then
    pass "run: --period wins over the file"
else
    fail "run: --period wins" "$(show_run)"
fi
printf '[allow]\nmodule = /opt/a:b/*.so\nmodule = %s/x*\n' "$TMP" >"$conf"
# shellcheck disable=SC2016 # the shell run under procsum expands it
PROCSUM_PRELOAD="$none" run run --config "$conf" -- sh -c 'printf "%s" "$PROCSUM_SKIP_FILES"'
if [ "$rc" -eq 0 ] && [ "$(cat "$TMP/out")" = "/opt/a:b/*.so
$TMP/x*" ]; then
    pass "run: the module globs in PROCSUM_SKIP_FILES, one per line"
else
    fail "run: the module globs in PROCSUM_SKIP_FILES" "$(show_run)"
fi
# The preload library takes PROCSUM_SKIP_FILES up to 65535 bytes: a file whose module globs come to
# more is refused before CMD starts, one line and exit 2, not run with every process unwatched.
# modules_of LAST: 344 globs of 189 bytes, then one of LAST bytes: 65359 + 1 + LAST bytes with the newlines.
modules_of() {
    local g
    g="/$(printf 'y%.0s' $(seq 188))"
    printf '[allow]\n'
    for _ in $(seq 344); do printf 'module = %s\n' "$g"; done
    printf 'module = /%s\n' "$(printf 'z%.0s' $(seq $(($1 - 1))))"
}
modules_of 175 >"$conf"
# shellcheck disable=SC2016 # the shell run under procsum expands it
PROCSUM_PRELOAD="$none" run run --config "$conf" -- sh -c 'printf "%s" "$PROCSUM_SKIP_FILES" | wc -c'
if [ "$rc" -eq 0 ] && [ "$(cat "$TMP/out")" -eq 65535 ]; then
    pass "run: module globs of 65535 bytes handed on"
else
    fail "run: module globs of 65535 bytes" "$(show_run)"
fi
modules_of 176 >"$conf"
PROCSUM_PRELOAD="$none" run run --config "$conf" -- echo started
if [ "$rc" -eq 2 ] && [ ! -s "$TMP/out" ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] &&
    grep -q "^procsum: $conf: the 'module' globs take 65536 bytes, more than the 65535" "$TMP/err"; then
    pass "run: module globs of 65536 bytes refused, one line, exit 2"
else
    fail "run: module globs of 65536 bytes refused" "$(show_run)"
fi
PROCSUM_PRELOAD="$none" run run --no-config --config "$conf" -- true
if [ "$rc" -eq 2 ]; then pass "run: --config with --no-config, exit 2"; else fail "run: --config with --no-config" "$(show_run)"; fi

# ---- run: module reaches the preload library -----------------------------------------------
# run_target flips a bit of its own code and exits 0 once its report is in the JSON file, 1 after 30 s
# without one. A sanitizer build has no run_target (a sanitizer runtime cannot be preloaded): cli-run
# is not there either, and the plain build runs this.
if [ -n "${PSUM_RUN_TARGET:-}" ]; then
    target="$TMP/skiptarget"
    cp -- "$PSUM_RUN_TARGET" "$target"
    changed="l.get('event.kind') == 'alert' and l.get('procsum.verdict') == 'bitflip'"
    printf '[check]\nperiod = 100\n' >"$conf"
    f="$TMP/kept.json"
    run run --config "$conf" --json-file "$f" -- "$target" "$f"
    if [ "$rc" -eq 0 ] && json_check "$f" "assert [l for l in alerts if $changed and l['file.path'] == args[0]], alerts" "$target"; then
        pass "run, module: without it the program's change is reported"
    else
        fail "run, module: without it, reported" "$(show_run)" "$(head -c 1200 "$f" 2>/dev/null)"
    fi
    printf '[check]\nperiod = 100\n[allow]\nmodule = %s/skip*\n' "$TMP" >"$conf"
    f="$TMP/skipped.json"
    prom="$TMP/skipped.prom"
    run run --config "$conf" --json-file "$f" --prometheus "$prom" -- "$target" "$f"
    passes=$(awk '$1 == "procsum_passes_total" { print $2 }' "$prom" 2>/dev/null)
    if [ "$rc" -eq 1 ] && [ ! -s "$f" ] && [ -n "$passes" ] && [ "$passes" -gt 0 ]; then
        pass "run, module: the program's own pages are not checked, its checker ran ($passes passes), nothing written"
    else
        fail "run, module: not reported, the checker running" "$(show_run)" "$(head -c 1200 "$f" 2>/dev/null)" \
            "$(cat "$prom" 2>&1)"
    fi
else
    echo "note: PSUM_RUN_TARGET is not set (a sanitizer build): run's module test is left to the plain build" >&2
fi

# ---- bad files ----------------------------------------------------------------------------
# bad_file NAME EXPECTED_LINE PATTERN CONTENT: one line on stderr naming FILE:LINE and matching PATTERN, exit 2.
bad_file() {
    local name=$1 line=$2 pattern=$3
    printf '%b' "$4" >"$conf"
    for cmd in verify watch run; do
        if [ "$cmd" = run ]; then run run --config "$conf" -- true; else run "$cmd" --config "$conf" "$kept"; fi
        if [ "$rc" -eq 2 ] && [ ! -s "$TMP/out" ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] &&
            grep -q "^procsum: $conf:$line: $pattern" "$TMP/err"; then
            pass "bad file, $cmd: $name"
        else
            fail "bad file, $cmd: $name" "$(show_run)"
        fi
    done
}
bad_file "unknown key" 3 "unknown key 'perod' in \\[check\\]" '# comment\n[check]\nperod = 1000\n'
bad_file "bad value" 4 "bad value for 'period' in \\[check\\]" '[output]\njson = no\n[check]\nperiod = 10s\n'
bad_file "bad boolean" 2 "bad value for 'skip-libs'" '[check]\nskip-libs = maybe\n'
bad_file "unknown section" 2 "unknown section \\[chek\\]" '; comment\n[chek]\n'
bad_file "unknown key in [allow]" 2 "unknown key 'modules' in \\[allow\\]" '[allow]\nmodules = /x/*\n'
bad_file "bad change" 3 "bad value for 'change'" '[allow]\nchange = /x:0x10\nchange = /x\n'
bad_file "unknown cause" 2 "bad value for 'state-cause'" '[allow]\nstate-cause = cosmic-ray\n'
bad_file "not INI" 2 "not a \\[section\\]" '[check]\nperiod\n'
bad_file "outside a section" 1 "'period' outside a section" 'period = 5\n'
# inih drops what follows a header's ']': a setting there, or a file of old Mac line ends, would go unread.
bad_file "a setting after a header" 2 "text after \\[allow\\]" '[check]\n[allow] process = nginx\n'
bad_file "carriage returns only" 1 "text after \\[check\\]" '[check]\rperiod = 5\r'
bad_file "given twice" 3 "'period' is given twice" '[check]\nperiod = 5\nperiod = 6\n'
# A NUL byte would end the line for the INI reader, and what follows it would be read as a line of its own.
bad_file "a NUL byte" 2 "a NUL byte in the line" '[output]\n# comment\0json = yes\n'
bad_file "too many modules" 1026 "more than 1024 'module' globs" "[allow]\n$(printf 'module = /x*\\n%.0s' $(seq 1025))"
for bad in /dev/zero "$TMP"; do
    run verify --config "$bad" "$kept"
    if [ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -qF "$bad" "$TMP/err"; then
        pass "--config $bad: one line naming it, exit 2"
    else
        fail "--config $bad: one line naming it, exit 2" "$(show_run)"
    fi
done
# Lines ended by "\r\n" are read as lines ended by "\n"; 198 characters are allowed before either.
# The target's one change (override, above) is reported (exit 5), and the file's json = yes, not a flag,
# gives JSON lines.
printf '[check]\r\n# %s\r\nalgo = xxh3\r\n[output]\r\njson = yes\r\n' "$(printf 'x%.0s' $(seq 196))" >"$conf"
run verify --config "$conf" "$kept"
if [ "$rc" -eq 5 ] && [ ! -s "$TMP/err" ] && json_check "$TMP/out" '
assert len(alerts) == 1 and alerts[0]["process.pid"] == int(args[0]), alerts
assert alerts[0]["procsum.file_offset"] == int(args[1]) and alerts[0]["procsum.verdict"] == "bitflip", alerts
assert len(states) == 1 and states[0]["procsum.status"] == "changed", states
' "$kept" "$(spare_offset "$TMP/kept")"; then
    pass "CRLF lines, one of 198 characters: read"
else
    fail "CRLF lines, one of 198 characters: read" "$(show_run)"
fi
run verify --config "$TMP/missing.conf" "$kept"
if [ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -qF "$TMP/missing.conf" "$TMP/err"; then
    pass "a missing --config file: one line naming it, exit 2"
else
    fail "a missing --config file" "$(show_run)"
fi
run verify --config "$conf" --no-config "$kept"
if [ "$rc" -eq 2 ]; then pass "--config with --no-config: exit 2"; else fail "--config with --no-config: exit 2" "$(show_run)"; fi
run regions --config "$conf"
if [ "$rc" -eq 2 ]; then pass "regions takes no --config"; else fail "regions --config: exit 2" "$(show_run)"; fi
# A named pipe as the configuration: nobody writing to it, it reads as empty (no wait for a writer);
# written to (a shell's <(...)), it is read whole.
mkfifo "$TMP/fifo.conf"
timeout 60 "$PROCSUM" verify --config "$TMP/fifo.conf" --json "$pid" >"$TMP/out" 2>"$TMP/err"
rc=$?
# (exit 5: the target's two pages were changed on purpose above, and nothing in an empty configuration allows them)
if [ "$rc" -eq 5 ] && [ ! -s "$TMP/err" ] && json_check "$TMP/out" '
assert sorted(a["procsum.file_offset"] for a in alerts) == sorted([int(args[0]), int(args[1])]), alerts
' "$first" "$second"; then
    pass "a pipe nobody writes to: read as empty, no wait, both changes reported"
else
    fail "a pipe nobody writes to" "$(show_run)"
fi
timeout 60 "$PROCSUM" verify --config <(printf '[check]\nperiod = 0\n') "$pid" >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q "bad value for 'period'" "$TMP/err"; then
    pass "a pipe written to: read whole (its bad period refused)"
else
    fail "a pipe written to: read whole" "$(show_run)"
fi

finish
