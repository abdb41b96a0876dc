#!/usr/bin/env bash
# procsum watch, on programs that do not link procsum: a bit written into a
# running program's code is reported as a change (bitflip, the ELF's file
# offset) by a watch with --period 100; a process that runs a new program
# is noted; watch ends by itself, exit 0, when every named process exited,
# and at SIGTERM or SIGINT, exit 0.
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname -- "${BASH_SOURCE[0]}")/outside_lib.sh"

prog="$TMP/prog"
start_target "$prog" || fail "target starts"
pid=$target_pid
offset=$(spare_offset "$prog")

"$PROCSUM" watch --json --period 100 "$pid" >"$TMP/watch.out" 2>"$TMP/watch.err" &
watch_pid=$!
if wait_for "$TMP/watch.out" 'l.get("event.action") == "watching" and l["procsum.status"] == "clean"'; then
    pass "watch: the process is watched, clean"
else
    fail "watch: the process is watched, clean" "$(cat "$TMP/watch.out" "$TMP/watch.err")"
fi
read -r old new < <(flip_at "$pid" "$prog" "$offset" 1)
if wait_for "$TMP/watch.out" 'l.get("event.kind") == "alert"'; then
    pass "watch: the bit is reported"
else
    fail "watch: the bit is reported" "$(cat "$TMP/watch.out" "$TMP/watch.err")"
fi
check "watch: one alert, code-changed, bitflip at the ELF's offset" json_check "$TMP/watch.out" '
assert len(alerts) == 1, alerts
a = alerts[0]
assert a["event.action"] == "code-changed" and a["process.pid"] == int(args[0]), a
assert a["procsum.verdict"] == "bitflip" and a["procsum.file_offset"] == int(args[1]), a
assert a["procsum.old_bytes"] == args[2] and a["procsum.new_bytes"] == args[3] and a["procsum.xor"] == "02", a
' "$pid" "$offset" "$old" "$new"
kill -KILL "$pid"
wait "$pid" 2>/dev/null
wait "$watch_pid"
rc=$?
if [ "$rc" -eq 0 ]; then pass "watch: ends with exit 0 when the process exited"; else fail "watch: exit 0 after the exit" "exit $rc"; fi
check "watch: the exit is reported, with how the process stood (changed), not as an error" json_check "$TMP/watch.out" '
e = states[-1]
assert e["event.action"] == "exited" and e["procsum.status"] == "changed" and "error.code" not in e, states
'

# ---- many processes, one thread ------------------------------------------------
# The checkers take turns on one thread: a watch of six processes has its
# main thread, the guard of stop requests and that one, and each process's
# change is still found.
many=()
for i in 1 2 3 4 5 6; do
    start_target "$TMP/many$i" || fail "target $i starts"
    many+=("$target_pid")
done
"$PROCSUM" watch --json --period 100 "${many[@]}" >"$TMP/many.out" 2>"$TMP/many.err" &
many_watch=$!
for p in "${many[@]}"; do
    wait_for "$TMP/many.out" "l.get('event.action') == 'watching' and l['process.pid'] == $p" ||
        fail "many: $p watched" "$(cat "$TMP/many.err")"
done
threads=$(ls "/proc/$many_watch/task" | wc -l)
if [ "$threads" -eq 3 ]; then pass "many: six processes, three threads"; else fail "many: six processes, three threads" "$threads threads"; fi
for i in 1 2 3 4 5 6; do
    flip_at "${many[$((i - 1))]}" "$TMP/many$i" "$offset" 2 >/dev/null
done
for p in "${many[@]}"; do
    wait_for "$TMP/many.out" "l.get('event.action') == 'code-changed' and l['process.pid'] == $p" ||
        fail "many: the change in $p is reported" "$(cat "$TMP/many.out" "$TMP/many.err" | tail -c 600)"
