#!/usr/bin/env bash
# procsum verify, on programs that do not link procsum: a clean one verifies
# clean; one bit written into its code through /proc/PID/mem is found (exit
# 5, verdict bitflip, the file offset the ELF gives); a program whose file
# was replaced by a rename after it started still verifies against the file
# it maps; a process gone is reported and the others are verified; --all
# finds nothing in a host's processes but what was changed on purpose.
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname -- "${BASH_SOURCE[0]}")/outside_lib.sh"

prog="$TMP/prog"
start_target "$prog" || fail "target starts"
clean_pid=$target_pid

# ---- clean -----------------------------------------------------------------
run verify --json "$clean_pid"
if [ "$rc" -eq 0 ]; then pass "clean: exit 0"; else fail "clean: exit 0" "$(show_run)"; fi
check "clean: no alert, state clean, pages checked, a summary" json_check "$TMP/out" '
assert not alerts, alerts
assert len(states) == 1 and states[0]["procsum.status"] == "clean", states
assert states[0]["process.pid"] == int(args[0]) and states[0]["procsum.pages_checked"] > 0, states
assert states[0]["process.executable"] == args[1], states
s = lines[-1]
assert s["event.action"] == "verify-summary" and s["procsum.processes"] == 1 and s["procsum.bytes_hashed"] > 0, s
for l in lines:
    assert l["@timestamp"].endswith("Z") and l["host.name"], l
' "$clean_pid" "$prog"
run verify "$clean_pid"
if [ "$rc" -eq 0 ] && grep -Eq "^$clean_pid +clean " "$TMP/out"; then pass "clean: the table says clean"; else fail "clean: the table says clean" "$(show_run)"; fi

# ---- one bit ---------------------------------------------------------------
offset=$(spare_offset "$prog")
start_target "$TMP/flipped" || fail "second target starts"
flipped_pid=$target_pid
read -r old new < <(flip_at "$flipped_pid" "$TMP/flipped" "$offset" 4)
run verify --json "$flipped_pid" "$clean_pid"
if [ "$rc" -eq 5 ]; then pass "one bit: exit 5"; else fail "one bit: exit 5" "$(show_run)"; fi
check "one bit: one alert, bitflip, at the ELF's file offset, old and new bytes" json_check "$TMP/out" '
assert len(alerts) == 1, alerts
a = alerts[0]
assert a["event.action"] == "differs-from-file" and a["process.pid"] == int(args[0]), a
assert a["procsum.verdict"] == "bitflip" and a["procsum.cause"] == "write", a
assert a["procsum.file_offset"] == int(args[1]), (a["procsum.file_offset"], args[1])
assert a["procsum.changed_bits"] == 1 and a["procsum.changed_bytes"] == 1, a
assert a["procsum.old_bytes"] == args[2] and a["procsum.new_bytes"] == args[3] and a["procsum.xor"] == "10", a
assert a["file.path"] == args[4], a
st = {s["process.pid"]: s["procsum.status"] for s in states}
assert st == {int(args[0]): "changed", int(args[5]): "clean"}, st
' "$flipped_pid" "$offset" "$old" "$new" "$TMP/flipped" "$clean_pid"

# ---- the function and its instructions ----------------------------------------
# Byte 1 of outside_spare (byte 5 above lies past its end, in the padding
# after it, which no function holds): the alert names the function and the
# instructions there before and after the flip, read from the file as the
# process maps it (/proc/PID/map_files for a process of another user).
named_offset=$(($(spare_offset "$prog") - 4))
start_target "$TMP/named" || fail "target to name starts"
named_pid=$target_pid
flip_at "$named_pid" "$TMP/named" "$named_offset" 4 >/dev/null
run verify --json "$named_pid"
if [ "$rc" -eq 5 ]; then pass "function: exit 5"; else fail "function: exit 5" "$(show_run)"; fi
check "function: procsum.symbol is outside_spare+0x1, the instructions before and after differ" json_check "$TMP/out" '
assert len(alerts) == 1, alerts
a = alerts[0]
assert a["procsum.symbol"] == "outside_spare+0x1", a
assert a["procsum.old_insn"] and a["procsum.new_insn"] and a["procsum.old_insn"] != a["procsum.new_insn"], a
'
run verify "$named_pid"
if grep -Fq " in outside_spare+0x1 (" "$TMP/out"; then pass "function: the table names it"; else fail "function: the table names it" "$(show_run)"; fi

