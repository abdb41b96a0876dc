#!/usr/bin/env bash
# procsum.service as the build makes it: its ExecStart names the installed
# procsum with the command a host runs; it keeps the priority, the hardening
# and the capabilities docs/operating.md describes; systemd-analyze verify
# prints nothing about it (with ExecStart pointed at the built procsum and
# the built manual pages on MANPATH, since it checks both). The unit's
# capabilities are what reading another user's processes needs: procsum
# verify limited to them checks as much as root does, and without each one
# it checks less (needs root, as CI runs; setpriv from util-linux).
# PSUM_UNIT names the built unit, PSUM_BINDIR the bindir it was made for,
# PSUM_MAN_DIR the built manual pages.
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

for v in PSUM_UNIT PSUM_BINDIR PSUM_MAN_DIR; do
    if [ -z "${!v:-}" ]; then
        echo "$v must be set" >&2
        exit 2
    fi
done
if [ ! -s "$PSUM_UNIT" ]; then
    fail "the unit was built" "missing: $PSUM_UNIT"
    finish
fi
for tool in systemd-analyze setpriv python3; do
    if ! have "$tool"; then
        fail "$tool is needed (Debian: systemd, util-linux, python3)"
        finish
    fi
done

# setting KEY: the values of every KEY= line of the unit, one per line.
setting() { sed -n "s/^$1=//p" "$PSUM_UNIT"; }

# ---- what the unit says ---------------------------------------------------------
want_exec="$PSUM_BINDIR/procsum watch --all --journal --prometheus /var/lib/prometheus/node-exporter/procsum.prom"
if [ "$(setting ExecStart)" = "$want_exec" ]; then
    pass "ExecStart runs the installed procsum: watch --all --journal --prometheus"
else
    fail "ExecStart runs the installed procsum: watch --all --journal --prometheus" "ExecStart=$(setting ExecStart)" "want: $want_exec"
fi

missing=()
for kv in Nice=19 CPUSchedulingPolicy=idle IOSchedulingClass=idle Restart=on-failure NoNewPrivileges=yes \
    ProtectSystem=strict ProtectHome=read-only PrivateTmp=yes ProtectKernelTunables=yes ProtectKernelModules=yes \
    ProtectControlGroups=yes RestrictNamespaces=yes SystemCallArchitectures=native \
    ReadWritePaths=-/var/lib/prometheus/node-exporter WantedBy=multi-user.target; do
    setting "${kv%%=*}" | grep -qxF -- "${kv#*=}" || missing+=("$kv")
