#!/usr/bin/env bash
# procsum watch --prometheus, read by the real tools: a bit written into a
# watched program's code through /proc/PID/mem shows, after the next pass, as
# procsum_changes_total{cause="write"} 1 in the textfile; promtool accepts the
# file; a real prometheus-node-exporter with only its textfile collector
# serves the metric on a loopback port; the file is only ever replaced whole
# (no temporary file is left beside it) and no label holds a process id.
# The same run writes JSON lines to a file (--json-file) and, with no
# --json or --format, nothing to standard output. The alerting rule in
# docs/operating.md passes promtool check rules. An output that cannot be
# written (a full disk, a directory that does not exist) ends the command,
# exit 1, naming it; the output options apply only to verify and watch.
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname -- "${BASH_SOURCE[0]}")/outside_lib.sh"

EXPORTER=
for f in prometheus-node-exporter node_exporter; do
    have "$f" && EXPORTER=$(command -v "$f") && break
done
if ! have promtool || [ -z "$EXPORTER" ]; then
    fail "promtool and node_exporter are needed (Debian: prometheus, prometheus-node-exporter)"
    finish
fi

prog="$TMP/prog"
start_target "$prog" || fail "target starts"
pid=$target_pid
offset=$(spare_offset "$prog")
mkdir -p "$TMP/textfiles"
prom="$TMP/textfiles/procsum.prom"

"$PROCSUM" watch --period 100 --prometheus "$prom" --json-file "$TMP/events.jsonl" "$pid" \
    >"$TMP/watch.out" 2>"$TMP/watch.err" &
watch_pid=$!
started_pids+=("$watch_pid")
if wait_for "$TMP/events.jsonl" 'l.get("event.action") == "watching"'; then
    pass "json-file: the process is watched"
else
    fail "json-file: the process is watched" "$(cat "$TMP/watch.err")"
fi
flip_at "$pid" "$prog" "$offset" 3 >/dev/null
if wait_for "$TMP/events.jsonl" 'l.get("event.kind") == "alert"'; then
    pass "json-file: the change is reported"
else
    fail "json-file: the change is reported" "$(cat "$TMP/events.jsonl" "$TMP/watch.err")"
fi

# The sample of a metric in a textfile or a scrape (FILE NAME_AND_LABELS): its value, or nothing.
sample() {
    awk -v key="$2" '$1 == key { print $2 }' "$1"
}
for _ in $(seq 400); do
    [ "$(sample "$prom" 'procsum_changes_total{cause="write"}')" = 1 ] && break
    sleep 0.05
done
if [ "$(sample "$prom" 'procsum_changes_total{cause="write"}')" = 1 ]; then
    pass "textfile: procsum_changes_total{cause=\"write\"} 1 after the next pass"
else
    fail "textfile: procsum_changes_total{cause=\"write\"} 1" "$(cat "$prom" "$TMP/watch.err")"
fi
# The bit written back: a restore, counted apart from the changes (a rule on them must not fire).
flip_at "$pid" "$prog" "$offset" 3 >/dev/null
for _ in $(seq 400); do
    [ "$(sample "$prom" 'procsum_restores_total')" = 1 ] && break
    sleep 0.05
done
if [ "$(sample "$prom" 'procsum_restores_total')" = 1 ] && [ "$(sample "$prom" 'procsum_changes_total{cause="write"}')" = 1 ] &&
    [ "$(sample "$prom" 'procsum_changes_total{cause="unknown"}')" = 0 ]; then
    pass "textfile: the bit written back is procsum_restores_total 1, the changes stay 1"
else
    fail "textfile: the bit written back is a restore" "$(cat "$prom" "$TMP/watch.err")"
fi
if promtool check metrics <"$prom" >"$TMP/promtool.out" 2>&1; then
    pass "textfile: promtool check metrics accepts it"
else
    fail "textfile: promtool check metrics accepts it" "$(cat "$TMP/promtool.out")"
