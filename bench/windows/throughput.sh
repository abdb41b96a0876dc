#!/usr/bin/env bash
# procsum.exe bench under Wine against procsum bench on Linux, in turn in one
# run: the median throughput of each algorithm over ROUNDS runs of each, and
# the ratio Windows / Linux (the target is at least 0.5 for every algorithm).
# Also, in the same rounds, bench_residency.exe: what asking the residency of
# every code page costs under Wine (every pass asks it before it reads), and
# so the throughput no pass can exceed there, against each Linux figure:
# with hashing free, and with each page hashed as fast as Linux hashes it
# (the most a pass under Wine can reach against Linux: its page time is
# Linux's plus the question).
#
#   bash bench/windows/throughput.sh [BUILD_DIR] [WIN_BUILD_DIR] [ROUNDS]
#
# Defaults: build, build-win, 7. Build both first (./dev setup and
# scripts/windows-test.sh, which also makes build-win's Wine prefix). Wine's
# own start (its server and services) is kept out of the figures: one
# wineserver is started and warmed before the first round and stays up
# until the end. Each `bench` line is one discovery and one hashing pass over
# the process's own code; its GB/s is that pass's bytes over its wall time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
build=${1:-build}
win=${2:-build-win}
rounds=${3:-7}
case $rounds in '' | *[!0-9]* | 0)
    echo "throughput.sh: ROUNDS must be a positive number, not '$rounds'" >&2
    exit 2
    ;;
esac
wine=/usr/lib/wine/wine64
server=/usr/lib/wine/wineserver
for f in "$build/tools/procsum" "$win/tools/procsum.exe" "$win/bench/bench_residency.exe" "$wine" "$server"; do
    [ -e "$f" ] || {
        echo "throughput.sh: $f is missing (build both first; see the comment at the top)" >&2
        exit 1
    }
done
export WINEPREFIX=$PWD/$win/wineprefix WINEDEBUG=-all
WINEPATH="Z:$(echo "$PWD/$win/src" | tr / '\\')"
export WINEPATH
out=$(mktemp -d)
trap '"$server" -k 2>/dev/null || true; rm -rf "$out"' EXIT

"$server" -p
"$wine" "$win/tools/procsum.exe" version >/dev/null
sleep 3 # Wine's services settle before the first round

for _ in $(seq "$rounds"); do
    "$wine" "$win/tools/procsum.exe" bench | tr -d '\r' | awk 'NR > 1 {print $1, $NF}' >>"$out/windows"
    "$build/tools/procsum" bench | awk 'NR > 1 {print $1, $NF}' >>"$out/linux"
    "$wine" "$win/bench/bench_residency.exe" 3 | tr -d '\r' >>"$out/residency"
done

python3 - "$out/windows" "$out/linux" "$rounds" "$out/residency" <<'PY'
import statistics, sys
def medians(path):
    runs = {}
    for line in open(path):
        algo, gbs = line.split()
        runs.setdefault(algo, []).append(float(gbs))
    return {a: (statistics.median(v), min(v), max(v)) for a, v in runs.items()}
win, lin = medians(sys.argv[1]), medians(sys.argv[2])
import re
asks = [re.search(r"([0-9.]+) us a page, at most ([0-9.]+) GB/s", l) for l in open(sys.argv[4])]
asks = [(float(m.group(1)), float(m.group(2))) for m in asks if m]
us, bound = (statistics.median(a[0] for a in asks), statistics.median(a[1] for a in asks)) if asks else (0.0, 0.0)
print(f"procsum bench, GB/s of one pass, median (min-max) of {sys.argv[3]} runs each, in turn")
print(f"| algorithm | Windows (Wine) | Linux | Windows / Linux | residency bound / Linux | with Linux's hashing |")
print(f"|---|---|---|---|---|---|")
for algo in sorted(lin):
    w, l = win.get(algo, (0.0, 0.0, 0.0)), lin[algo]
    ratio = w[0] / l[0] if l[0] > 0 else 0.0
    cap = bound / l[0] if l[0] > 0 else 0.0
    # A page asked about and then hashed as fast as Linux hashes it: the most Wine allows, Linux's page time over both.
    hash_us = 4096 / (l[0] * 1e3) if l[0] > 0 else 0.0
    both = hash_us / (hash_us + us) if hash_us + us > 0 else 0.0
    print(f"| {algo} | {w[0]:.2f} ({w[1]:.2f}-{w[2]:.2f}) | {l[0]:.2f} ({l[1]:.2f}-{l[2]:.2f}) | {ratio:.2f} | {cap:.2f} "
          f"| {both:.2f} |")
print(f"Residency under Wine (QueryWorkingSetEx, 64 pages a call), median of the rounds: {us:.2f} us a page, "
      f"so at most {bound:.2f} GB/s for a pass that asks it, with hashing free")
PY
