#!/usr/bin/env bash
# procsum verify --journal, read back from a real systemd-journald: one bit
# written into a program's code through /proc/PID/mem arrives as an entry
# with the documented MESSAGE_ID, PRIORITY 2, OBJECT_PID and the PROCSUM_*
# fields (verdict bitflip, cause write, the ELF's file offset, the function
# and its instructions before and after), the file's
# path as raw bytes and an escaped MESSAGE; each process's state and the
# summary arrive too, and the same events go to standard output (--json) at
# once. A change that watch --journal finds arrives as code-changed.
# Without journald, --journal is refused.
#
# The journal is private: as root the script runs itself again in a mount
# namespace of its own with an empty /run (and /var/log/journal), starts
# systemd-journald there and stops it at the end (journald_lib.sh); the
# host's journal sees nothing.
. "$(dirname -- "${BASH_SOURCE[0]}")/journald_lib.sh"
private_journal_namespace "$0" "$@"
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname -- "${BASH_SOURCE[0]}")/outside_lib.sh"

# The MESSAGE_IDs docs/operating.md lists.
ID_CODE_CHANGED=fb9573d389114743a036a2bd6839d6c4
ID_DIFFERS_FROM_FILE=14a1164e837c43aa9c07c5c99e2e956b
ID_STATE=cf3f76500a904b6c9cd89a880573d6fe
ID_VERIFY_SUMMARY=9aaebd704fe34393b397499a2df0a46d

private_journal_dirs || finish

prog="$TMP/prog"
start_target "$prog" || fail "target starts"
clean_pid=$target_pid
# Byte 1 of outside_spare (spare_offset gives byte 5): inside the function, so that the entry names it.
offset=$(($(spare_offset "$prog") - 4))
# A path a person's terminal must not obey: an escape sequence in its name.
hostile="$TMP/flip"$'\e'"[31mred"
start_target "$hostile" || fail "second target starts"
flipped_pid=$target_pid

# ---- no journald: refused ----------------------------------------------------
run verify --journal "$clean_pid"
if [ "$rc" -eq 1 ] && grep -q "journal" "$TMP/err"; then
    pass "no journald: --journal is refused, naming the journal"
else
    fail "no journald: --journal is refused" "$(show_run)"
fi

# ---- journald ------------------------------------------------------------------
start_private_journald || finish

read -r old new < <(flip_at "$flipped_pid" "$hostile" "$offset" 4)
run verify --journal --json "$flipped_pid" "$clean_pid"
if [ "$rc" -eq 5 ]; then pass "one bit: exit 5"; else fail "one bit: exit 5" "$(show_run)"; fi
check "one bit: the alert also on standard output (--json)" json_check "$TMP/out" '
assert len(alerts) == 1 and alerts[0]["procsum.verdict"] == "bitflip", alerts
'

# journal_entries: every procsum entry, as JSON lines, into $TMP/journal once the summary is there (at most 10 s).
journal_entries() {
    for _ in $(seq 200); do
        journalctl -o json --identifier procsum >"$TMP/journal" 2>"$TMP/journal.err" &&
            grep -q "$ID_VERIFY_SUMMARY" "$TMP/journal" && return 0
        sleep 0.05
    done
    return 1
}
if journal_entries; then
    pass "journal: the entries arrive"
else
    fail "journal: the entries arrive" "$(cat "$TMP/journal.err" "$TMP/journald.log")"
fi
check "journal: the alert's fields" json_check "$TMP/journal" '
def text(v):
    # journalctl writes a value that is not printable UTF-8 as an array of bytes
    return bytes(v).decode("utf-8", "surrogateescape") if isinstance(v, list) else v
