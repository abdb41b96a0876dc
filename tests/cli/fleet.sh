#!/usr/bin/env bash
# The examples for many hosts (dist/examples/, docs/fleet.md) say what
# procsum really writes. The alerting rules pass promtool check rules and
# their unit tests (promtool test rules), name only metrics that
# tools/output/prometheus.c writes and only causes the library has, and
# every cause is in one of the two change alerts. The log shippers' configs
# (Vector, Fluent Bit, Elastic Agent, Wazuh) parse as YAML or XML, and every
# JSON field they name is one tools/output/jsonl.c writes and one a real
# procsum verify --json prints; every journal field and MESSAGE_ID they
# name is one tools/output/journal.c sends; every event action named is one
# the command reports.
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname -- "${BASH_SOURCE[0]}")/outside_lib.sh"

SRC=$(cd -- "$TESTS/.." && pwd)
EX="$SRC/dist/examples"
JSONL="$SRC/tools/output/jsonl.c"
JOURNAL="$SRC/tools/output/journal.c"
PROM="$SRC/tools/output/prometheus.c"
if ! have promtool; then
    fail "promtool is needed (Debian: prometheus)"
    finish
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
    fail "python3's yaml module is needed (Debian: python3-yaml)"
    finish
fi

# ---- the alerting rules ---------------------------------------------------------
rules="$EX/procsum-alerts.yml"
if promtool check rules "$rules" >"$TMP/promtool" 2>&1; then
    pass "promtool check rules: $(grep -o '[0-9]* rules found' "$TMP/promtool")"
else
    fail "promtool check rules" "$(cat "$TMP/promtool")"
fi
if (cd "$EX" && promtool test rules procsum-alerts.test.yml) >"$TMP/promtool" 2>&1; then
    pass "promtool test rules: every alert fires when it should, and only then"
else
    fail "promtool test rules" "$(head -c 2000 "$TMP/promtool")"
fi

mapfile -t metrics < <(grep -v '^ *#' "$rules" | grep -oE 'procsum_[a-z_]+' | sort -u)
each_found "the rules name only metrics prometheus.c writes: ${metrics[*]}" 2 "$PROM" F '"%s' "${metrics[@]}"

# The causes the library names (PROCSUM_CAUSE_MAP), and those the rules match.
mapfile -t causes < <(sed -n '/define PROCSUM_CAUSE_MAP/,/^$/p' "$SRC/include/procsum.h" |
    grep -oE 'XX\([A-Z_]+, [0-9]+, "[a-z-]+"' | sed 's/.*"\(.*\)"/\1/')
mapfile -t matched < <(grep -oE 'cause=~"[^"]*"' "$rules" | sed 's/cause=~"\(.*\)"/\1/' | tr '|' '\n')
missing=()
for c in "${matched[@]}"; do
    printf '%s\n' "${causes[@]}" | grep -qxF -- "$c" || missing+=("unknown cause: $c")
done
for c in "${causes[@]}"; do
    printf '%s\n' "${matched[@]}" | grep -qxF -- "$c" || missing+=("cause never alerted: $c")