done
check "many: one alert each, at the ELF's offset" json_check "$TMP/many.out" '
pids = sorted(a["process.pid"] for a in alerts)
assert pids == sorted(int(p) for p in args[1:]), pids
assert all(a["procsum.file_offset"] == int(args[0]) and a["procsum.verdict"] == "bitflip" for a in alerts), alerts
' "$offset" "${many[@]}"
kill -TERM "$many_watch"
wait "$many_watch"
rc=$?
if [ "$rc" -eq 0 ]; then pass "many: SIGTERM, exit 0"; else fail "many: SIGTERM, exit 0" "exit $rc"; fi
kill -KILL "${many[@]}" 2>/dev/null

# ---- a new program, and SIGTERM --------------------------------------------------
# bash waits for a line, then becomes outside_target (exec): the same process, a new program.
mkfifo "$TMP/go"
bash -c 'read -r _ <"$1"; exec "$2"' execer "$TMP/go" "$prog" &
exec_pid=$!
started_pids+=("$exec_pid")
"$PROCSUM" watch --json --period 100 "$exec_pid" >"$TMP/exec.out" 2>"$TMP/exec.err" &
watch_pid=$!
if wait_for "$TMP/exec.out" 'l.get("event.action") == "watching"'; then pass "exec: watched"; else fail "exec: watched" "$(cat "$TMP/exec.out" "$TMP/exec.err")"; fi
echo go >"$TMP/go"
if wait_for "$TMP/exec.out" 'l.get("event.action") == "new-program" and l.get("process.executable") == sys.argv[1].replace("exec.out", "prog")'; then
    pass "exec: the new program is reported, with its executable"
else
    fail "exec: the new program is reported" "$(cat "$TMP/exec.out" "$TMP/exec.err")"
fi
kill -TERM "$watch_pid"
wait "$watch_pid"
rc=$?
if [ "$rc" -eq 0 ]; then pass "SIGTERM: exit 0"; else fail "SIGTERM: exit 0" "exit $rc"; fi
check "exec: no alert for the new program's code" json_check "$TMP/exec.out" 'assert not alerts, alerts'
check "exec: the new program's line says clean" json_check "$TMP/exec.out" '
news = [s for s in states if s["event.action"] == "new-program"]
assert len(news) == 1 and news[0]["procsum.status"] == "clean", news
'

# ---- a new program after a change ------------------------------------------------
# Python maps a page of code, whose bit is then flipped and reported, then
# runs outside_target: the process's line for its new program says how it
# stands, changed, as its exit's line does.
head -c 8192 /dev/zero >"$TMP/code1"
mkfifo "$TMP/go-after"
# The interpreter itself, not a wrapper that runs it (each exec is a new program).
"$(python3 -c 'import sys; print(sys.executable)')" -c 'import sys, os, mmap
f = open(sys.argv[3], "rb")
code = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_EXEC)
code[0]
open(sys.argv[1]).readline()
os.execv(sys.argv[2], [sys.argv[2]])' "$TMP/go-after" "$prog" "$TMP/code1" &
after_pid=$!
started_pids+=("$after_pid")
for _ in $(seq 600); do grep -q "$TMP/code1" "/proc/$after_pid/maps" 2>/dev/null && break; sleep 0.1; done
"$PROCSUM" watch --json --period 100 "$after_pid" >"$TMP/after.out" 2>"$TMP/after.err" &
watch_pid=$!
if wait_for "$TMP/after.out" 'l.get("event.action") == "watching"'; then
    sleep 0.5 # two passes: the page's baseline settled
    flip_at "$after_pid" "$TMP/code1" 100 0 >/dev/null
    if wait_for "$TMP/after.out" 'l.get("event.action") == "code-changed"'; then
        echo go >"$TMP/go-after"
        if wait_for "$TMP/after.out" 'l.get("event.action") == "new-program"'; then
            check "exec after a change: the new program's line says changed" json_check "$TMP/after.out" '