# ---- the file replaced by a rename ------------------------------------------
start_target "$TMP/replaced" || fail "third target starts"
replaced_pid=$target_pid
# The new file differs from the mapped one in the same byte: comparing with it would find a change.
cp -- "$TMP/replaced" "$TMP/replacement"
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 1]))' \
    "$TMP/replacement" "$offset"
mv -f -- "$TMP/replacement" "$TMP/replaced"
run verify --json "$replaced_pid"
if [ "$rc" -eq 0 ]; then pass "replaced file: exit 0"; else fail "replaced file: exit 0" "$(show_run)"; fi
check "replaced file: no alert" json_check "$TMP/out" 'assert not alerts and states[0]["procsum.status"] == "clean", lines'
# The kernel's " (deleted)" is not part of the program's path, as it is not of a mapped file's.
check "replaced file: process.executable is the program's path" json_check "$TMP/out" '
assert states[0]["process.executable"] == args[0], states[0]' "$TMP/replaced"
# And it was compared, with the file it maps: a bit written now is found.
if ! grep -q "(deleted)" "/proc/$replaced_pid/maps"; then
    fail "replaced file: the old file shows as deleted in maps"
fi
python3 - "$replaced_pid" "$TMP/replaced" "$offset" <<'EOF_PY'
import os, sys
pid, path, offset = sys.argv[1], sys.argv[2], int(sys.argv[3])
for line in open("/proc/%s/maps" % pid):
    parts = line.split(None, 5)
    if len(parts) == 6 and parts[5].rstrip("\n") == path + " (deleted)":
        start, end = (int(x, 16) for x in parts[0].split("-"))
        off = int(parts[2], 16)
        if off <= offset < off + end - start:
            fd = os.open("/proc/%s/mem" % pid, os.O_RDWR)
            addr = start + offset - off
            b = os.pread(fd, 1, addr)[0]
            os.pwrite(fd, bytes([b ^ 4]), addr)
            os.close(fd)
EOF_PY
run verify --json "$replaced_pid"
if [ "$rc" -eq 5 ]; then pass "replaced file: a bit written later is found against the mapped file"; else fail "replaced file: a bit written later is found against the mapped file" "$(show_run)"; fi
check "replaced file: bitflip at the offset" json_check "$TMP/out" '
assert len(alerts) == 1 and alerts[0]["procsum.verdict"] == "bitflip" and alerts[0]["procsum.file_offset"] == int(args[0]), alerts
' "$offset"

# ---- a file copied up by overlayfs --------------------------------------------
# Written in a container, an overlayfs file is copied up: its name then reaches
# the new copy, which has the device and inode of the file the process still
# maps. Compared with the copy, its page-cache pages read as memory corruption.
if [ "$(id -u)" -eq 0 ] && have unshare && have nsenter && grep -qw overlay /proc/filesystems; then
    ov="$TMP/ov"
    mkdir -p "$ov/lower" "$ov/upper" "$ov/work" "$ov/merged"
    cp -- "$PSUM_OUTSIDE_TARGET" "$ov/lower/prog"
    # shellcheck disable=SC2016 # expanded by the inner shell
    unshare -m --propagation private sh -c \
        'mount -t overlay overlay -o "lowerdir=$1/lower,upperdir=$1/upper,workdir=$1/work" "$1/merged" && exec "$1/merged/prog"' \
        sh "$ov" &
    ov_pid=$!
    started_pids+=("$ov_pid")
    for _ in $(seq 200); do
        grep -qF -- "$ov/merged/prog" "/proc/$ov_pid/maps" 2>/dev/null && break
        sleep 0.01
    done
    # A running program cannot be opened for writing (ETXTBSY): copied up by a touch, then its copy written.
    nsenter -t "$ov_pid" -m touch "$ov/merged/prog"
    if [ -s "$ov/upper/prog" ]; then
        python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 1]))' \
            "$ov/upper/prog" "$offset"
        run verify --json "$ov_pid"
        if [ "$rc" -eq 0 ]; then pass "overlayfs copy-up: exit 0"; else fail "overlayfs copy-up: exit 0" "$(show_run)"; fi
        check "overlayfs copy-up: no alert, the page not compared" json_check "$TMP/out" '