done
[ ${#causes[@]} -ge 7 ] || missing+=("(procsum.h read: only ${#causes[@]} causes)")
none_missing "the rules' causes are the library's ${#causes[@]} causes, each in one alert"

# ---- the log shippers' configs --------------------------------------------------------
shippers=(vector-journald.yaml vector-file.yaml fluent-bit-journald.conf fluent-bit-file.conf
    fluent-bit-parsers.conf elastic-agent.yml wazuh-agent.xml wazuh-rules.xml)
missing=()
for f in "${shippers[@]}"; do
    [ -s "$EX/$f" ] || missing+=("$f")
done
none_missing "the shippers' examples are there"
if python3 - "$EX" <<'EOF_PY' >"$TMP/parse" 2>&1; then
import glob, os, sys, yaml
import xml.etree.ElementTree as ET
ex = sys.argv[1]
for f in sorted(glob.glob(os.path.join(ex, "*.y*ml"))):
    assert isinstance(yaml.safe_load(open(f)), dict), f
for f in sorted(glob.glob(os.path.join(ex, "*.xml"))):
    ET.parse(f)
EOF_PY
    pass "the YAML and XML examples parse"
else
    fail "the YAML and XML examples parse" "$(cat "$TMP/parse")"
fi

# JSON field names: ECS-style keys and procsum.*, not paths or file names.
(cd "$EX" && cat "${shippers[@]}") >"$TMP/shippers"
mapfile -t fields < <(grep -oP '(?<![/\w.-])(@timestamp|(event|process|file|host|error|procsum)\.[a-z_]+)' "$TMP/shippers" |
    grep -vE '\.(conf|jsonl|prom|service|ya?ml|xml)$' | sort -u)
missing=()
for f in "${fields[@]}"; do
    grep -qF -e "\\\"$f\\\"" -e "\"$f\"" "$JSONL" || missing+=("$f")
done
[ ${#fields[@]} -ge 10 ] || missing+=("(only ${#fields[@]} fields found)")
none_missing "every JSON field the shippers name is written by jsonl.c (${#fields[@]}: ${fields[*]})"

# The same names in what procsum really prints: a page changed, a clean
# process, a process gone (error.message, error.code) and the summary.
prog="$TMP/prog"
start_target "$prog" || fail "target starts"
changed_pid=$target_pid
flip_at "$changed_pid" "$prog" "$(spare_offset "$prog")" 2 >/dev/null
start_target "$TMP/clean" || fail "second target starts"
true &
gone_pid=$!
wait "$gone_pid"
run verify --json "$changed_pid" "$target_pid" "$gone_pid"
cp -- "$TMP/out" "$TMP/real.json"
if python3 - "$TMP/real.json" "${fields[@]}" <<'EOF_PY' >"$TMP/real" 2>&1; then
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
keys = set().union(*lines)
assert any(l.get("event.kind") == "alert" for l in lines), "no alert in the real output"
missing = [f for f in sys.argv[2:] if f not in keys]
assert not missing, "not in the real output: %s (it has %s)" % (missing, sorted(keys))
EOF_PY
    pass "every JSON field the shippers name is in real procsum verify --json output"
else
    fail "every JSON field the shippers name is in real procsum verify --json output" "$(cat "$TMP/real")" "$(show_run)"
fi

# Journal fields and MESSAGE_IDs.
mapfile -t jfields < <(grep -oE '\b(PROCSUM_[A-Z_]+|SYSLOG_IDENTIFIER|MESSAGE_ID|OBJECT_PID|PRIORITY)\b' "$TMP/shippers" | sort -u)
each_found "every journal field the shippers name is sent by journal.c (${jfields[*]})" 5 "$JOURNAL" F '"%s=' "${jfields[@]}"

mapfile -t ids < <(grep -oE '\b[0-9a-f]{32}\b' "$TMP/shippers" | sort -u)
missing=()
for id in "${ids[@]}"; do
    grep -qE "^#define ID_[A-Z_]+ \"$id\"" "$JOURNAL" || missing+=("$id")
done
[ ${#ids[@]} -ge 3 ] || missing+=("(only ${#ids[@]} MESSAGE_IDs found)")
# The alerts' two: a page changed, a page differs from its file.
for name in ID_CODE_CHANGED ID_DIFFERS_FROM_FILE; do
    id=$(sed -n "s/^#define $name \"\([0-9a-f]*\)\"/\1/p" "$JOURNAL")
    grep -qF -- "$id" "$EX/vector-journald.yaml" && grep -qF -- "$id" "$EX/fluent-bit-journald.conf" ||
        missing+=("$name ($id) in the journald examples")
done
none_missing "every MESSAGE_ID the shippers name is one journal.c sends, and both alert ids are used"

# Event actions and kinds the Wazuh rules and the filters match.
mapfile -t actions < <(grep -oE '\^[a-z-]+\$' "$EX/wazuh-rules.xml" | tr -d '^$' | sort -u)
missing=()
for a in "${actions[@]}"; do
    grep -rqF -e "\"$a\"" -e "\\\"$a\\\"" "$SRC/tools" "$SRC/include/procsum.h" || missing+=("$a")
done
# Each kind as real output has it: an alert, a process's state, the summary.
for k in alert state metric; do
    grep -qF "\"event.kind\":\"$k\"" "$TMP/real.json" || missing+=("event.kind $k")
done
[ ${#actions[@]} -ge 10 ] || missing+=("(only ${#actions[@]} values found)")
none_missing "every value the Wazuh rules match is one procsum writes (${#actions[@]})"

finish
