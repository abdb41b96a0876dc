#!/usr/bin/env bash
# What libprocsum-preload.so costs, all in one run (figures in docs/benchmarks.md):
#   bash running /bin/true N times with, preloaded into bash and every /bin/true,
#     nothing; an empty library; the sleeping-thread library (bench/preload/floor.c:
#     one thread that only sleeps, one more in a forked child); the late floor
#     (bench/preload/late_floor.c: one thread that only sleeps, started when
#     the delay is over, in each process that lives that long: the floor for
#     any checker that starts late); libprocsum-preload.so; and the loop
#     under `procsum run` (the preload library asking run to check each
#     process that lives past the delay from outside; run's own CPU counts)
#   a python3 CPU loop of about 1 s with nothing, the late floor, the preload
#     library, and under `procsum run`; the loop prints the CPU time of its
#     other threads (the checker's, inside).
# python3 is the interpreter itself (sys.executable), not a wrapper script in
# PATH: a wrapper such as pyenv's shim runs a bash script with dozens of
# processes first, which would be measured instead of the loop.
# Each case runs ROUNDS times, the cases taking turns (each round starting one
# case later); medians of wall time are
# compared, and of CPU time (user + system, the script's and its processes').
# OTHER_BUILD (say, a build of an older commit): its libprocsum-preload.so is
# one case more, in the same rounds, so that two versions are compared at one load.
# usage: bash bench/preload/preload_cost.sh BUILD_DIR [ROUNDS] [N] [OTHER_BUILD]
set -eu
build=$(cd "$1" && pwd)
rounds=${2:-7}
n=${3:-2000}
preload="$build/tools/preload/libprocsum-preload.so"
empty="$build/bench/libpsum_bench_empty.so"
floor="$build/bench/libpsum_bench_floor.so"
late="$build/bench/libpsum_bench_late_floor.so"
procsum="$build/tools/procsum"
[ -x "$procsum" ] && [ -f "$preload" ] && [ -f "$empty" ] && [ -f "$floor" ] && [ -f "$late" ] || { echo "build $build first (ninja)" >&2; exit 2; }
other=
if [ -n "${4:-}" ]; then
    other="$(cd "$4" && pwd)/tools/preload/libprocsum-preload.so"
    [ -f "$other" ] || { echo "no $other" >&2; exit 2; }
fi
python=$(python3 -c 'import sys; print(sys.executable)')
out=$(mktemp -d)
trap 'rm -rf -- "$out"' EXIT
export PROCSUM_JSON_FILE="$out/reports.json"

loop="for ((i = 0; i < $n; i++)); do /bin/true; done"
py='import os
x = 0
for i in range(12000000): x += i * i
ns = 0
for t in os.listdir("/proc/self/task"):
    if int(t) != os.getpid():
        with open("/proc/self/task/%s/schedstat" % t) as f:
            ns += int(f.read().split()[0])
