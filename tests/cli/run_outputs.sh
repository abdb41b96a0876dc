#!/usr/bin/env bash
# procsum run with several outputs at once, read back by the real tools: a
# program run under it flips one bit of its own code; the change reaches a
# real systemd-journald (read back with journalctl -o json: PROCSUM_VERDICT
# bitflip, OBJECT_PID the program's), a Prometheus textfile that promtool
# accepts (procsum_changes_total{cause="write"} 1, procsum_processes),
# a JSON lines file and standard output (--json), each exactly once; the
# exit status is the program's. A tree of processes (a shell that runs the
# program twice, one after the other) counts both changes in the one
# textfile.
#
# The journal is private (journald_lib.sh): the host's journal sees nothing.
. "$(dirname -- "${BASH_SOURCE[0]}")/journald_lib.sh"
private_journal_namespace "$0" "$@"
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
need_python
if [ -z "${PSUM_RUN_TARGET:-}" ]; then
    echo "PSUM_RUN_TARGET must name the test program" >&2
    exit 2
fi

if ! have promtool; then
    fail "promtool is needed (Debian: prometheus)"
    finish
fi
private_journal_dirs || finish
start_private_journald || finish

# count FILE PYTHON_CONDITION: how many JSON lines of FILE (as `l`) satisfy it.
count() {
    python3 - "$1" "$2" <<'EOF_PY'
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    l = json.loads(line)
    n += bool(eval(sys.argv[2]))
print(n)
EOF_PY
}
sample() {
    awk -v key="$2" '$1 == key { print $2 }' "$1"
}
BITFLIP='l.get("event.kind") == "alert" and l["procsum.verdict"] == "bitflip" and l["process.executable"].endswith("run_target")'

f="$TMP/flip.json"
prom="$TMP/procsum.prom"
# The program exits once the JSON file holds the report; a second of passes after it keeps the metrics current.
run run --journal --json --json-file "$f" --prometheus "$prom" --period 100 -- \
    sh -c '"$1" "$2" && sleep 1' sh "$PSUM_RUN_TARGET" "$f"
if [ "$rc" -eq 0 ]; then pass "exit status 0: the program saw its report"; else fail "exit status 0" "$(show_run)"; fi
[ "$(count "$f" "$BITFLIP")" = 1 ] && pass "json-file: one bitflip alert" || fail "json-file: one bitflip alert" "$(cat "$f")"
[ "$(count "$TMP/out" "$BITFLIP")" = 1 ] && pass "--json: the same alert on standard output" ||
    fail "--json: the same alert on standard output" "$(show_run)"
pid=$(python3 -c 'import json, sys
print(next(l["process.pid"] for l in map(json.loads, open(sys.argv[1])) if l.get("event.kind") == "alert"))' "$f")

ok=
for _ in $(seq 200); do
    journalctl -o json --identifier procsum >"$TMP/journal" 2>"$TMP/journal.err"
    [ "$(count "$TMP/journal" "l.get('PROCSUM_VERDICT') == 'bitflip' and l['OBJECT_PID'] == '$pid'")" = 1 ] && ok=1 && break
    sleep 0.05
done
if [ -n "$ok" ]; then
    pass "journal: one entry, PROCSUM_VERDICT=bitflip, OBJECT_PID the program's"
else
    fail "journal: one entry with PROCSUM_VERDICT=bitflip" "$(cat "$TMP/journal" "$TMP/journal.err" | head -c 2000)"
fi

if [ "$(sample "$prom" 'procsum_changes_total{cause="write"}')" = 1 ]; then
    pass "textfile: procsum_changes_total{cause=\"write\"} 1"
else
    fail "textfile: procsum_changes_total{cause=\"write\"} 1" "$(cat "$prom" 2>&1)"
fi
passes=$(sample "$prom" procsum_passes_total)
if [ -n "$passes" ] && [ "$passes" -gt 0 ]; then pass "textfile: passes counted ($passes)"; else fail "textfile: passes counted" "$(cat "$prom" 2>&1)"; fi
if promtool check metrics <"$prom" >"$TMP/promtool.out" 2>&1; then
    pass "textfile: promtool check metrics accepts it"
else
    fail "textfile: promtool check metrics accepts it" "$(cat "$TMP/promtool.out")"
fi

# A forked child that never execs (a worker, a subshell) is counted: its checker's passes and the
# process. The subshell spins on builtins for 2 s while the shell waits; the textfile is read meanwhile.
prom3="$TMP/forked.prom"
"$PROCSUM" run --prometheus "$prom3" --period 100 -- \
    bash -c 'sleep 0.3; ( end=$((SECONDS + 3)); while [ "$SECONDS" -lt "$end" ]; do :; done ); sleep 0.3' \
    >"$TMP/out3" 2>"$TMP/err3" &
runner=$!
most=0
for _ in $(seq 60); do
    n=$(sample "$prom3" procsum_processes 2>/dev/null)
    [ -n "$n" ] && [ "$n" -gt "$most" ] && most=$n
    sleep 0.1
done
wait "$runner"
rc=$?
if [ "$rc" -eq 0 ] && [ "$most" -ge 2 ] && [ "$(sample "$prom3" procsum_processes)" = 0 ]; then
    pass "a forked child that never execs is counted: procsum_processes reached $most, 0 once all ended"
else
    fail "a forked child that never execs is counted: procsum_processes reached $most (2 expected)" \
        "rc $rc $(cat "$TMP/err3")" "$(cat "$prom3" 2>&1)"
fi

# Two processes, one after the other, each changing its code: one file counts both.
f2="$TMP/two.json"
prom2="$TMP/two.prom"
run run --prometheus "$prom2" --json-file "$f2" --period 100 -- \
    sh -c '"$1" "$2" && "$1" "$2" 2 && sleep 1' sh "$PSUM_RUN_TARGET" "$f2"
if [ "$rc" -eq 0 ] && [ "$(sample "$prom2" 'procsum_changes_total{cause="write"}')" = 2 ]; then
    pass "two processes: procsum_changes_total{cause=\"write\"} 2 in one file"
else
    fail "two processes: procsum_changes_total{cause=\"write\"} 2" "$(show_run)" "$(cat "$prom2" 2>&1)"
fi
finish
