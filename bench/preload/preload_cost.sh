#!/usr/bin/env bash
# What libprocsum-preload.so costs, all in one run (bench/preload/README-less: see docs/benchmarks.md):
#   (a) bash running /bin/true N times, nothing preloaded
#   (b) the same with an empty library preloaded
#   (c) the same with libprocsum-preload.so preloaded (it sets up a checker in bash and in every /bin/true)
#   and python3 in a CPU loop of about 2 s, without and with the preload library.
# Each case runs ROUNDS times, interleaved; medians are compared.
# usage: bash bench/preload/preload_cost.sh BUILD_DIR [ROUNDS] [N]
set -eu
build=$(cd "$1" && pwd)
rounds=${2:-7}
n=${3:-2000}
preload="$build/tools/preload/libprocsum-preload.so"
empty="$build/bench/libpsum_bench_empty.so"
[ -f "$preload" ] && [ -f "$empty" ] || { echo "build $build first (ninja)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf -- "$out"' EXIT
export PROCSUM_JSON_FILE="$out/reports.json"

loop="for ((i = 0; i < $n; i++)); do /bin/true; done"
py='x = 0
for i in range(12000000): x += i * i
'
# seconds PRELOAD COMMAND...: wall time of one run.
seconds() {
    local lib=$1
    shift
    local t0 t1
    t0=$(date +%s.%N)
    if [ -n "$lib" ]; then LD_PRELOAD="$lib" "$@"; else env -u LD_PRELOAD "$@"; fi
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for r in $(seq "$rounds"); do
    seconds "" bash -c "$loop" >>"$out/a"
    seconds "$empty" bash -c "$loop" >>"$out/b"
    seconds "$preload" bash -c "$loop" >>"$out/c"
    seconds "" python3 -c "$py" >>"$out/p0"
    seconds "$preload" python3 -c "$py" >>"$out/p1"
done
a=$(median <"$out/a"); b=$(median <"$out/b"); c=$(median <"$out/c")
p0=$(median <"$out/p0"); p1=$(median <"$out/p1")
printf 'bash, %d x /bin/true, median of %d (s): none %.3f  empty library %.3f  libprocsum-preload %.3f\n' "$n" "$rounds" "$a" "$b" "$c"
printf '  empty/none %.3f   preload/empty %.3f (target <= 1.05)   preload/none %.3f\n' \
    "$(echo "$b / $a" | bc -l)" "$(echo "$c / $b" | bc -l)" "$(echo "$c / $a" | bc -l)"
printf 'python3 CPU loop, median of %d (s): without %.3f  with libprocsum-preload %.3f  ratio %.3f (target <= 1.03)\n' \
    "$rounds" "$p0" "$p1" "$(echo "$p1 / $p0" | bc -l)"
if [ -s "$PROCSUM_JSON_FILE" ]; then
    echo "reports written during the runs (none expected):"
    head -5 "$PROCSUM_JSON_FILE"
fi