pid, offset, clean_pid, path = args[0], args[1], args[2], args[3].encode("utf-8", "surrogateescape")
alerts = [l for l in lines if l.get("MESSAGE_ID") == args[4]]
assert len(alerts) == 1, lines
a = alerts[0]
assert a["SYSLOG_IDENTIFIER"] == "procsum" and a["PRIORITY"] == "2", a
assert a["OBJECT_PID"] == pid and a["PROCSUM_VERDICT"] == "bitflip" and a["PROCSUM_CAUSE"] == "write", a
assert a["PROCSUM_FILE_OFFSET"] == offset and a["PROCSUM_PAGE"].startswith("0x"), a
assert a["PROCSUM_ACTION"] == "differs-from-file", a
assert bytes(a["PROCSUM_FILE"]) == path, a["PROCSUM_FILE"]
assert a["PROCSUM_SYMBOL"] == "outside_spare+0x1", a
assert a["PROCSUM_OLD_INSN"] and a["PROCSUM_NEW_INSN"] and a["PROCSUM_OLD_INSN"] != a["PROCSUM_NEW_INSN"], a
m = text(a["MESSAGE"])
assert not any(ord(c) < 32 or ord(c) == 127 for c in m), repr(m)
assert "\\x1b[31mred" in m and "bitflip" in m and "write" in m and " in outside_spare+0x1 " in m, m
states = {l["OBJECT_PID"]: l for l in lines if l.get("MESSAGE_ID") == args[5]}
assert set(states) == {pid, clean_pid}, states
assert states[pid]["PROCSUM_STATUS"] == "changed" and states[clean_pid]["PROCSUM_STATUS"] == "clean", states
assert all(s["PRIORITY"] == "6" and s["PROCSUM_ACTION"] == "verified" for s in states.values()), states
sums = [l for l in lines if l.get("MESSAGE_ID") == args[6]]
assert len(sums) == 1 and sums[0]["PROCSUM_PROCESSES"] == "2" and sums[0]["PROCSUM_CHANGED"] == "1", sums
' "$flipped_pid" "$offset" "$clean_pid" "$hostile" "$ID_DIFFERS_FROM_FILE" "$ID_STATE" "$ID_VERIFY_SUMMARY"

# ---- watch -------------------------------------------------------------------
"$PROCSUM" watch --journal --period 100 "$clean_pid" >"$TMP/watch.out" 2>"$TMP/watch.err" &
watch_pid=$!
started_pids+=("$watch_pid")
# journal_has PYTHON_CONDITION: until an entry satisfies it (as `l`), at most 30 s.
journal_has() {
    local until=$((SECONDS + 30))
    while [ "$SECONDS" -lt "$until" ]; do
        journalctl -o json --identifier procsum >"$TMP/journal" 2>/dev/null
        python3 - "$TMP/journal" "$1" <<'EOF_PY' && return 0
import json, sys
sys.exit(0 if any(eval(sys.argv[2]) for l in map(json.loads, open(sys.argv[1]))) else 1)
EOF_PY
        sleep 0.05
    done
    return 1
}
if journal_has "l.get(\"PROCSUM_ACTION\") == \"watching\" and l[\"OBJECT_PID\"] == \"$clean_pid\""; then
    pass "watch: the watching state arrives"
else
    fail "watch: the watching state arrives" "$(cat "$TMP/watch.err")"
fi
flip_at "$clean_pid" "$prog" "$offset" 2 >/dev/null
if journal_has "l.get(\"MESSAGE_ID\") == \"$ID_CODE_CHANGED\" and l[\"OBJECT_PID\"] == \"$clean_pid\" and l[\"PRIORITY\"] == \"2\" and l[\"PROCSUM_VERDICT\"] == \"bitflip\" and l[\"PROCSUM_FILE_OFFSET\"] == \"$offset\""; then
    pass "watch: the change arrives as code-changed, PRIORITY 2, bitflip at the offset"
else
    fail "watch: the change arrives as code-changed" "$(grep "\"OBJECT_PID\":\"$clean_pid\"" "$TMP/journal")" "$(cat "$TMP/watch.err")"
fi
kill -TERM "$watch_pid"
wait "$watch_pid"
rc=$?
if [ "$rc" -eq 0 ]; then pass "watch: exit 0 at SIGTERM"; else fail "watch: exit 0 at SIGTERM" "exit $rc"; fi

finish
