#!/usr/bin/env bash
# procsum run: a program run under it (and a program that one runs, through
# exec) reports a bit flipped in its own code to --json-file, as a bitflip
# alert; CMD's exit status comes back (128+N after signal N); a program's
# standard output and error hold exactly what it wrote; a refused PROCSUM_*
# setting (a bad number, an empty PROCSUM_SKIP_FILES glob) is reported to
# the chosen output and the program runs on; a static
# program is watched from outside, and run says so.
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
need_python
if [ -z "${PSUM_RUN_TARGET:-}" ] || [ -z "${PSUM_PRELOAD_LIB:-}" ]; then
    echo "PSUM_RUN_TARGET and PSUM_PRELOAD_LIB must name the test program and the preload library" >&2
    exit 2
fi

BITFLIP='l["event.kind"] == "alert" and l["procsum.verdict"] == "bitflip" and l["process.executable"].endswith("run_target")'

run run -- sh -c 'exit 7'
if [ "$rc" -eq 7 ]; then pass "exit status passed through"; else fail "exit status passed through" "$(show_run)"; fi
run run -- sh -c 'kill -TERM $$'
if [ "$rc" -eq 143 ]; then pass "killed by SIGTERM: 128+15"; else fail "killed by SIGTERM: 128+15" "$(show_run)"; fi
run run -- "$TMP/no-such-program"
if [ "$rc" -eq 127 ] && grep -q "cannot run" "$TMP/err"; then pass "missing program: 127"; else fail "missing program: 127" "$(show_run)"; fi
run run --period 0 -- sh -c 'echo ran'
if [ "$rc" -eq 2 ] && [ ! -s "$TMP/out" ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "^procsum: --period: '0' is not" "$TMP/err"; then
    pass "--period 0 refused: one line naming it, exit 2, CMD not run"
else
    fail "--period 0 refused: one line naming it, exit 2, CMD not run" "$(show_run)"
fi
# No directory for the socket: the reason as the system gives it, exit 1, CMD not run.
TMPDIR="$TMP/no-such-dir" run run -- sh -c 'echo ran'
if [ "$rc" -eq 1 ] && grep -q "No such file or directory" "$TMP/err" && ! grep -q ran "$TMP/out"; then
    pass "TMPDIR missing: exit 1, said"
else
    fail "TMPDIR missing: exit 1, said" "$(show_run)"
fi
# A run killed by SIGKILL cannot remove its socket's directory: the next run of the same user removes it
# once its socket is ten seconds old (a younger one may be a run that is starting), and leaves a live run's
# directory alone.
dirs="$TMP/rundirs"
mkdir "$dirs"
# run_dirs: how many socket directories there are in $dirs.
run_dirs() { find "$dirs" -mindepth 1 -maxdepth 1 -name 'procsum-run.*' | wc -l; }
TMPDIR="$dirs" "$PROCSUM" run -- sh -c "echo \$\$ >'$dirs/killed_child'; exec sleep 60" >/dev/null 2>&1 &
killed=$!
for _ in $(seq 200); do [ -s "$dirs/killed_child" ] && break; sleep 0.05; done
kill -KILL "$killed"
wait "$killed" 2>/dev/null
kill "$(cat "$dirs/killed_child")" 2>/dev/null
left=$(run_dirs)
TMPDIR="$dirs" "$PROCSUM" run -- true >/dev/null 2>&1
young_kept=$(run_dirs)
touch -d '1 minute ago' "$dirs"/procsum-run.*/events
TMPDIR="$dirs" "$PROCSUM" run -- sh -c "echo \$\$ >'$dirs/live_child'; exec sleep 60" >/dev/null 2>&1 &
live=$!
for _ in $(seq 200); do [ -s "$dirs/live_child" ] && break; sleep 0.05; done
after_live=$(run_dirs)
TMPDIR="$dirs" run run -- true
beside_live=$(run_dirs)
kill "$(cat "$dirs/live_child")" 2>/dev/null
wait "$live" 2>/dev/null
if [ "$left" -eq 1 ] && [ "$young_kept" -eq 1 ] && [ "$after_live" -eq 1 ] && [ "$beside_live" -eq 1 ] && [ "$rc" -eq 0 ] && [ "$(run_dirs)" -eq 0 ]; then
    pass "a killed run's directory is removed by the next run, a live run's kept"
else
    fail "a killed run's directory is removed by the next run, a live run's kept" \
        "left by SIGKILL: $left; its socket young: $young_kept; with a live run: $after_live; beside it: $beside_live; at the end: $(run_dirs)" "$(show_run)"
fi
# A process of the tree that sends a forged event (pid 1, another host): written under the pid the
# kernel gives for the sender and this host's name.
run run --json -- "$PSUM_WIRE_FORGE"
forger=$(grep -E '^[0-9]+$' "$TMP/out" || true)
grep '^{' "$TMP/out" >"$TMP/forged.json" || true
if [ "$rc" -eq 0 ] && [ -n "$forger" ] && python3 - "$TMP/forged.json" "${forger:-0}" "$(hostname)" <<'EOF_PY'; then
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
forged = [l for l in lines if l.get("process.executable") == "/forged/program"]
sys.exit(0 if len(forged) == 1 and forged[0]["process.pid"] == int(sys.argv[2]) and forged[0]["host.name"] == sys.argv[3] else 1)
EOF_PY
    pass "a forged event: the sender's pid and this host"
else
    fail "a forged event: the sender's pid and this host" "$(show_run)"
fi
# Checked from outside, a process of the tree has no checker of its own: an alert or pass counts it sends are
# forgeries about itself, and are dropped.
run run --json -- "$PSUM_WIRE_FORGE" alert
if [ "$rc" -eq 0 ] && ! grep -q forged/program "$TMP/out"; then
    pass "a forged alert from a process checked from outside is dropped"
else
    fail "a forged alert from a process checked from outside is dropped" "$(show_run)"
fi
run run --prometheus "$TMP/forged-outside.prom" -- "$PSUM_WIRE_FORGE" pass
bytes=$(awk '$1 == "procsum_bytes_hashed_total" {print $2}' "$TMP/forged-outside.prom" 2>/dev/null)
if [ "$rc" -eq 0 ] && [ -n "$bytes" ] && [ "${#bytes}" -lt 15 ]; then
    pass "forged pass counts from a process checked from outside are dropped ($bytes bytes)"
else
    fail "forged pass counts from a process checked from outside are dropped" "bytes: '$bytes'" "$(show_run)"
fi
# With --inside the counts are the processes' own; two that add past 2^64 stop at the top, never go back.
run run --inside --prometheus "$TMP/forged-inside.prom" -- "$PSUM_WIRE_FORGE" pass
if [ "$rc" -eq 0 ] && grep -qx 'procsum_bytes_hashed_total 18446744073709551615' "$TMP/forged-inside.prom" &&
    grep -qx 'procsum_passes_total 18446744073709551615' "$TMP/forged-inside.prom"; then
    pass "--inside: pass counts that would wrap stop at the top"
else
    fail "--inside: pass counts that would wrap stop at the top" "$(grep -E '_total ' "$TMP/forged-inside.prom" 2>&1)" "$(show_run)"
fi
# A preload library that is not there: said at once, exit 1, CMD not run (not a loader error in every process).
PROCSUM_PRELOAD="$TMP/no-such-lib.so" run run -- sh -c 'echo ran'
if [ "$rc" -eq 1 ] && grep -q "^procsum: the preload library .*no-such-lib.so.*: No such file" "$TMP/err" && ! grep -q ran "$TMP/out"; then
    pass "PROCSUM_PRELOAD missing: exit 1, said"
else
    fail "PROCSUM_PRELOAD missing: exit 1, said" "$(show_run)"
fi
# One the loader cannot take: a directory, a file that is not a library, a path the loader would split at a
# space or a colon. Each would be skipped by the loader with a warning in every process, unchecked.
mkdir -p "$TMP/pre dir" "$TMP/pre:dir"
cp "$PSUM_PRELOAD_LIB" "$TMP/pre dir/lib.so"
cp "$PSUM_PRELOAD_LIB" "$TMP/pre:dir/lib.so"
printf 'not a library\n' >"$TMP/text.so"
for lib in "$TMP" "$TMP/text.so" "$TMP/pre dir/lib.so" "$TMP/pre:dir/lib.so"; do
    PROCSUM_PRELOAD="$lib" run run --inside -- sh -c 'echo ran'
    if [ "$rc" -eq 1 ] && grep -q "^procsum: the preload library " "$TMP/err" && ! grep -q ran "$TMP/out" &&
        ! grep -q "ld.so" "$TMP/err"; then
        pass "PROCSUM_PRELOAD the loader cannot take ($lib): exit 1, said"
    else
        fail "PROCSUM_PRELOAD the loader cannot take ($lib): exit 1, said" "$(show_run)"
    fi
done

# Its own output, and nothing else: with a JSON file, and with reports to stderr (there is nothing to report).
# The sleep lets the checker start in the shell.
for out in "--json-file $TMP/quiet.json" ""; do
    # shellcheck disable=SC2086
    run run $out -- sh -c 'printf out; printf err >&2; sleep 0.5'
    if [ "$rc" -eq 0 ] && [ "$(cat "$TMP/out")" = out ] && [ "$(cat "$TMP/err")" = err ]; then
        pass "stdout and stderr untouched (${out:-reports to stderr})"
    else
        fail "stdout and stderr untouched (${out:-reports to stderr})" "$(show_run)"
    fi
done

f="$TMP/flip.json"
run run --json-file "$f" --period 100 -- "$PSUM_RUN_TARGET" "$f"
if [ "$rc" -eq 0 ] && has_line "$f" "$BITFLIP"; then
    pass "a flipped bit is reported as bitflip"
else
    fail "a flipped bit is reported as bitflip" "$(show_run)" "$(cat "$f" 2>/dev/null | head -c 600)"
fi
if [ ! -s "$TMP/out" ] && [ ! -s "$TMP/err" ]; then pass "nothing written to the program's streams"; else fail "nothing written to the program's streams" "$(show_run)"; fi
# The preload library's lines name the function (run_target.c flips byte 4 of run_spare) and its instructions.
if has_line "$f" "$BITFLIP and l.get(\"procsum.symbol\") == \"run_spare+0x4\" and l.get(\"procsum.old_insn\") and l.get(\"procsum.new_insn\")"; then
    pass "the preload library's line names the function and its instructions"
else
    fail "the preload library's line names the function and its instructions" "$(cat "$f" 2>/dev/null | head -c 1200)"
fi

# No descriptor of run's outputs reaches CMD: a program of the tree cannot write reports.
run run --json-file "$TMP/fds.json" -- sh -c 'ls -l /proc/$$/fd'
if [ "$rc" -eq 0 ] && grep -q ' 0 -> ' "$TMP/out" && ! grep -q 'fds.json' "$TMP/out"; then
    pass "the JSON file's descriptor is not inherited by CMD"
else
    fail "the JSON file's descriptor is not inherited by CMD" "$(show_run)"
fi

# Under a low limit of open files (hard too), run raises its own where it may (CMD keeps the low one),
# or says on stderr that processes past the limit go unwatched.
(ulimit -n 64 && exec "$PROCSUM" run --json-file "$TMP/ulimit.json" -- sh -c 'sleep 0.5; grep "open files" /proc/$PPID/limits; ulimit -n') \
    >"$TMP/out" 2>"$TMP/err"
rc=$?
run_soft=$(awk '{ print $4 }' "$TMP/out" | head -n 1)
if [ "$rc" -eq 0 ] && [ "$(tail -n 1 "$TMP/out")" = 64 ] &&
    { [ "$run_soft" -ge 65536 ] || grep -q "only 64 open files allowed" "$TMP/err"; }; then
    pass "a low limit of open files: raised for run only, or said"
else
    fail "a low limit of open files: raised for run only, or said" "$(show_run)"
fi

# Inherited through exec: the target is a child of the shell, which runs it.
f="$TMP/child.json"
run run --json-file "$f" --period 100 -- sh -c '"$1" "$2"; exit $?' sh "$PSUM_RUN_TARGET" "$f"
if [ "$rc" -eq 0 ] && has_line "$f" "$BITFLIP"; then
    pass "a program started by CMD is checked too"
else
    fail "a program started by CMD is checked too" "$(show_run)" "$(cat "$f" 2>/dev/null | head -c 600)"
fi

# A child that never execs: forked before the delay is over, its parent gone at once (a daemon), and
# forked once the checker runs (follow_fork), the parent waiting. The preload library alone, with a
# JSON file: the daemon outlives anything `procsum run` would wait for.
for how in --daemon --fork-late; do
    f="$TMP/fork$how.json"
    LD_PRELOAD="$PSUM_PRELOAD_LIB" PROCSUM_JSON_FILE="$f" PROCSUM_PERIOD_MS=100 "$PSUM_RUN_TARGET" "$how" "$f" \
        >"$TMP/out" 2>"$TMP/err"
    rc=$?
    for _ in $(seq 300); do
        has_line "$f" "$BITFLIP" 2>/dev/null && break
        sleep 0.1
    done
    if [ "$rc" -eq 0 ] && has_line "$f" "$BITFLIP"; then
        pass "a forked child that never execs is checked ($how)"
    else
        fail "a forked child that never execs is checked ($how)" "rc $rc $(cat "$TMP/err")" \
            "$(cat "$f" 2>/dev/null | head -c 600)"
    fi
done

# A program that sets its own SIGURG handler while the preload library's start is armed (postgres's
# postmaster does): the handler is kept aside until the start is made, so the program is checked, reads
# its handler back and gets every SIGURG it is sent (run_target exits 3 otherwise). Alone and under run.
# The kernel's part of that delivery follows the kept handler's flags (--own-sigurg-flags): without
# SA_RESTART a read is broken, with SA_ONSTACK the handler runs on the alternate stack.
for how in --own-sigurg --own-sigurg-flags; do
    f="$TMP/own-sigurg$how.json"
    what="a program's own SIGURG handler, set during the delay, is kept and called; the program is checked"
    lazy=100
    if [ "$how" = --own-sigurg-flags ]; then
        what="a kept SIGURG handler without SA_RESTART, with SA_ONSTACK, is delivered as the kernel would"
        lazy=2000 # the read it breaks is made during the delay
    fi
    LD_PRELOAD="$PSUM_PRELOAD_LIB" PROCSUM_JSON_FILE="$f" PROCSUM_PERIOD_MS=100 PROCSUM_LAZY_MS=$lazy \
        "$PSUM_RUN_TARGET" "$how" "$f" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ "$rc" -eq 0 ] && has_line "$f" "$BITFLIP"; then
        pass "$what"
    else
        fail "$what" "rc $rc $(cat "$TMP/err")" "$(cat "$f" 2>/dev/null | head -c 600)"
    fi
