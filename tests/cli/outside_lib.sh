# Shared by verify.sh and watch.sh: programs that do not link procsum,
# started here and changed from outside through /proc/PID/mem. Source after
# lib.sh. PSUM_OUTSIDE_TARGET names tests/outside_target.c's program.
if [ -z "${PSUM_OUTSIDE_TARGET:-}" ] || [ ! -x "$PSUM_OUTSIDE_TARGET" ]; then
    echo "PSUM_OUTSIDE_TARGET must name the outside_target program" >&2
    exit 2
fi
need_python

started_pids=()
stop_started() {
    for p in "${started_pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf -- "$TMP"
}
trap stop_started EXIT

# start_target FILE [ARGS...]: runs a copy of outside_target at FILE; sets $target_pid.
start_target() {
    local file=$1
    shift
    [ -e "$file" ] || cp -- "$PSUM_OUTSIDE_TARGET" "$file"
    "$file" "$@" &
    target_pid=$!
    started_pids+=("$target_pid")
    # Running once its program is mapped (exec done).
    for _ in $(seq 200); do
        grep -qF -- "$file" "/proc/$target_pid/maps" 2>/dev/null && return 0
        kill -0 "$target_pid" 2>/dev/null || return 0 # already over (a short-lived one)
        sleep 0.01
    done
    return 1
}

# spare_offset FILE [SYMBOL]: the file offset of byte 5 of SYMBOL (outside_spare), from the ELF's symbol table
# and program headers.
spare_offset() {
    python3 - "$1" "${2:-outside_spare}" <<'EOF_PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
symbol = sys.argv[2].encode()
assert data[:4] == b"\x7fELF" and data[4] == 2, "a 64-bit ELF"
phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", data, 0x36)
sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
value = None
for s in sections:
    if s[1] in (2, 11):  # SYMTAB, DYNSYM
        strtab = sections[s[6]]
        for k in range(s[5] // 24):
            name, info, other, shndx, val, size = struct.unpack_from("<IBBHQQ", data, s[4] + k * 24)
            end = data.index(b"\0", strtab[4] + name)
            if data[strtab[4] + name:end] == symbol:
                value = val
assert value is not None, "%s not found" % symbol
vaddr = value + 5
for i in range(phnum):
    ptype, flags, off, va, pa, filesz, memsz, align = struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize)
    if ptype == 1 and va <= vaddr < va + filesz:
        print(off + (vaddr - va))
        break
EOF_PY
}

# flip_at PID FILE OFFSET BIT: flips a bit of the byte mapped from FILE at OFFSET in PID's memory,
# through /proc/PID/mem; prints the byte's old and new value in hex.
flip_at() {
    python3 - "$@" <<'EOF_PY'
import os, sys
pid, path, offset, bit = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
addr = None
with open("/proc/%s/maps" % pid) as f:
    for line in f:
        parts = line.split()
        if len(parts) >= 6 and parts[5] == path:
            start, end = (int(x, 16) for x in parts[0].split("-"))
            off = int(parts[2], 16)
            if off <= offset < off + (end - start):
                addr = start + (offset - off)
assert addr is not None, "no mapping of %s holds offset %d" % (path, offset)
fd = os.open("/proc/%s/mem" % pid, os.O_RDWR)
old = os.pread(fd, 1, addr)[0]
os.pwrite(fd, bytes([old ^ (1 << bit)]), addr)
os.close(fd)
print("%02x %02x" % (old, old ^ (1 << bit)))
EOF_PY
}

# tracer_int3 PID FILE OFFSET OUT: a tracer attaches to PID, writes an int3 at the byte mapped from FILE at
# OFFSET, waits until a line of OUT says breakpoint, writes the byte back, detaches, and waits until a line
# says restored (60 s each at most).
tracer_int3() {
    python3 - "$@" <<'EOF_PY'
import ctypes, json, os, sys, time
pid, path, offset, out = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
libc = ctypes.CDLL(None, use_errno=True)
for line in open("/proc/%d/maps" % pid):
    parts = line.split()
    if len(parts) >= 6 and parts[5] == path and "x" in parts[1]:
        start, end = (int(x, 16) for x in parts[0].split("-"))
        if int(parts[2], 16) <= offset < int(parts[2], 16) + end - start:
            addr = start + offset - int(parts[2], 16)
assert libc.ptrace(16, pid, None, None) == 0, "PTRACE_ATTACH"
os.waitpid(pid, 0)
fd = os.open("/proc/%d/mem" % pid, os.O_RDWR)
old = os.pread(fd, 1, addr)
os.pwrite(fd, b"\xcc", addr)
def said(cond):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(cond(json.loads(l)) for l in open(out) if l.endswith("\n")):
            return True
        time.sleep(0.05)
    return False
said(lambda l: l.get("procsum.cause") == "breakpoint")
os.pwrite(fd, old, addr)
os.close(fd)
libc.ptrace(17, pid, None, None)
said(lambda l: l.get("procsum.verdict") == "restored")
EOF_PY
}

# json_lines FILE: checks that every line is one JSON object, then runs the python CHECK on them (list `lines`).
json_check() {
    local file=$1 check=$2
    shift 2
    python3 - "$file" "$@" <<EOF_PY
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
args = sys.argv[2:]
alerts = [l for l in lines if l.get("event.kind") == "alert"]
states = [l for l in lines if l.get("event.kind") == "state"]
$check
EOF_PY
}

# wait_for FILE PYTHON_CONDITION: until a whole line of FILE satisfies it (each line as `l`), at most 60 s by the clock.
wait_for() {
    python3 - "$1" "$2" <<'EOF_PY'
import json, sys, time
# One process polling by the clock: a python3 started per look takes a second each on a loaded machine.
deadline = time.monotonic() + 60
while True:
    try:
        with open(sys.argv[1], encoding="utf-8") as f:
            for line in f:
                if line.endswith("\n"):
                    l = json.loads(line)
                    if eval(sys.argv[2]):
                        sys.exit(0)
    except FileNotFoundError:
        pass
    if time.monotonic() > deadline:
        sys.exit(1)
    time.sleep(0.05)
EOF_PY
}