done
if [ ${#missing[@]} -eq 0 ]; then pass "idle priority, restart on failure, the hardening"; else fail "idle priority, restart on failure, the hardening" "missing: ${missing[*]}"; fi

# /proc must show every process, whole.
if grep -qE '^(ProtectProc=invisible|ProtectProc=noaccess|ProcSubset=pid|PrivateNetwork=yes|User=|DynamicUser=)' "$PSUM_UNIT"; then
    fail "nothing hides processes or the connector" "$(grep -E '^(ProtectProc|ProcSubset|PrivateNetwork|User|DynamicUser)=' "$PSUM_UNIT")"
else
    pass "nothing hides processes or the connector"
fi

caps=$(setting CapabilityBoundingSet)
if [ "$caps" = "$(setting AmbientCapabilities)" ] && [ "$(printf '%s\n' $caps | sort | tr '\n' ' ')" = \
    "CAP_CHECKPOINT_RESTORE CAP_DAC_READ_SEARCH CAP_NET_ADMIN CAP_SYS_PTRACE " ]; then
    pass "bounding and ambient capabilities: the same four"
else
    fail "bounding and ambient capabilities: the same four" "bounding: $caps" "ambient: $(setting AmbientCapabilities)"
fi

# ---- systemd-analyze verify ---------------------------------------------------
# The unit as built, but starting the built procsum, and its man: pages findable.
mkdir -p "$TMP/unit" "$TMP/man/man1" "$TMP/man/man5"
ln -s -- "$PSUM_MAN_DIR/procsum.1" "$TMP/man/man1/procsum.1"
ln -s -- "$PSUM_MAN_DIR/procsum.conf.5" "$TMP/man/man5/procsum.conf.5"
sed "s|^ExecStart=$PSUM_BINDIR/procsum |ExecStart=$PROCSUM |" "$PSUM_UNIT" >"$TMP/unit/procsum.service"
# analyze FILE: systemd-analyze verify's output and exit code in $TMP/analyze and $arc.
analyze() {
    MANPATH="$TMP/man" SYSTEMD_LOG_COLOR=0 systemd-analyze verify "$1" >"$TMP/analyze" 2>&1
    arc=$?
}
if grep -qxF "ExecStart=$PROCSUM watch --all --journal --prometheus /var/lib/prometheus/node-exporter/procsum.prom" \
    "$TMP/unit/procsum.service"; then
    analyze "$TMP/unit/procsum.service"
    if [ "$arc" -eq 0 ] && [ ! -s "$TMP/analyze" ]; then
        pass "systemd-analyze verify: no warning"
    else
        fail "systemd-analyze verify: no warning" "exit $arc" "$(head -c 1500 "$TMP/analyze")"
    fi
else
    fail "the unit's ExecStart can point at the built procsum"
fi
# The same check notices a mistake: a misspelt setting.
mkdir -p "$TMP/bad"
sed 's/^ProtectSystem=/ProtectSystm=/' "$TMP/unit/procsum.service" >"$TMP/bad/procsum.service"
analyze "$TMP/bad/procsum.service"
if grep -q 'ProtectSystm' "$TMP/analyze"; then
    pass "systemd-analyze verify reports a misspelt setting"
else
    fail "systemd-analyze verify reports a misspelt setting" "$(head -c 600 "$TMP/analyze")"
fi

# ---- the capabilities are what checking another user's process needs -------------------
if [ "$(id -u)" -ne 0 ]; then
    fail "the capability checks need root (CI runs as root)"
    finish
fi
# A program of another user (nobody), run from a file deleted since: only
# /proc/PID/map_files/ still reaches it.
chmod 755 "$TMP"
cp /bin/sleep "$TMP/sleeper"
setpriv --reuid=65534 --regid=65534 --clear-groups "$TMP/sleeper" 300 &
sleeper=$!
trap 'kill -KILL "$sleeper" 2>/dev/null; wait 2>/dev/null; rm -rf -- "$TMP"' EXIT
for _ in $(seq 200); do
    grep -qF -- "$TMP/sleeper" "/proc/$sleeper/maps" 2>/dev/null && break
    sleep 0.01
done
rm -f -- "$TMP/sleeper"

# pages_with CAPS: verify the sleeper with only CAPS (setpriv's spelling, "" for none);
# prints the pages checked, or "exit N" when it was not verified.
pages_with() {
    setpriv --bounding-set="-all${1:+,$1}" --inh-caps=-all -- "$PROCSUM" verify --json "$sleeper" >"$TMP/v.json" 2>"$TMP/v.err"
    local vrc=$?
    if [ "$vrc" -ne 0 ]; then
        echo "exit $vrc"
        return
    fi
    python3 -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("event.action") == "verified":
        print(r["procsum.pages_checked"])' "$TMP/v.json"
}
unit_caps=$(printf '%s\n' $caps | tr 'A-Z' 'a-z' | sed 's/^cap_/+/' | paste -sd,)
all=$(pages_with "+all")
with_unit=$(pages_with "$unit_caps")
if [ -n "$all" ] && [ "$all" -gt 0 ] 2>/dev/null && [ "$with_unit" = "$all" ]; then
    pass "the unit's capabilities check another user's process as fully as root ($with_unit pages)"
else
    fail "the unit's capabilities check another user's process as fully as root" "all: $all; the unit's ($unit_caps): $with_unit" "$(cat "$TMP/v.err")"
fi
for cap in sys_ptrace dac_read_search checkpoint_restore; do
    fewer=$(pages_with "$(printf '%s' "$unit_caps" | tr ',' '\n' | grep -vx "+$cap" | paste -sd,)")
    case "$fewer" in
    "exit 3") pass "without $cap: refused (exit 3)" ;;
    *[!0-9]* | "") fail "without $cap: checks less" "$fewer" "$(cat "$TMP/v.err")" ;;
    *)
        if [ "$fewer" -lt "$with_unit" ]; then
            pass "without $cap: fewer pages checked ($fewer of $with_unit)"
        else
            fail "without $cap: checks less" "$fewer pages, as many as with it"
        fi
        ;;
    esac
done

finish