done
f="$TMP/own-sigurg-run.json"
run run --json-file "$f" --period 100 -- "$PSUM_RUN_TARGET" --own-sigurg "$f"
if [ "$rc" -eq 0 ] && has_line "$f" "$BITFLIP"; then
    pass "under run, a program with its own SIGURG handler is checked and keeps it"
else
    fail "under run, a program with its own SIGURG handler is checked and keeps it" "$(show_run)" \
        "$(cat "$f" 2>/dev/null | head -c 600)"
fi
# A fork while another thread sets SIGURG's handler (procsum holds a lock for it) leaves the child free
# to set it too: the delay outlasts the forks, so the handler is kept aside all along (exit 3 otherwise).
LD_PRELOAD="$PSUM_PRELOAD_LIB" PROCSUM_OUTPUT=stderr PROCSUM_LAZY_MS=60000 "$PSUM_RUN_TARGET" --fork-while-setting \
    >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 0 ]; then
    pass "a child forked while SIGURG's handler is being set during the delay sets it too"
else
    fail "a child forked while SIGURG's handler is being set during the delay sets it too" "rc $rc $(cat "$TMP/err")"
fi

# Once the start is made procsum's handler is gone, under run too (nothing releases it there but the
# start), and in a child forked during the delay (its timer stayed in the parent): SIGURG ignored after
# it is ignored by the kernel, and breaks no sleep (run_target exits 3).
for how in --ignore-sigurg-late --fork-ignore-sigurg-late; do
    f="$TMP/$how.json"
    what="under run, SIGURG ignored once the start is made breaks no sleep"
    [ "$how" = --ignore-sigurg-late ] ||
        what="under run, SIGURG ignored in a child forked during the delay breaks no sleep"
    run run --json-file "$f" --period 100 -- "$PSUM_RUN_TARGET" "$how" "$f"
    if [ "$rc" -eq 0 ] && has_line "$f" "$BITFLIP"; then
        pass "$what"
    else
        fail "$what" "$(show_run)" "$(cat "$f" 2>/dev/null | head -c 600)"
    fi