assert not alerts and states[0]["procsum.status"] == "clean", lines
assert states[0]["procsum.pages_unverified"] >= 1, states
'
        # watch's first look compares every page with its file as verify does.
        "$PROCSUM" watch --json --period 100 "$ov_pid" >"$TMP/out" 2>"$TMP/err" &
        watch_pid=$!
        sleep 1.5
        kill -INT "$watch_pid"
        wait "$watch_pid"
        rc=$?
        check "overlayfs copy-up: watch's first look finds nothing either" json_check "$TMP/out" '
assert not alerts and states and states[0]["event.action"] == "watching", lines
'
    else
        fail "overlayfs copy-up: a touch copied the file up"
    fi
else
    fail "overlayfs copy-up: needs root, unshare, nsenter and overlayfs (CI runs as root)"
fi

# ---- processes that are gone ---------------------------------------------------
start_target "$TMP/short" 50 || fail "short-lived target starts"
short_pid=$target_pid
wait "$short_pid" 2>/dev/null
run verify --json "$short_pid" "$clean_pid"
if [ "$rc" -eq 1 ]; then pass "gone: exit 1 when one named process was not verified"; else fail "gone: exit 1" "$(show_run)"; fi
check "gone: reported as such, the other verified" json_check "$TMP/out" '
st = {s["process.pid"]: s for s in states}
assert st[int(args[0])]["procsum.status"] == "error" and st[int(args[0])]["error.code"] == "PROCSUM_ESRCH", st
assert st[int(args[1])]["procsum.status"] == "clean" and st[int(args[1])]["procsum.pages_checked"] > 0, st
' "$short_pid" "$clean_pid"
run verify "$short_pid"
if [ "$rc" -eq 4 ]; then pass "gone: exit 4 when every named process is gone"; else fail "gone: exit 4" "$(show_run)"; fi
# A process that exits while verify --all runs: many short-lived ones, none stops the run.
for i in 1 2 3 4 5 6 7 8; do start_target "$TMP/short" $((i * 5)) || true; done

# ---- the host ----------------------------------------------------------------
run verify --json --all
if [ "$rc" -eq 5 ]; then pass "--all: exit 5 (the changed targets)"; else fail "--all: exit 5" "$(show_run)"; fi
# Every alert is one of the three processes changed here, or one of this
# project's programs that changes its own code on purpose: Criterion's sandbox
# patches every test's main, and the checker benchmark flips bits to time the
# reports. (meson runs this test alone: tests/meson.build, is_parallel.)
check "--all: no alert but the changes made on purpose" json_check "$TMP/out" '
ours = {int(pid) for pid in args}
for a in alerts:
    exe = a.get("process.executable", "")
    own = a["process.pid"] in ours
    self_patching = "/tests/test_" in exe or exe.endswith(("truth_target", "patch_target", "bench_checker"))
    assert own or self_patching, a
assert {a["process.pid"] for a in alerts} >= ours, alerts
s = lines[-1]
assert s["procsum.processes"] >= 3 and s["procsum.pages_shared"] > 0, s
' "$flipped_pid" "$replaced_pid" "$named_pid"
if [ ! -s "$TMP/err" ]; then pass "--all: nothing on stderr when it is not a terminal"; else fail "--all: stderr" "$(show_run)"; fi