news = [s for s in states if s["event.action"] == "new-program"]
assert len(news) == 1 and news[0]["procsum.status"] == "changed", news
'
        else
            fail "exec after a change: the new program is reported" "$(cat "$TMP/after.out" "$TMP/after.err")"
        fi
    else
        fail "exec after a change: the change is reported" "$(cat "$TMP/after.out" "$TMP/after.err")"
    fi
else
    fail "exec after a change: watched" "$(cat "$TMP/after.out" "$TMP/after.err")"
fi
kill -TERM "$watch_pid"
wait "$watch_pid"

# ---- the same program run again, laid out as before --------------------------------
# Without address space randomization, an exec of the same program with the
# same arguments and environment lays the new address space out as the old
# one: the stat line's layout is the same. It is a new program all the same,
# and the watch reads the address space the process runs in now: a bit
# written after the exec is reported.
cp -- "$PSUM_OUTSIDE_TARGET" "$TMP/again"
python3 -c 'import ctypes, os, sys
ctypes.CDLL(None).personality(0x0040000)  # ADDR_NO_RANDOMIZE
os.execve(sys.argv[1], [sys.argv[1]], dict(os.environ, OUTSIDE_TARGET_REEXEC="1"))' "$TMP/again" &
again_pid=$!
started_pids+=("$again_pid")
for _ in $(seq 200); do grep -qF -- "$TMP/again" "/proc/$again_pid/maps" 2>/dev/null && break; sleep 0.01; done
"$PROCSUM" watch --json --period 100 "$again_pid" >"$TMP/again.out" 2>"$TMP/again.err" &
watch_pid=$!
if wait_for "$TMP/again.out" 'l.get("event.action") == "watching"'; then
    sleep 0.5 # quiet passes by now
    # The run again is done once a page map opened before it reads nothing, and the program is mapped again.
    same=$(python3 - "$again_pid" "$TMP/again" <<'EOF_PY'
import os, signal, sys, time
pid, path = int(sys.argv[1]), sys.argv[2]
def layout():
    line = open("/proc/%d/stat" % pid).read()
    fields = line[line.rindex(")") + 2:].split()
    return fields[23:26] + fields[42:49]
before = layout()
pagemap = os.open("/proc/%d/pagemap" % pid, os.O_RDONLY)
os.kill(pid, signal.SIGUSR1)
deadline = time.monotonic() + 30
while os.pread(pagemap, 8, 0) and time.monotonic() < deadline:
    time.sleep(0.01)
while path not in open("/proc/%d/maps" % pid).read() and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(0.2)
print("same" if layout() == before else "moved")
EOF_PY
)
    [ "$same" = same ] || fail "run again: laid out as before (the test's premise)" "$same"
    sleep 0.3
    flip_at "$again_pid" "$TMP/again" "$offset" 1 >/dev/null
    if wait_for "$TMP/again.out" 'l.get("event.kind") == "alert"'; then
        pass "run again: a bit written in the program run again is reported"
    else
        fail "run again: a bit written in the program run again is reported" "$(cat "$TMP/again.out" "$TMP/again.err")"
    fi
    check "run again: one new program, one alert at the ELF's offset" json_check "$TMP/again.out" '
news = [s for s in states if s["event.action"] == "new-program"]
assert len(news) == 1, news
assert len(alerts) == 1 and alerts[0]["procsum.file_offset"] == int(args[0]), alerts
' "$offset"
else
    fail "run again: watched" "$(cat "$TMP/again.out" "$TMP/again.err")"
fi
kill -TERM "$watch_pid"
wait "$watch_pid"