done

# A program that closes every descriptor and opens files under their numbers (a daemon starting):
# its checker's descriptors are gone, and no file of the program's is taken for them.
f="$TMP/close-fds.json"
LD_PRELOAD="$PSUM_PRELOAD_LIB" PROCSUM_JSON_FILE="$f" PROCSUM_PERIOD_MS=100 "$PSUM_RUN_TARGET" --close-fds "$f" \
    >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 0 ] && has_line "$f" "$BITFLIP"; then
    pass "a program that closes every descriptor and opens others is checked (preload library)"
else
    fail "a program that closes every descriptor and opens others is checked (preload library)" \
        "rc $rc $(cat "$TMP/err")" "$(cat "$f" 2>/dev/null | head -c 600)"
fi

# A process whose first thread has ended (pthread_exit in main) runs on: its own checker (the preload
# library alone) and run's from outside still read its code.
f="$TMP/leaderless.json"
LD_PRELOAD="$PSUM_PRELOAD_LIB" PROCSUM_JSON_FILE="$f" PROCSUM_PERIOD_MS=100 "$PSUM_RUN_TARGET" --leaderless "$f" \
    >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 0 ] && has_line "$f" "$BITFLIP"; then
    pass "a process without its first thread is checked (preload library)"
else
    fail "a process without its first thread is checked (preload library)" "rc $rc $(cat "$TMP/err")" \
        "$(cat "$f" 2>/dev/null | head -c 600)"
