#!/usr/bin/env bash
# A real server, PostgreSQL: its postmaster sets SIGURG to be ignored as it
# starts and its other processes handle it for their latches, while the
# preload library's start is still armed. Started with the preload library:
# every process of it (the postmaster too) gets its checker, queries work,
# and a bit flipped in the postmaster's code (through /proc/PID/mem, as
# root) is reported by the postmaster's own checker as a bitflip at the
# right file offset. From outside: `procsum verify` finds every process of
# it clean before the flip (exit 0) and the flipped bit after (exit 5).
# As root: the server runs as the user postgres.
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
need_python
if [ -z "${PSUM_PRELOAD_LIB:-}" ]; then
    echo "PSUM_PRELOAD_LIB must name the preload library" >&2
    exit 2
fi
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ] || ! id postgres >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ]; then
    fail "PostgreSQL (Debian's postgresql) and root are needed" "bin: ${bin:-none}; uid $(id -u)"
    finish
fi
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

chmod 755 "$TMP"
data="$TMP/data"
f="$TMP/reports.json"
: >"$f"
: >"$TMP/server.log"
chown postgres "$f" "$TMP/server.log"
mkdir -m 700 "$data" "$TMP/socket" && chown postgres "$data" "$TMP/socket"
port=$((20000 + $$ % 20000))
if ! as_postgres "$bin/initdb" -D "$data" -A trust >"$TMP/initdb.log" 2>&1; then
    fail "initdb" "$(tail -5 "$TMP/initdb.log")"
    finish
fi
stop_server() { as_postgres "$bin/pg_ctl" -D "$data" stop -m immediate >/dev/null 2>&1; }
trap 'stop_server; rm -rf -- "$TMP"' EXIT

LD_PRELOAD="$PSUM_PRELOAD_LIB" PROCSUM_JSON_FILE="$f" PROCSUM_PERIOD_MS=100 \
    as_postgres "$bin/pg_ctl" -D "$data" -l "$TMP/server.log" -w -t 60 \
    -o "-p $port -k $TMP/socket -c listen_addresses=''" start >"$TMP/out" 2>&1
pm=$(head -1 "$data/postmaster.pid" 2>/dev/null)
if [ -z "$pm" ] || ! kill -0 "$pm" 2>/dev/null; then
    fail "the server starts with the preload library" "$(cat "$TMP/out")" "$(tail -5 "$TMP/server.log" 2>/dev/null)"
    finish
fi
pass "the server starts with the preload library"

query() { as_postgres "$bin/psql" -h "$TMP/socket" -p "$port" -d postgres -Atc "$1" 2>&1; }
# The checkers start once the delay (100 ms) is over; a process with one has libprocsum mapped.
checked() { grep -q '/libprocsum\.so' "/proc/$1/maps" 2>/dev/null; }
for _ in $(seq 100); do checked "$pm" && break; sleep 0.1; done
children=$(cat /proc/"$pm"/task/*/children 2>/dev/null)
unchecked=()
for p in $pm $children; do
    checked "$p" || unchecked+=("$p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)")
done
if [ ${#unchecked[@]} -eq 0 ] && [ -n "$children" ]; then
    pass "the postmaster and its $(echo $children | wc -w) processes have a checker"
else
    fail "the postmaster and its processes have a checker" "unchecked: ${unchecked[*]}"
fi
ignored=$(awk '/^SigIgn/ { print $2 }' "/proc/$pm/status")
if [ $((0x$ignored >> 22 & 1)) -eq 1 ]; then
    pass "the postmaster's SIGURG is ignored, as it set it"
else
    fail "the postmaster's SIGURG is ignored, as it set it" "SigIgn $ignored"
fi
# A query wakes backends through their latches (SIGURG between processes).
out=$(query "select count(*) from generate_series(1, 1000); select pg_sleep(0.2); select 42")
if [ "$(echo "$out" | tail -1)" = 42 ]; then pass "queries are answered"; else fail "queries are answered" "$out"; fi

run verify --json $pm $children
if [ "$rc" -eq 0 ] && ! grep -q '"event.kind":"alert"' "$TMP/out"; then
    pass "verify: every process of the server is clean"
else
    fail "verify: every process of the server is clean" "$(show_run)"
fi

# One bit of the postmaster's code, in the middle of its executable mapping of the program.
flip=$(python3 - "$pm" <<'EOF_PY'
import sys
pid = int(sys.argv[1])
for line in open(f"/proc/{pid}/maps"):
    f = line.split()
    if len(f) >= 6 and f[1] == "r-xp" and f[5].endswith("/bin/postgres"):
        start, end = (int(x, 16) for x in f[0].split("-"))
        addr = start + (end - start) // 2 + 0x123
        with open(f"/proc/{pid}/mem", "r+b", buffering=0) as m:
            m.seek(addr)
            old = m.read(1)[0]
            m.seek(addr)
            m.write(bytes([old ^ 0x08]))
        print(int(f[2], 16) + addr - start, f"{old:02x}", f"{old ^ 0x08:02x}")
        break
EOF_PY
)
read -r offset old new <<<"$flip"
if [ -z "${offset:-}" ]; then
    fail "a bit of the postmaster's code is flipped" "no r-xp mapping of bin/postgres in /proc/$pm/maps"
    finish
fi
alert="l[\"event.kind\"] == \"alert\" and l[\"process.pid\"] == $pm and l[\"procsum.verdict\"] == \"bitflip\" and l[\"file.path\"].endswith(\"/bin/postgres\") and l[\"procsum.file_offset\"] == $offset and l[\"procsum.old_bytes\"] == \"$old\" and l[\"procsum.new_bytes\"] == \"$new\""
for _ in $(seq 100); do has_line "$f" "$alert" && break; sleep 0.1; done
if has_line "$f" "$alert"; then
    pass "the postmaster's checker reports the flipped bit (file offset $offset, $old to $new)"
else
    fail "the postmaster's checker reports the flipped bit (file offset $offset, $old to $new)" \
        "$(head -c 1500 "$f")"
fi
run verify --json "$pm"
if [ "$rc" -eq 5 ] && has_line "$TMP/out" "$alert"; then
    pass "verify finds the flipped bit: exit 5, bitflip at file offset $offset"
else
    fail "verify finds the flipped bit: exit 5, bitflip at file offset $offset" "$(show_run)"
fi
finish
