#!/usr/bin/env bash
# procsum watch --all picks up a program started after it and reports a bit
# written into its code: once through the kernel's process events (the
# program is checked from its exec on; needs CAP_NET_ADMIN, as CI's root
# has), once with PROCSUM_NO_PROC_EVENTS set, through the scan of /proc
# each period that stands in for them. The exit of a watched process is
# reported either way. In a PID namespace of its own (a container), where
# the kernel sends no process events, it says so and scans /proc.
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname -- "${BASH_SOURCE[0]}")/outside_lib.sh"

prog="$TMP/prog"
cp -- "$PSUM_OUTSIDE_TARGET" "$prog"
offset=$(spare_offset "$prog")

# one_mode LABEL EXPECT_FALLBACK [ENV...]: a watch --all, a program started after it, a flip, its exit.
one_mode() {
    local label=$1 fallback=$2
    shift 2
    local out="$TMP/$label.out" err="$TMP/$label.err"
    # --skip-libs: each process's own program only, where the bit is written: the host's libraries would slow it down.
    env "$@" "$PROCSUM" watch --all --skip-libs --json --period 200 >"$out" 2>"$err" &
    local watch_pid=$!
    started_pids+=("$watch_pid")
    # Watching once the first scan's processes are started: this shell is one of them.
    if wait_for "$out" 'l.get("event.action") == "watching" and l.get("process.pid") == '"$$"; then
        pass "$label: the processes running at the start are watched"
    else
        fail "$label: the processes running at the start are watched" "$(tail -5 "$out"; cat "$err")"
    fi
    start_target "$prog" || fail "$label: target starts"
    local pid=$target_pid
    if wait_for "$out" 'l.get("event.action") == "watching" and l.get("process.pid") == '"$pid"; then
        pass "$label: a program started afterwards is watched"
    else
        fail "$label: a program started afterwards is watched" "$(tail -5 "$out"; cat "$err")"
    fi
    read -r old new < <(flip_at "$pid" "$prog" "$offset" 3)
    if wait_for "$out" 'l.get("event.kind") == "alert" and l.get("process.pid") == '"$pid"; then
        pass "$label: a bit written into it is reported"
    else
        fail "$label: a bit written into it is reported" "$(grep -v '"state"' "$out" | tail -5; cat "$err")"
    fi
    check "$label: the alert is the bit, at the ELF's offset, for that process only" json_check "$out" '
mine = [a for a in alerts if a["process.pid"] == int(args[0])]
assert len(mine) == 1, mine
a = mine[0]
assert a["event.action"] == "code-changed" and a["procsum.verdict"] == "bitflip", a
assert a["procsum.file_offset"] == int(args[1]) and a["procsum.old_bytes"] == args[2] and a["procsum.new_bytes"] == args[3], a
' "$pid" "$offset" "$old" "$new"
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null
    if wait_for "$out" 'l.get("event.action") == "exited" and l.get("process.pid") == '"$pid"; then
        pass "$label: its exit is reported"
    else
        fail "$label: its exit is reported" "$(tail -5 "$out"; cat "$err")"
    fi
    kill -TERM "$watch_pid"
    wait "$watch_pid"
    local rc=$?
    if [ "$rc" -eq 0 ]; then pass "$label: SIGTERM: exit 0"; else fail "$label: SIGTERM: exit 0" "exit $rc; $(cat "$err")"; fi
    if [ "$fallback" = yes ]; then
        check "$label: says that it scans /proc instead" grep -q "scanning /proc every period" "$err"
    else
        check "$label: uses the process events (no fallback said)" bash -c '! grep -q "scanning /proc" "$1"' _ "$err"
    fi
}

one_mode events no
one_mode scan yes PROCSUM_NO_PROC_EVENTS=1

# ---- a container ------------------------------------------------------------
# A program started in the namespace after the watch is watched (at the
# next scan); its pid there is written to ns.pid.
unshare -fp --mount-proc bash -c '
    procsum=$1 out=$2 err=$3 prog=$4 pidfile=$5
    "$procsum" watch --all --skip-libs --json --period 200 >"$out" 2>"$err" &
    w=$!
    for _ in $(seq 100); do grep -q watching "$out" && break; sleep 0.05; done
    "$prog" &
    t=$!
    echo "$t" >"$pidfile"
    for _ in $(seq 100); do
        python3 -c "import json, sys; sys.exit(not any(json.loads(l).get(\"process.pid\") == $t for l in open(sys.argv[1])))" "$out" && break
        sleep 0.05
    done
    kill -KILL "$t"
    kill -TERM "$w"
    wait "$w"' _ "$PROCSUM" "$TMP/ns.out" "$TMP/ns.err" "$prog" "$TMP/ns.pid"
ns_rc=$?
if [ "$ns_rc" -eq 0 ]; then pass "container: SIGTERM: exit 0"; else fail "container: SIGTERM: exit 0" "exit $ns_rc; $(cat "$TMP/ns.err")"; fi
check "container: says why it scans /proc" grep -q "first PID and user namespaces.*scanning /proc every period" "$TMP/ns.err"
check "container: a program started afterwards is watched" json_check "$TMP/ns.out" '
assert any(s.get("event.action") == "watching" and s["process.pid"] == int(args[0]) for s in states), states[-5:]
' "$(cat "$TMP/ns.pid")"
finish