# ---- a change in the program a process has just run -------------------------------
# Python, with 64 MiB of code in memory (its passes long), becomes
# outside_target, which flips a bit of its own code at once. Under --all,
# whose review of its processes comes once a period, the pass that finds the
# new program mostly reports the bit before any review has seen the exec: it
# must name the new program, not the one before (only this process's alerts
# are looked at: other tests change theirs on purpose). Three tries, each
# with its own timing.
head -c $((64 << 20)) /dev/zero >"$TMP/code"
named_after=0
for _ in 1 2 3; do
    rm -f "$TMP/go-flip"
    mkfifo "$TMP/go-flip"
    python3 -c 'import sys, os, mmap
f = open(sys.argv[3], "rb")
code = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ | mmap.PROT_EXEC)
sum(code[i] for i in range(0, len(code), 4096))
open(sys.argv[1]).readline()
os.execve(sys.argv[2], [sys.argv[2]], dict(os.environ, OUTSIDE_TARGET_FLIP="1"))' "$TMP/go-flip" "$prog" "$TMP/code" &
    flip_pid=$!
    started_pids+=("$flip_pid")
    "$PROCSUM" watch --all --json --period 200 >"$TMP/flip.out" 2>"$TMP/flip.err" &
    watch_pid=$!
    if wait_for "$TMP/flip.out" 'l.get("event.action") == "watching" and l["process.pid"] == '"$flip_pid"; then
        echo go >"$TMP/go-flip"
        if wait_for "$TMP/flip.out" 'l.get("event.kind") == "alert" and l["process.pid"] == '"$flip_pid" &&
            json_check "$TMP/flip.out" '
mine = [a for a in alerts if a["process.pid"] == int(args[1])]
assert mine and all(a["process.executable"] == args[0] for a in mine), mine
' "$prog" "$flip_pid"; then
            named_after=$((named_after + 1))
        fi
    fi
    kill -TERM "$watch_pid"
    wait "$watch_pid"
    kill -KILL "$flip_pid" 2>/dev/null
    wait "$flip_pid" 2>/dev/null
done
if [ "$named_after" -eq 3 ]; then
    pass "exec: a change in the new program is named after it"
else
    fail "exec: a change in the new program is named after it" "in $named_after of 3 tries"
fi

# ---- --all: a program run while the first looks are made -------------------------
# A process listed at the start runs a new program before its turn among the
# first looks comes: the exec's event starts its checker, and its turn must
# not start a second one (each report would come twice). The first looks at
# every process of the host take longer than the 0.2 s before the exec.
bash -c 'sleep 0.2; exec "$1"' sh "$prog" &
twice_pid=$!
started_pids+=("$twice_pid")
"$PROCSUM" watch --all --json --period 200 >"$TMP/twice.out" 2>"$TMP/twice.err" &
watch_pid=$!
wait_for "$TMP/twice.out" 'l.get("event.action") == "watching" and l["process.pid"] == '"$twice_pid" || true
sleep 1
kill -TERM "$watch_pid"
wait "$watch_pid"
check "--all: a process that ran a new program during the first looks has one checker" json_check "$TMP/twice.out" '
mine = [s for s in states if s["process.pid"] == int(args[0]) and s["event.action"] == "watching"]
assert len(mine) == 1, mine
' "$twice_pid"

"$PROCSUM" watch --period 100 "$exec_pid" >"$TMP/int.out" 2>"$TMP/int.err" &
watch_pid=$!
for _ in $(seq 200); do grep -q watching "$TMP/int.out" && break; sleep 0.05; done
kill -INT "$watch_pid"
wait "$watch_pid"
rc=$?
if [ "$rc" -eq 0 ]; then pass "SIGINT: exit 0"; else fail "SIGINT: exit 0" "exit $rc; $(cat "$TMP/int.out" "$TMP/int.err")"; fi