print(ns / 1e6)
'
# run NAME PRELOAD COMMAND...: appends "wall cpu faults" of one run to $out/NAME
# (page faults of the command and every process it waited for, through GNU
# time where it is installed; a fault is dear on a VM, and its count does not
# move with the machine's load).
gnu_time=$(command -v /usr/bin/time || true)
run() {
    local name=$1 lib=$2
    shift 2
    local env=(env -u LD_PRELOAD)
    if [ "$lib" = @run ]; then
        env=(env -u LD_PRELOAD "$procsum" run --json-file "$out/run_reports.json" --)
    elif [ -n "$lib" ]; then
        env=(env LD_PRELOAD="$lib")
    fi
    if [ -n "$gnu_time" ]; then
        "$gnu_time" -o "$out/t" -f '%e %U %S %R %F' "${env[@]}" "$@" >>"$out/$name.out"
        awk '{ print $1, $2 + $3, $4 + $5 }' "$out/t" >>"$out/$name"
    else
        local TIMEFORMAT='%R %U %S'
        { time "${env[@]}" "$@" >>"$out/$name.out"; } 2>"$out/t"
        awk '{ print $1, $2 + $3, 0 }' "$out/t" >>"$out/$name"
    fi
}
# median NAME COLUMN
median() {
    awk -v c="$2" '{ print $c }' "$out/$1" | sort -g |
        awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
# round_ratio A B: the median over the rounds of A's wall time / B's in the
# same round (the cases of a round run back to back, at one speed of this
# machine, whose speed drifts by 10-30 % over minutes).
round_ratio() {
    paste -d' ' "$out/$1" "$out/$2" | awk '{ print $1 / $4 }' | sort -g |
        awk '{ v[NR] = $1 } END { printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
bash_cases=(none:"" empty:"$empty" floor:"$floor" late:"$late" preload:"$preload" run:@run)
py_cases=(py_none:"" py_late:"$late" py_preload:"$preload" py_run:@run)
[ -z "$other" ] || { bash_cases+=(other:"$other"); py_cases+=(py_other:"$other"); }
# run_rotated R LOOP... CASES: each round starts one case later, so that no case always runs right after another.
run_rotated() {
    local r=$1 n=$2
    shift 2
    local cmd=("${@:1:$n}")
    shift "$n"
    local cases=("$@") k
    for ((k = 0; k < ${#cases[@]}; k++)); do
        local c=${cases[$(((k + r) % ${#cases[@]}))]}
        run "${c%%:*}" "${c#*:}" "${cmd[@]}"
    done
}
for r in $(seq "$rounds"); do
    run_rotated "$r" 3 bash -c "$loop" "${bash_cases[@]}"
    run_rotated "$r" 3 "$python" -c "$py" "${py_cases[@]}"
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'bash, %d x /bin/true, median of %d, wall s (CPU s) [page faults per /bin/true]:\n' "$n" "$rounds"
for c in none empty floor late preload run ${other:+other}; do
    printf '  %-8s %7.3f (%.3f) [%.1f]\n' "$c" "$(median $c 1)" "$(median $c 2)" \
        "$(awk -v a="$(median $c 3)" -v n="$n" 'BEGIN { print a / n }')"
done
# ratio_line A B: "A/B wall, CPU"
ratio_line() { printf '%s/%s %s, CPU %s, rounds %s' "$1" "$2" "$(ratio "$(median "$1" 1)" "$(median "$2" 1)")" \
    "$(ratio "$(median "$1" 2)" "$(median "$2" 2)")" "$(round_ratio "$1" "$2")"; }
printf '  %s (target <= 1.05: under procsum run, checked from outside)\n' "$(ratio_line run empty)"
printf '  %s (the preload library alone: a checker inside)\n  %s (a sleeping thread)   %s (the late floor: any checker that starts late)\n  %s (procsum above the late floor)\n' \
    "$(ratio_line preload empty)" "$(ratio_line floor empty)" "$(ratio_line late empty)" "$(ratio_line preload late)"
printf '%s CPU loop, median of %d, wall s (CPU s):\n' "$python" "$rounds"
for c in py_none py_late py_preload py_run ${other:+py_other}; do
    printf '  %-10s %7.3f (%.3f)\n' "$c" "$(median $c 1)" "$(median $c 2)"
done
printf '  %s (target <= 1.03: under procsum run)\n' "$(ratio_line py_run py_none)"
printf '  %s (the preload library alone)   %s   %s\n  CPU of the other threads with the preload (ms): %s\n' \
    "$(ratio_line py_preload py_none)" "$(ratio_line py_late py_none)" "$(ratio_line py_preload py_late)" \
    "$(sort -g "$out/py_preload.out" | tr '\n' ' ')"
if [ -n "$other" ]; then
    echo "other: $other"
    printf '  bash: other/empty %s, CPU %s   python3: other/none %s, CPU %s\n' \
        "$(ratio "$(median other 1)" "$(median empty 1)")" "$(ratio "$(median other 2)" "$(median empty 2)")" \
        "$(ratio "$(median py_other 1)" "$(median py_none 1)")" "$(ratio "$(median py_other 2)" "$(median py_none 2)")"
fi
for r in "$PROCSUM_JSON_FILE" "$out/run_reports.json"; do
    if [ -s "$r" ]; then
        echo "reports written during the runs (none expected):"
        head -5 "$r"
    fi
done