fi
f="$TMP/leaderless-run.json"
run run --json-file "$f" --period 100 -- "$PSUM_RUN_TARGET" --leaderless "$f"
if [ "$rc" -eq 0 ] && has_line "$f" "$BITFLIP"; then
    pass "a process without its first thread is checked (run, from outside)"
else
    fail "a process without its first thread is checked (run, from outside)" "$(show_run)" \
        "$(cat "$f" 2>/dev/null | head -c 600)"
fi

# Until its delay is over a process has no thread of procsum's: a shell's forked children count
# their own threads at once (builtins only, no exec), before and after the shell's checker started,
# and a child that lives past the delay has its checker. A child's delay counts from its fork: the
# delay is long enough (300 ms) for a child on a busy machine to count its threads before its own
# delay is over.
f="$TMP/threads.json"
counts=$(LD_PRELOAD="$PSUM_PRELOAD_LIB" PROCSUM_JSON_FILE="$f" PROCSUM_LAZY_MS=300 bash -c '
t() { local k v; while read -r k v; do [ "$k" = Threads: ] && echo "$1 $v"; done <"/proc/$BASHPID/status"; }
t shell-at-start
for i in 1 2 3 4 5; do ( t child-early ); done
sleep 1.5
t shell-later
for i in $(seq 30); do ( t child-late ); done
( sleep 1.5; t child-lived )' 2>&1)
if [ "$(grep -c '^shell-at-start 1$' <<<"$counts")" = 1 ] && [ "$(grep -c '^child-early 1$' <<<"$counts")" = 5 ] &&
    [ "$(grep -c '^child-late 1$' <<<"$counts")" = 30 ] && grep -Eq '^shell-later [2-9]$' <<<"$counts" &&
    grep -Eq '^child-lived [2-9]$' <<<"$counts"; then
    pass "no thread before the delay, in a process or a forked child; a thread once it is over"
else
    fail "no thread before the delay, in a process or a forked child; a thread once it is over" \
        "$(sort <<<"$counts" | uniq -c)"
fi

# Checked from outside, run's default: a shell and a child it forks (no exec), both past the delay,
# keep one thread each and map nothing of procsum's; with --inside they run their own checkers.
# The children count their threads once their delay (300 ms) is over, and their checker had time.
for mode in outside inside; do
    opt=""
    [ "$mode" = inside ] && opt=--inside
    # shellcheck disable=SC2086
    counts=$(PROCSUM_LAZY_MS=300 "$PROCSUM" run $opt --json-file "$TMP/$mode.json" -- bash -c '
t() { local k v n; while read -r k v; do [ "$k" = Threads: ] && n=$v; done <"/proc/$BASHPID/status"
      grep -q "libprocsum\.so" "/proc/$BASHPID/maps" && echo "$1 $n procsum" || echo "$1 $n"; }
sleep 1.5
t shell
( sleep 1.5; t child )' 2>&1)
    if [ "$mode" = outside ]; then
        want='^shell 1$' want_child='^child 1$'
    else
        want='^shell [2-9] procsum$' want_child='^child [2-9] procsum$'
    fi
    if grep -Eq "$want" <<<"$counts" && grep -Eq "$want_child" <<<"$counts"; then
        if [ "$mode" = outside ]; then
            pass "outside: the shell and its forked child keep one thread and map nothing of procsum's"
        else
            pass "--inside: the shell and its forked child run checkers of their own"
        fi
    else
        fail "$mode: the threads and mappings of the shell and its child" "$counts"
    fi
done

# From outside, a bit written into a program's code through /proc/PID/mem is found and reported
# with the program's pid, as code-changed once run's checker has taken its first look (run then
# holds the program's /proc files open); and a child forked late (no exec) that flips its own code.
. "$TESTS/cli/outside_lib.sh"
# run_checked FILE PROG [OPTIONS...]: procsum run with JSON lines to FILE, in the background, of PROG for 20 s;
# sets run_pid, and target once run has taken its first look at PROG (it holds the program's /proc files then).
run_checked() {
    local file=$1 program=$2
    shift 2
    "$PROCSUM" run "$@" --json-file "$file" --period 100 -- "$program" 20000 >"$TMP/out" 2>"$TMP/err" &
    run_pid=$!
    started_pids+=("$run_pid")
    target=""
    for _ in $(seq 300); do
        target=$(pgrep -P "$run_pid" -f "$program" | head -n 1)
        [ -n "$target" ] && ls -l "/proc/$run_pid/fd" 2>/dev/null | grep -q "/proc/$target/" && break
        sleep 0.1
    done
    started_pids+=("$target")
}
prog="$TMP/outside_prog"
cp -- "$PSUM_OUTSIDE_TARGET" "$prog"
f="$TMP/outside.json"
run_checked "$f" "$prog"
flip_at "$target" "$prog" "$(spare_offset "$prog")" 3 >/dev/null
found=""
for _ in $(seq 300); do
    has_line "$f" "l[\"event.action\"] == \"code-changed\" and l[\"process.pid\"] == $target and l[\"procsum.verdict\"] == \"bitflip\"" 2>/dev/null && found=1 && break
    sleep 0.1
done
if [ -n "$found" ] && [ "$(grep -c . "$f")" = 1 ]; then
    pass "outside: a bit written through /proc/PID/mem is reported once, code-changed, with the program's pid"
else
    fail "outside: a bit written through /proc/PID/mem is reported" "target ${target:-none}" "$(cat "$TMP/err")" \
        "$(head -c 1200 "$f" 2>/dev/null)"
fi
kill -KILL "$target" 2>/dev/null
wait "$run_pid"
rc=$?
if [ "$rc" -eq 137 ]; then pass "outside: CMD's status (128+9)"; else fail "outside: CMD's status (128+9)" "rc $rc"; fi

# A process that made itself not dumpable cannot be read from outside by another user's run: it is
# reported not-watched (permission denied); with --inside it checks itself, and nothing is refused.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    chmod 755 "$TMP"
    # Not dumpable from the start, and after an exec of a process already checked.
    undumpable='import ctypes, time; ctypes.CDLL(None).prctl(4, 0, 0, 0, 0); time.sleep(1)'
    for opt in "" --inside late; do
        cmd=(/usr/bin/python3 -c "$undumpable")
        [ "$opt" = late ] && cmd=(bash -c 'sleep 0.5; exec "$@"' sh "${cmd[@]}") && opt=""
        # shellcheck disable=SC2086
        setpriv --reuid=65534 --regid=65534 --clear-groups "$PROCSUM" run --json --period 100 $opt -- "${cmd[@]}" \
            >"$TMP/out" 2>"$TMP/err"
        rc=$?
        refused=$(grep -c '"error.code":"PROCSUM_EACCES"' "$TMP/out")
        want=1 what="not-watched, permission denied"
        [ -n "$opt" ] && want=0 what="not refused (a checker of its own)"
        name="a process not dumpable ($(basename "${cmd[0]}")), another user's run${opt:+ $opt}: $what"
        if [ "$rc" -eq 0 ] && [ "$refused" = "$want" ]; then pass "$name"; else fail "$name" "$(show_run)"; fi
    done
    # A process of the tree that became another user (a server's worker after setuid) reaches root's run
    # too: with --inside its own checker's bitflip is written (the target waits for it, 30 s at most).
    setpriv_cmd=(setpriv --reuid=65534 --regid=65534 --clear-groups "$PSUM_RUN_TARGET" "$TMP/other-user.json")
    run run --inside --json-file "$TMP/other-user.json" --period 100 -- "${setpriv_cmd[@]}"
    if [ "$rc" -eq 0 ] && has_line "$TMP/other-user.json" "$BITFLIP"; then
        pass "--inside: a process of the tree that runs as another user reports its change"
    else
        fail "--inside: a process of the tree that runs as another user reports its change" "$(show_run)" \
            "$(cat "$TMP/other-user.json" 2>&1)"
    fi
    # ... but another user's process outside the tree that finds the socket is not heard.
    "$PROCSUM" run --inside --json -- bash -c 'echo "$PROCSUM_OUTPUT" >"$1"; sleep 3' sh "$TMP/socket-name" \
        >"$TMP/stranger.out" 2>&1 &
    run_pid=$!
    for _ in $(seq 100); do [ -s "$TMP/socket-name" ] && break; sleep 0.05; done
    PROCSUM_OUTPUT=$(cat "$TMP/socket-name") setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$PSUM_WIRE_FORGE" alert >"$TMP/stranger.pid" 2>&1
    sent=$?
    wait "$run_pid"
    if [ "$sent" -eq 0 ] && ! grep -q forged/program "$TMP/stranger.out"; then
        pass "--inside: another user's alert from outside the tree is dropped"
    else
        fail "--inside: another user's alert from outside the tree is dropped" "sent $sent" \
            "$(cat "$TMP/stranger.pid" "$TMP/stranger.out")"
    fi
else
    fail "not dumpable, another user's: needs root and setpriv (CI runs as root)"
fi

# Processes that never ask, found by run's walk of its tree (the kernel's children lists; or, where the
# kernel does not list them, /proc): a child forked once its parent is checked, which never execs and
# writes nothing of procsum's in the fork; and an orphan, forked at once (before its parent could ask)
# by a parent that ends at once, which run as the tree's subreaper adopts instead of init, and reaps
# when it ends (CMD lives on until the report is in and the orphan reaped, so that run is still there).
for what in "a child forked late that never execs" "an orphan whose parent never asked"; do
    for how in children proc; do
        f="$TMP/unasked-${what%% *}-$how.json"
        cmd=("$PSUM_RUN_TARGET" --fork-late "$f")
        # The orphan ends once its report is in; run reaps it: then CMD is run's only child.
        [ "$what" = "${what#an orphan}" ] || cmd=(bash -c '"$1" --daemon "$2"
            for _ in $(seq 300); do grep -q "\"bitflip\"" "$2" && break; sleep 0.1; done
            for _ in $(seq 100); do [ "$(cat /proc/$PPID/task/*/children)" = "$$ " ] && exit 0; sleep 0.1; done
            echo "run still has children: $(cat /proc/$PPID/task/*/children)" >&2; exit 1' sh "$PSUM_RUN_TARGET" "$f")
        if [ "$how" = proc ]; then export PROCSUM_NO_PROC_CHILDREN=1; fi
        run run --json-file "$f" --period 100 -- "${cmd[@]}"
        unset PROCSUM_NO_PROC_CHILDREN
        if [ "$rc" -eq 0 ] && has_line "$f" "$BITFLIP"; then
            pass "outside: $what is found ($how) and checked"
        else
            fail "outside: $what is found ($how) and checked" "$(show_run)" "$(head -c 600 "$f" 2>/dev/null)"
        fi
    done
done

# A refused setting: reported to the chosen output, and the program runs on.
f="$TMP/bad.json"
out=$(LD_PRELOAD="$PSUM_PRELOAD_LIB" PROCSUM_JSON_FILE="$f" PROCSUM_PERIOD_MS=12x sh -c 'echo runs on' 2>&1)
if [ "$out" = "runs on" ] &&
    has_line "$f" 'l["event.action"] == "not-watched" and "PROCSUM_PERIOD_MS" in l["error.message"] and l["error.code"] == "PROCSUM_EINVAL"'; then
    pass "a refused setting is reported, the program runs on"
else
    fail "a refused setting is reported, the program runs on" "output: $out" "$(cat "$f" 2>/dev/null | head -c 600)"
fi
# A named pipe nobody reads as the JSON file: the line of a refused setting,
# written from the program's constructor, is lost; the program runs on
# rather than wait in open() for a reader that never comes.
mkfifo "$TMP/unread.fifo"
out=$(timeout -s KILL 20 env LD_PRELOAD="$PSUM_PRELOAD_LIB" PROCSUM_JSON_FILE="$TMP/unread.fifo" PROCSUM_PERIOD_MS=12x \
    sh -c 'echo runs on' 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && [ "$out" = "runs on" ]; then
    pass "a JSON file that is a pipe nobody reads does not hold the program"
else
    fail "a JSON file that is a pipe nobody reads does not hold the program" "exit $rc, output: $out"
fi
# A file that fills up in the middle of a line (a 1 KiB file size limit, as
# a full disk does) keeps only whole lines: each process's line is written
# whole or taken back, and the next one is not glued to half of it.
f="$TMP/full.json"
(
    trap '' XFSZ
    ulimit -f 1
    for _ in 1 2 3 4 5 6; do
        LD_PRELOAD="$PSUM_PRELOAD_LIB" PROCSUM_JSON_FILE="$f" PROCSUM_PERIOD_MS=12x sh -c :
    done
)
if [ -s "$f" ] && [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" = '\n' ] &&
    python3 -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1])]' "$f"; then
    pass "a file that fills up keeps the preload library's lines whole ($(wc -c <"$f") bytes)"
else
    fail "a file that fills up keeps the preload library's lines whole" "ends with: $(tail -c 60 "$f" 2>/dev/null)"
fi
f="$TMP/badskip.json"
out=$(LD_PRELOAD="$PSUM_PRELOAD_LIB" PROCSUM_JSON_FILE="$f" PROCSUM_SKIP_FILES="$(printf '/a\n\n/b')" sh -c 'echo runs on' 2>&1)
if [ "$out" = "runs on" ] &&
    has_line "$f" 'l["event.action"] == "not-watched" and "PROCSUM_SKIP_FILES" in l["error.message"] and "empty" in l["error.message"] and l["error.code"] == "PROCSUM_EINVAL"'; then
    pass "an empty glob in PROCSUM_SKIP_FILES is reported, the program runs on"
else
    fail "an empty glob in PROCSUM_SKIP_FILES is reported, the program runs on" "output: $out" "$(head -c 600 "$f" 2>/dev/null)"
fi
f="$TMP/nolib.json"
out=$(LD_PRELOAD="$PSUM_PRELOAD_LIB" PROCSUM_JSON_FILE="$f" PROCSUM_LAZY_MS=0 PROCSUM_LIBRARY="$TMP/none.so" \
    sh -c 'sleep 0.3; echo runs on' 2>&1)
if [ "$out" = "runs on" ] && has_line "$f" 'l["event.action"] == "not-watched" and "none.so" in l["error.message"] and l.get("error.code") == "PROCSUM_ENOENT"'; then
    pass "a checker that cannot start is reported, the program runs on"
else
    fail "a checker that cannot start is reported, the program runs on" "output: $out" "$(cat "$f" 2>/dev/null | head -c 600)"
fi

if [ -n "${PSUM_RUN_TARGET_STATIC:-}" ]; then
    f="$TMP/static.json"
    run run --json-file "$f" --period 100 -- "$PSUM_RUN_TARGET_STATIC" "$f"
    if [ "$rc" -eq 0 ] && grep -q "statically linked" "$TMP/err" && grep -q "from outside" "$TMP/err" &&
        has_line "$f" "${BITFLIP/%run_target\")/run_target_static\")}"; then
        pass "a static program is watched from outside, and run says so"
    else
        fail "a static program is watched from outside, and run says so" "$(show_run)" "$(cat "$f" 2>/dev/null | head -c 600)"
    fi
else
    fail "no static C library: the static case was not tested (install libc6-dev's libc.a)"
fi
# An output that cannot be written from the start: CMD does not run, exit 1, the file named.
run run --no-config --prometheus "$TMP/missing/procsum.prom" -- sh -c 'echo ran'
if [ "$rc" -eq 1 ] && ! grep -q ran "$TMP/out" && grep -qF "procsum: writing output ($TMP/missing/procsum.prom)" "$TMP/err"; then
    pass "an output that cannot be written: CMD not run, exit 1, said"
else
    fail "an output that cannot be written: CMD not run, exit 1, said" "$(show_run)"
fi


# With state-cause = breakpoint, a tracer's int3 in a process run checks from outside goes out as state, and so
# does its restore when the tracer takes it out.
prog="$TMP/traced_prog"
cp -- "$PSUM_OUTSIDE_TARGET" "$prog"
f="$TMP/traced.json"
printf '[allow]\nstate-cause = breakpoint\n' >"$TMP/bp.conf"
run_checked "$f" "$prog" --config "$TMP/bp.conf"
tracer_int3 "$target" "$prog" "$(($(spare_offset "$prog") - 5))" "$f"
kinds=$(python3 -c 'import json, sys; print(" ".join(l["procsum.verdict"] + ":" + l["event.kind"] for l in map(json.loads, open(sys.argv[1]))))' "$f")
if [ "$kinds" = "patch:state restored:state" ]; then
    pass "state-cause = breakpoint under run: the breakpoint and its restore go out as state"
else
    fail "state-cause = breakpoint under run: the breakpoint and its restore go out as state" "$kinds" "$(cat "$TMP/err")"
fi
kill -KILL "$target" 2>/dev/null
wait "$run_pid" 2>/dev/null

finish