# ---- a process that becomes unreadable -------------------------------------------------
# Another user's watch of a shell that execs a program making itself not dumpable: the watch can no
# longer read it, says so (not-watched, permission denied) and, with nothing left, ends.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    chmod 755 "$TMP"
    as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    mkfifo "$TMP/go2" && chmod 666 "$TMP/go2"
    "${as_nobody[@]}" bash -c 'read -r _ <"$1"; exec /usr/bin/python3 -c "import ctypes, time; ctypes.CDLL(None).prctl(4, 0, 0, 0, 0); time.sleep(30)"' \
        sh "$TMP/go2" &
    shell=$!
    started_pids+=("$shell")
    "${as_nobody[@]}" "$PROCSUM" watch --json --period 100 "$shell" >"$TMP/undump.out" 2>"$TMP/undump.err" &
    watch_pid=$!
    wait_for "$TMP/undump.out" 'l.get("event.action") == "watching"'
    timeout 10 sh -c 'echo go >"$1"' sh "$TMP/go2" # no reader (the shell gone) must not hang the test
    if wait_for "$TMP/undump.out" 'l.get("event.action") == "not-watched" and l.get("error.code") == "PROCSUM_EACCES"'; then
        pass "a watched process that becomes not dumpable: not-watched, permission denied"
    else
        fail "a watched process that becomes not dumpable: not-watched" "$(cat "$TMP/undump.out" "$TMP/undump.err")"
    fi
    for _ in $(seq 100); do kill -0 "$watch_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$watch_pid" 2>/dev/null; then
        fail "... and the watch, with nothing left, ends" "still running"
        kill -TERM "$watch_pid"
    else
        pass "... and the watch, with nothing left, ends"
    fi
    wait "$watch_pid"
    kill -KILL "$shell" 2>/dev/null
else
    fail "a watched process that becomes not dumpable: needs root and setpriv (CI runs as root)"
fi

# ---- a program replaced by a rename, as a package upgrade does ----------------------
# The old file loses its last link, which moves its change time, not its
# bytes: a bit written afterwards is still shown against them, as a write,
# not as a file written in place with no bytes to show.
start_target "$TMP/upgraded" || fail "target starts"
up_pid=$target_pid
up_offset=$(spare_offset "$TMP/upgraded")
"$PROCSUM" watch --json --period 100 "$up_pid" >"$TMP/upgraded.out" 2>"$TMP/upgraded.err" &
up_watch=$!
wait_for "$TMP/upgraded.out" 'l.get("event.action") == "watching"' || fail "upgraded: watched" "$(cat "$TMP/upgraded.err")"
cp -- "$TMP/upgraded" "$TMP/upgraded.new" && mv -- "$TMP/upgraded.new" "$TMP/upgraded"
read -r old new < <(flip_at "$up_pid" "$TMP/upgraded" "$up_offset" 1)
if wait_for "$TMP/upgraded.out" 'l.get("event.kind") == "alert"'; then
    check "a program replaced by a rename: a bit written into it is a bitflip at its offset, by a write" \
        json_check "$TMP/upgraded.out" '
a = alerts[0]
assert a["procsum.file_status"] == "compared" and a["procsum.verdict"] == "bitflip", a
assert a["procsum.cause"] == "write" and a["procsum.file_offset"] == int(args[0]), a
assert a["procsum.old_bytes"] == args[1] and a["procsum.new_bytes"] == args[2], a
' "$up_offset" "$old" "$new"
else
    fail "a program replaced by a rename: the bit is reported" "$(cat "$TMP/upgraded.out" "$TMP/upgraded.err")"
fi
kill -KILL "$up_pid"
wait "$up_pid" 2>/dev/null
wait "$up_watch"