fi
check "textfile: every metric with HELP and TYPE, counted and measured, no pid or address in a label" \
    python3 - "$prom" "$pid" <<'EOF_PY'
import re, sys
text = open(sys.argv[1]).read()
pid = sys.argv[2]
names = {"procsum_passes_total": "counter", "procsum_quiet_passes_total": "counter",
         "procsum_changes_total": "counter", "procsum_restores_total": "counter",
         "procsum_pages_checked": "gauge",
         "procsum_bytes_hashed_total": "counter", "procsum_pass_duration_seconds": "gauge",
         "procsum_processes": "gauge", "procsum_errors_total": "counter"}
for n, t in names.items():
    assert "# HELP %s " % n in text and "# TYPE %s %s\n" % (n, t) in text, n
values = {}
for line in text.splitlines():
    if line.startswith("#"):
        continue
    key, value = line.split(" ")  # a name and a value: no timestamp
    m = re.fullmatch(r'(\w+)(?:\{(\w+)="([^"]*)"\})?', key)
    assert m and m.group(1) in names, line
    assert m.group(2) in (None, "cause", "reason"), line
    assert m.group(3) is None or (pid not in m.group(3) and "0x" not in m.group(3)), line
    values[key] = float(value)
assert values["procsum_passes_total"] >= 2 and values["procsum_processes"] == 1, values
# The process idles between the writes: most of its passes found its page table as the last whole one left it.
assert 1 <= values["procsum_quiet_passes_total"] < values["procsum_passes_total"], values
assert values["procsum_pages_checked"] > 0 and values["procsum_bytes_hashed_total"] > 0, values
assert values['procsum_changes_total{cause="unknown"}'] == 0, values
EOF_PY
leftover=$(ls -A "$TMP/textfiles")
if [ "$leftover" = procsum.prom ]; then pass "textfile: nothing but the file in its directory"; else fail "textfile: nothing but the file" "$leftover"; fi

# ---- node_exporter ---------------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$EXPORTER" --web.listen-address="127.0.0.1:$port" --collector.disable-defaults --collector.textfile \
    --collector.textfile.directory="$TMP/textfiles" >"$TMP/exporter.log" 2>&1 &
started_pids+=("$!")
scraped=
for _ in $(seq 200); do
    if python3 - "http://127.0.0.1:$port/metrics" "$TMP/scrape" <<'EOF_PY'; then scraped=1; break; fi
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
    open(sys.argv[2], "wb").write(r.read())
EOF_PY
    sleep 0.05
done
if [ -n "$scraped" ] && [ "$(sample "$TMP/scrape" 'procsum_changes_total{cause="write"}')" = 1 ]; then
    pass "node_exporter: serves procsum_changes_total{cause=\"write\"} 1"
else
    fail "node_exporter: serves procsum_changes_total{cause=\"write\"} 1" "$(head -c 2000 "$TMP/scrape" 2>/dev/null)" \
        "$(tail -5 "$TMP/exporter.log")"
fi
if grep -q '^node_textfile_scrape_error 0$' "$TMP/scrape" 2>/dev/null; then
    pass "node_exporter: the textfile read without error"
else
    fail "node_exporter: the textfile read without error" "$(grep textfile "$TMP/scrape" 2>/dev/null)"
fi

# ---- outputs that fail ----------------------------------------------------
# expect_failed NAME WANT_RC WANT_STDERR ARGS...: runs procsum ARGS, checks its exit code and its one line on stderr.
expect_failed() {
    local name=$1 want_rc=$2 want=$3
    shift 3
    run "$@"
    if [ "$rc" -eq "$want_rc" ] && [ "$(cat "$TMP/err")" = "$want" ]; then
        pass "$name"
    else
        fail "$name: exit $want_rc, '$want'" "$(show_run)"
    fi
}
# A file name as long as a directory takes (255 bytes): written, and nothing left beside it.
mkdir "$TMP/longname"
long="$TMP/longname/$(head -c 250 /dev/zero | tr '\0' p).prom"
run verify --prometheus "$long" "$pid"
if [ "$rc" -eq 0 ] && promtool check metrics <"$long" >/dev/null 2>&1 && [ "$(ls -A "$TMP/longname" | wc -l)" -eq 1 ]; then
    pass "--prometheus with a 255-byte file name: written whole, nothing left beside it"