# ---- code mapped anew while it is read -------------------------------------------------
# A process that maps pages of libc and libm in turn over one range (MAP_FIXED): a page read between
# the listing and its mapping anew holds other bytes than the file listed there. That is no change of
# code, and must not be reported as one (a patch; memory corruption for a page-cache page).
[ -e /usr/lib/x86_64-linux-gnu/libm.so.6 ] || fail "the remap test needs Debian's x86-64 libc and libm"
python3 - "$TMP/remap.pid" <<'EOF_PY' &
import ctypes, os, sys, time
libc = ctypes.CDLL(None)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
files = [os.open(p, os.O_RDONLY) for p in ("/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6")]
base = libc.mmap(None, 16 * 4096, 5, 2, files[0], 0)  # PROT_READ|PROT_EXEC, MAP_PRIVATE
open(sys.argv[1] + ".tmp", "w").write(str(os.getpid()))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
end, i = time.time() + 60, 0
while time.time() < end:
    libc.mmap(base, 16 * 4096, 5, 2 | 0x10, files[i % 2], (i // 2 % 7) * 4096)  # MAP_FIXED
    ctypes.c_char.from_address(base).value
    i += 1
EOF_PY
remap_shell=$!
for _ in $(seq 300); do [ -s "$TMP/remap.pid" ] && break; sleep 0.02; done
remap_pid=$(cat "$TMP/remap.pid" 2>/dev/null)
if [ -d /usr/lib/x86_64-linux-gnu ] && [ -n "$remap_pid" ]; then
    alerted=0
    for _ in $(seq 30); do
        run verify "$remap_pid"
        [ "$rc" -eq 0 ] || alerted=$((alerted + 1))
    done
    if [ "$alerted" -eq 0 ]; then
        pass "code mapped anew while read: 30 verifications, no change reported"
    else
        fail "code mapped anew while read: no change reported" "$alerted of 30 verifications did not exit 0" "$(show_run)"
    fi
else
    fail "a process mapping code anew starts"
fi
kill "$remap_pid" "$remap_shell" 2>/dev/null

# ---- usage ----------------------------------------------------------------------
run verify
if [ "$rc" -eq 2 ]; then pass "no process named: exit 2"; else fail "no process named: exit 2" "$(show_run)"; fi
run verify --json-file "$TMP/usage.json"
if [ "$rc" -eq 2 ] && [ ! -e "$TMP/usage.json" ]; then
    pass "no process named, with --json-file: exit 2, no file made"
else
    fail "no process named, with --json-file: exit 2, no file made" "$(show_run)" "$(ls -l "$TMP/usage.json" 2>&1)"
fi
run verify --all "$clean_pid"
if [ "$rc" -eq 2 ]; then pass "--all with PIDs: exit 2"; else fail "--all with PIDs: exit 2" "$(show_run)"; fi
run verify 12abc
if [ "$rc" -eq 2 ]; then pass "a PID that is not a number: exit 2"; else fail "not a number: exit 2" "$(show_run)"; fi
run verify "$clean_pid" "$clean_pid" "$clean_pid"
if [ "$rc" -eq 0 ] && grep -q "^1 process(es): " "$TMP/out" && [ "$(grep -c "^$clean_pid " "$TMP/out")" = 1 ]; then
    pass "one process named three times: verified once"
else
    fail "one process named three times: verified once" "$(show_run)"
fi
# Repeats among many: the first naming's place is kept, each process once.
run verify --json "$clean_pid" "$flipped_pid" "$clean_pid" "$flipped_pid" "$clean_pid"
check "two processes named five times: each verified once, in the order first named" json_check "$TMP/out" '
assert [s["process.pid"] for s in states] == [int(args[0]), int(args[1])], states
' "$clean_pid" "$flipped_pid"
# A process verified while it is still starting (its exec under way): verified, not an error.
fresh_fail=""
for _ in $(seq 20); do
    sleep 30 &
    fresh=$!
    "$PROCSUM" verify "$fresh" >"$TMP/fresh.out" 2>&1 || fresh_fail="exit $?: $(cat "$TMP/fresh.out")"
    kill "$fresh"
    wait "$fresh" 2>/dev/null
    [ -z "$fresh_fail" ] || break
done
if [ -z "$fresh_fail" ]; then pass "a process verified as it starts: exit 0, 20 times"; else fail "a process verified as it starts" "$fresh_fail"; fi
# A thread's id is not a process's: named, it is bad usage, said with the process it belongs to.
python3 -c 'import os, threading, time
t = threading.Thread(target=time.sleep, args=(30,), daemon=True)
t.start()
print(os.getpid(), t.native_id, flush=True)
time.sleep(30)' >"$TMP/threads" &
started_pids+=("$!")
for _ in $(seq 200); do [ -s "$TMP/threads" ] && break; sleep 0.02; done
read -r thread_process thread_id <"$TMP/threads"
run verify "$thread_id"
if [ "$rc" -eq 2 ] && grep -q "^procsum: $thread_id is a thread of process $thread_process" "$TMP/err"; then
    pass "a thread's id: exit 2, names its process"
else
    fail "a thread's id: exit 2, names its process" "$(show_run)"
fi
# Another user's process, verified without the right to read it: exit 3, and named by its process name
# (anyone may read /proc/PID/comm, not /proc/PID/exe).
if [ "$(id -u)" = 0 ] && have setpriv; then
    start_target "$TMP/refuser" || fail "a target to refuse starts"
    setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- "$PROCSUM" verify "$target_pid" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ "$rc" -eq 3 ] && grep -Eq "^$target_pid +error .* \[refuser\] \(permission denied\)" "$TMP/out"; then
        pass "refused: exit 3, the table names it [refuser]"
    else
        fail "refused: exit 3, the table names it [refuser]" "$(show_run)"
    fi
    setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- "$PROCSUM" verify --json "$target_pid" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ "$rc" -eq 3 ] && json_check "$TMP/out" 'assert [(s["process.pid"], s.get("process.name"), s["error.code"], "process.executable" in s) for s in states] == [('"$target_pid"', "refuser", "PROCSUM_EACCES", False)], states'; then
        pass "refused: exit 3, JSON names it (process.name), no executable"
    else
        fail "refused: exit 3, JSON names it (process.name), no executable" "$(show_run)"
    fi