# ---- a breakpoint sent as state, and its restore ----------------------------------
# With state-cause = breakpoint a tracer's int3 goes out as state; so does
# the restore when the tracer takes it out (its own cause is the write that
# took it back), and the process stays clean.
start_target "$TMP/traced" || fail "target starts"
bp_pid=$target_pid
bp_offset=$(($(spare_offset "$TMP/traced") - 5)) # the function's first byte
printf '[allow]\nstate-cause = breakpoint\n' >"$TMP/bp.conf"
"$PROCSUM" watch --json --period 100 --config "$TMP/bp.conf" "$bp_pid" >"$TMP/bp.out" 2>"$TMP/bp.err" &
bp_watch=$!
wait_for "$TMP/bp.out" 'l.get("event.action") == "watching"' || fail "breakpoint: watched" "$(cat "$TMP/bp.err")"
tracer_int3 "$bp_pid" "$TMP/traced" "$bp_offset" "$TMP/bp.out"
kill -KILL "$bp_pid"
wait "$bp_pid" 2>/dev/null
wait "$bp_watch"
check "state-cause = breakpoint: the breakpoint and its restore go out as state, the process stays clean" \
    json_check "$TMP/bp.out" '
kinds = [(l.get("procsum.verdict"), l["event.kind"]) for l in lines if "procsum.verdict" in l]
assert kinds == [("patch", "state"), ("restored", "state")], kinds
assert states[-1]["event.action"] == "exited" and states[-1]["procsum.status"] == "clean", states[-1]
'

# ---- a stop request while an output takes no more writes ----------------------------
# Standard output is a one-page pipe whose reader never reads: the "watching"
# lines of forty processes fill it and the write blocks. SIGTERM must still
# end the watch (exit 1: lines were lost), not leave it blocked for good.
stuck=()
for _ in $(seq 40); do
    sleep 60 &
    stuck+=("$!")
    started_pids+=("$!")
done
python3 - "$PROCSUM" "${stuck[@]}" >"$TMP/stuck.out" 2>&1 <<'PY'
import fcntl, os, signal, subprocess, sys, time
r, w = os.pipe()
fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ: one page
watch = subprocess.Popen([sys.argv[1], "watch", "--json", "--period", "100"] + sys.argv[2:], stdout=w,
                         stderr=subprocess.DEVNULL)
os.close(w)
def blocked():
    try:
        return "pipe_write" in open("/proc/%d/wchan" % watch.pid).read()
    except OSError:
        return False
deadline = time.monotonic() + 30
while not blocked() and time.monotonic() < deadline:
    time.sleep(0.05)
print("blocked" if blocked() else "never blocked")
watch.send_signal(signal.SIGTERM)
try:
    print("exit", watch.wait(timeout=30))
except subprocess.TimeoutExpired:
    print("still running 30 s after SIGTERM")
    watch.kill()
    watch.wait()
PY
if grep -qx blocked "$TMP/stuck.out" && grep -qx "exit 1" "$TMP/stuck.out"; then
    pass "SIGTERM while standard output is a full pipe: ends, exit 1"
else
    fail "SIGTERM while standard output is a full pipe: ends, exit 1" "$(cat "$TMP/stuck.out")"
fi
kill -KILL "${stuck[@]}" 2>/dev/null
wait "${stuck[@]}" 2>/dev/null

# ---- usage and refusals ------------------------------------------------------------
run watch --period 0 "$exec_pid"
if [ "$rc" -eq 2 ]; then pass "--period 0: exit 2"; else fail "--period 0: exit 2" "$(show_run)"; fi
run watch 999999999
if [ "$rc" -eq 4 ]; then pass "no such process: exit 4"; else fail "no such process: exit 4" "$(show_run)"; fi
# One named process refused (this root shell, to nobody) and one gone: 1 in either order, as verify.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    for order in "$$ 999999999" "999999999 $$"; do
        # shellcheck disable=SC2086 # two pids
        setpriv --reuid=65534 --regid=65534 --clear-groups "$PROCSUM" watch $order >"$TMP/mixed.out" 2>&1
        rc=$?
        if [ "$rc" -eq 1 ]; then
            pass "refused and gone ($order): exit 1"
        else
            fail "refused and gone ($order): exit 1" "exit $rc" "$(cat "$TMP/mixed.out")"
        fi
    done
else
    fail "refused and gone: needs root and setpriv (CI runs as root)"
fi
finish