else
    fail "--prometheus with a 255-byte file name" "$(show_run)" "$(ls -A "$TMP/longname" | cut -c1-20)"
fi
if [ -c /dev/full ]; then
    expect_failed "--json-file /dev/full: exit 1, the file named" 1 \
        "procsum: writing output (/dev/full): No space left on device" verify --json-file /dev/full "$pid"
else
    fail "no /dev/full: a full disk cannot be checked"
fi
expect_failed "--prometheus in a missing directory: exit 1, the file named" 1 \
    "procsum: writing output ($TMP/missing/procsum.prom): No such file or directory" \
    verify --prometheus "$TMP/missing/procsum.prom" "$pid"
# A device at the path (say /dev/null, by a slip) is refused, never replaced by a file.
mknod -m 666 "$TMP/device" c 1 3 || fail "a device node for the test"
expect_failed "--prometheus naming a device: bad usage, the device left as it is" 2 \
    "procsum: --prometheus: $TMP/device is a device or special file, not a regular file (the metrics file is replaced whole at each write) (see procsum --help)" \
    verify --prometheus "$TMP/device" "$pid"
expect_failed "--prometheus naming a directory: bad usage" 2 \
    "procsum: --prometheus: $TMP is a directory, not a regular file (the metrics file is replaced whole at each write) (see procsum --help)" \
    watch --prometheus "$TMP" "$pid"
check "--prometheus naming a device: still a device" test -c "$TMP/device"
# The same failure with the path from a configuration file (whose strings are freed last).
printf '[output]\nprometheus = %s\n' "$TMP/missing/procsum.prom" >"$TMP/prom.conf"
expect_failed "prometheus in the configuration file, in a missing directory: the file named" 1 \
    "procsum: writing output ($TMP/missing/procsum.prom): No such file or directory" \
    verify --config "$TMP/prom.conf" "$pid"
expect_failed "--prometheus with regions: bad usage" 2 \
    "procsum: --prometheus does not apply to regions (see procsum --help)" regions --prometheus "$prom"

# ---- the alerting rule the docs give ------------------------------------------
python3 - "$TESTS/../docs/operating.md" "$TMP/rules.yml" <<'EOF_PY'
import re, sys
rules = re.search(r"```yaml\n(.*?)```", open(sys.argv[1], encoding="utf-8").read(), re.S)
open(sys.argv[2], "w").write(rules.group(1) if rules else "")
EOF_PY
if promtool check rules "$TMP/rules.yml" >"$TMP/rules.out" 2>&1 && grep -q "procsum_changes_total" "$TMP/rules.yml"; then
    pass "docs: promtool check rules accepts the alerting rule"
else
    fail "docs: promtool check rules accepts the alerting rule" "$(cat "$TMP/rules.out")"
fi

# ---- the end ---------------------------------------------------------------
kill -TERM "$watch_pid"
wait "$watch_pid"
rc=$?
if [ "$rc" -eq 0 ]; then pass "watch: exit 0 at SIGTERM"; else fail "watch: exit 0 at SIGTERM" "exit $rc" "$(cat "$TMP/watch.err")"; fi
if [ ! -s "$TMP/watch.out" ]; then pass "no --json: nothing on standard output"; else fail "no --json: nothing on standard output" "$(head -c 300 "$TMP/watch.out")"; fi
check "textfile: still whole after the end" promtool check metrics <"$prom"

finish