else
    fail "refused: needs root and setpriv (CI runs as root)"
fi

# A process's name is its own choice and may hold a newline: it is named whole (escaped), not cut there.
python3 -c 'import ctypes, os, time
ctypes.CDLL(None).prctl(15, b"evil\nname\x1b[2J", 0, 0, 0)
print(os.getpid(), flush=True)
time.sleep(60)' >"$TMP/newline-name.pid" &
newline_job=$!
started_pids+=("$newline_job")
for _ in $(seq 500); do [ -s "$TMP/newline-name.pid" ] && break; sleep 0.01; done
newline_pid=$(cat "$TMP/newline-name.pid")
run verify --json "$newline_pid"
if json_check "$TMP/out" 'assert [s.get("process.name") for s in states] == ["evil\nname\x1b[2J"], states'; then
    pass "a process name holding a newline is named whole"
else
    fail "a process name holding a newline is named whole" "$(show_run)"
fi
kill -KILL "$newline_pid" "$newline_job" 2>/dev/null
wait "$newline_job" 2>/dev/null

# Pages with nothing to compare with are counted, not hidden: a user's program replaced on disk (mv, as an
# upgrade does), verified by that user, who cannot open /proc/PID/map_files/, leaves its program's pages
# unverified; root reaches the file it maps and verifies them.
if [ "$(id -u)" = 0 ] && have setpriv; then
    mkdir -p "$TMP/users" && chmod 777 "$TMP/users" && chmod 755 "$TMP"
    cp /bin/sleep "$TMP/users/upgraded" && chmod 755 "$TMP/users/upgraded"
    setpriv --reuid=65534 --regid=65534 --clear-groups "$TMP/users/upgraded" 300 &
    upgraded=$!
    started_pids+=("$upgraded")
    for _ in $(seq 200); do grep -qF "$TMP/users/upgraded" "/proc/$upgraded/maps" 2>/dev/null && break; sleep 0.01; done
    cp /bin/true "$TMP/users/new" && mv -f "$TMP/users/new" "$TMP/users/upgraded"
    unverified() { # unverified JSON_FILE: the state line's procsum.pages_unverified, or "missing"
        python3 -c 'import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l).get("event.kind") == "state"]
print(s[0].get("procsum.pages_unverified", "missing") if s else "missing")' "$1"
    }
    "$PROCSUM" verify --json "$upgraded" >"$TMP/root.json" 2>"$TMP/err"
    setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- "$PROCSUM" verify --json "$upgraded" >"$TMP/user.json" 2>>"$TMP/err"
    rc=$?
    as_root=$(unverified "$TMP/root.json") as_user=$(unverified "$TMP/user.json")
    if [ "$rc" -eq 0 ] && [ "$as_root" != missing ] && [ "$as_user" != missing ] && [ "$as_user" -gt "$as_root" ]; then
        pass "a replaced program's pages its user cannot compare are counted (procsum.pages_unverified $as_user, root $as_root)"
    else
        fail "a replaced program's pages its user cannot compare are counted" "rc $rc, as root $as_root, as the user $as_user" "$(cat "$TMP/err")"
    fi
    setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- "$PROCSUM" verify "$upgraded" >"$TMP/out" 2>&1
    if grep -Eq "^1 process\(es\): .* $as_user with nothing to compare with" "$TMP/out"; then
        pass "the table's summary says how many pages had nothing to compare with"
    else
        fail "the table's summary says how many pages had nothing to compare with" "$(cat "$TMP/out")"
    fi
