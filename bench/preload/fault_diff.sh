#!/usr/bin/env bash
# Where the page faults of one library preloaded into a fork/exec-heavy
# script come from, against another: bash running /bin/true N times with
# each preloaded (into bash and every /bin/true), every page fault recorded
# with perf (perf record -e page-faults -c 1), then per process name,
# object and function, the faults of each run divided by N and the
# difference, largest first. A fault is dear on a VM and its count does not
# move with the machine's load, so this says what a preload costs and where.
# Figures in docs/benchmarks.md ("What a thread in bash costs").
# usage: bash bench/preload/fault_diff.sh BUILD_DIR [N] [LIB_A LIB_B]
#   default LIB_A: the empty library, LIB_B: the late floor (bench/preload/).
#   A name without a slash is one of: empty, late_floor, floor, preload.
set -eu
build=$(cd "$1" && pwd)
n=${2:-500}
lib_path() {
    case $1 in
    */*) echo "$1" ;;
    preload) echo "$build/tools/preload/libprocsum-preload.so" ;;
    *) echo "$build/bench/libpsum_bench_$1.so" ;;
    esac
}
a=$(lib_path "${3:-empty}")
b=$(lib_path "${4:-late_floor}")
for lib in "$a" "$b"; do
    [ -f "$lib" ] || { echo "no $lib: build $build first (ninja)" >&2; exit 2; }
done
command -v perf >/dev/null || { echo "perf is needed (apt-get install linux-perf)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf -- "$out"' EXIT
export PROCSUM_JSON_FILE="$out/reports.json"
loop="for ((i = 0; i < $n; i++)); do /bin/true; done"

# faults LIB NAME: "count<TAB>comm dso symbol" lines for one run, in $out/NAME.
faults() {
    perf record -q -o "$out/$2.data" -e page-faults -c 1 -- env LD_PRELOAD="$1" bash -c "$loop" >/dev/null 2>&1
    perf report -i "$out/$2.data" --stdio -n --sort comm,dso,sym 2>/dev/null |
        awk '!/^#/ && NF > 3 { c = $2; $1 = ""; $2 = ""; sub(/^ +/, ""); print c "\t" $0 }' | sort -t"$(printf '\t')" -k2 >"$out/$2"
}
faults "$a" a
faults "$b" b
total() { awk -F'\t' -v n="$n" '{ s += $1 } END { printf "%.1f", s / n }' "$out/$1"; }
echo "page faults per /bin/true run (bash and its child before exec included), $n runs"
echo "  A $(basename "$a"): $(total a)"
echo "  B $(basename "$b"): $(total b)"
echo
printf '%8s %8s %8s  %s\n' A B B-A "process object function"
join -t"$(printf '\t')" -1 2 -2 2 -a1 -a2 -e0 -o 0,1.1,2.1 "$out/a" "$out/b" |
    awk -F'\t' -v n="$n" '{ d = ($3 - $2) / n; if (d >= 0.3 || d <= -0.3) printf "%8.2f %8.2f %8.2f  %s\n", $2 / n, $3 / n, d, $1 }' |
    sort -k3 -g -r