else
    fail "unverified pages: needs root and setpriv (CI runs as root)"
fi

# A kernel thread (PF_KTHREAD in its stat flags) exists but has no user code: named, it is bad usage, not "no such process".
kthread=$(python3 -c '
import os
for d in sorted(os.listdir("/proc"), key=lambda s: (len(s), s)):
    if d.isdigit():
        try:
            s = open("/proc/%s/stat" % d).read()
        except OSError:
            continue
        if int(s[s.rindex(")") + 2:].split()[6]) & 0x00200000:
            print(d)
            break
')
if [ -z "$kthread" ]; then
    fail "a kernel thread to name (none in /proc)"
else
    for cmd in verify watch; do
        run "$cmd" "$kthread"
        if [ "$rc" -eq 2 ] && grep -q "^procsum: $kthread is a kernel thread" "$TMP/err"; then
            pass "$cmd of a kernel thread: exit 2, said so"
        else
            fail "$cmd of a kernel thread: exit 2, said so" "$(show_run)"
        fi
    done
fi
# A process whose first thread has ended (pthread_exit in main) runs on in its
# other threads: its pid's /proc files show a zombie with no memory, but the
# process and its code are there, reached through a thread that lives. One bit
# written into it is found; the process is not "no such process".
lib=$(small_lib)
if [ -z "$lib" ]; then
    fail "a shared library to load into a process without its first thread (ldd names none)"
else
    cp -- "$lib" "$TMP/leaderless.so"
    python3 -c '
import ctypes, sys, threading, time
ctypes.CDLL(sys.argv[1])
threading.Thread(target=time.sleep, args=(300,)).start()
ctypes.CDLL(None).pthread_exit(None)
' "$TMP/leaderless.so" &
    leaderless=$!
    started_pids+=("$leaderless")
    tid=
    for _ in $(seq 500); do
        tid=$(ls "/proc/$leaderless/task" 2>/dev/null | grep -vx "$leaderless" | head -1)
        [ -n "$tid" ] && grep -q '^State:.*Z' "/proc/$leaderless/status" 2>/dev/null && break
        sleep 0.01
    done
    offset=$(python3 - "$tid" "$TMP/leaderless.so" <<'EOF_PY'
import sys
for line in open("/proc/%s/maps" % sys.argv[1]):
    parts = line.split()
    if len(parts) >= 6 and parts[5] == sys.argv[2] and "x" in parts[1]:
        print(int(parts[2], 16) + 64)
        break
EOF_PY
)
    if [ -z "$tid" ] || [ -z "$offset" ]; then
        fail "a process without its first thread, its library mapped" "pid $leaderless, thread $tid, offset $offset"
    else
        flip_at "$tid" "$TMP/leaderless.so" "$offset" 2 >/dev/null
        run verify --json "$leaderless"
        check "a process without its first thread: exit 5, its change found under its pid" json_check "$TMP/out" '
assert len(alerts) == 1 and alerts[0]["process.pid"] == int(args[0]) and alerts[0]["file.path"] == args[1], lines
assert states[0]["procsum.status"] == "changed" and states[0]["process.executable"], states
assert int(args[2]) == 5, args[2]
' "$leaderless" "$TMP/leaderless.so" "$rc"
        timeout 20 "$PROCSUM" watch --json "$leaderless" >"$TMP/out" 2>"$TMP/err" &
        watcher=$!
        wait_for "$TMP/out" 'l.get("event.action") == "differs-from-file"' &&
            wait_for "$TMP/out" 'l.get("event.action") == "watching"'
        got=$?
        kill -TERM "$watcher" 2>/dev/null
        wait "$watcher" 2>/dev/null
        if [ "$got" -eq 0 ]; then
            pass "a process without its first thread: watched, its change found"
        else
            fail "a process without its first thread: watched, its change found" "$(cat "$TMP/out" "$TMP/err")"
        fi
    fi
fi
finish
