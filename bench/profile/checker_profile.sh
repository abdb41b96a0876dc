#!/bin/sh
# Where the checker's CPU goes, in the checker benchmark's process (the five
# large libraries loaded, never called): runs build/bench/bench_profile_target,
# samples its checker thread with perf (cpu-clock, DWARF call chains), and
# sorts every sample by the first frame, from the leaf up, that belongs to
# one of the checker's jobs. Prints the share of each job and its CPU per
# pass (the target's procsum_stats.cpu_ns over the same time), and next to
# them the two floors of bench_checker, read in the same process once the
# checker is stopped: the resident code pages read in a tight loop after a
# cache flush (best of 9), and read a period after the last at nice 19 (mean
# of 8); the same pages hashed with the same algorithm and nothing else,
# and what a pass asks the kernel before it reads (the listing, the
# residency of each region) and nothing else, each a period after the last
# at nice 19, taking turns with those reads (mean of 8 each): what the
# pass's hashing and its questions cost without the rest of a pass; and
# the CPU time the reading thread spent in its sleeps (going to sleep,
# waking up), which a pass's CPU counts and the floors do not.
#
#   bench/profile/checker_profile.sh [ALGO [PERIOD_MS [SECONDS]]]
#
# ALGO: blake3, xxh3 (default) or crc64; PERIOD_MS: the checker's period
# (default 1000, the default); SECONDS: time sampled (default 30).
# BUILD_DIR (default: build) names the build. Needs perf (linux-perf) and
# the permission to attach to a process (root, or perf_event_paranoid <= 1).
set -eu
algo=${1:-xxh3}
period=${2:-1000}
seconds=${3:-30}
build=${BUILD_DIR:-build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$build/bench/bench_profile_target" "$algo" "$period" "$((seconds + 2))" > "$work/target.out" &
target=$!
while ! grep -q '^tid ' "$work/target.out" 2>/dev/null; do
    kill -0 "$target" 2>/dev/null || { echo "checker_profile: the target ended early" >&2; exit 1; }
    sleep 0.2
done
tid=$(awk '/^tid /{print $2}' "$work/target.out")
perf record -q -e cpu-clock -F 4999 --call-graph dwarf,16384 -t "$tid" -o "$work/perf.data" \
    -- sleep "$seconds" > /dev/null 2>&1
wait "$target"
per_pass=$(awk '/^passes /{print $4}' "$work/target.out")
passes=$(awk '/^passes /{print $2}' "$work/target.out")
floors=$(awk '/^floors /{print $2, $3, $4, $5, $6}' "$work/target.out")

perf script -i "$work/perf.data" -F ip,sym,dso 2> /dev/null | awk -v per_pass="$per_pass" -v passes="$passes" \
    -v algo="$algo" -v period="$period" -v floors="$floors" '
# The job a frame belongs to, or "" if it says nothing (libc helpers, the kernel).
function job(sym, dso) {
    if (dso ~ /libxxhash|libisal/ || sym ~ /^(XXH|psum_xxh3|xxh3_|psum_page_digest|psum_pages_digest|psum_region_hasher|psum_b3|blake3|psum_blake3|crc64|psum_crc64|prefetch_page|hash_)/)
        return "hashing"
    if (sym ~ /^(psum_pages_|compare_page|psum_pages_carry_below|still_mapped|take_pages|digest_slice|matches_baseline|psum_table_|psum_snapshot_|psum_findings|page_in_file|digest_tag)/)
        return "bookkeeping"
    if (sym ~ /^(psum_os_resident|psum_linux_resident|psum_residency_mark|room_for|walk_chunks|pagemap_query|psum_linux_target_pagemap)/)
        return "residency"
    if (sym ~ /^(psum_os_list_regions|psum_linux_procmap|psum_linux_maps|procmap_|maps_|read_proc_file|settle_deleted|mark_main_executable|psum_os_region)/)
        return "listing"
    if (sym ~ /dl_iterate_phdr|^(visit|segment_holding|find_segment|psum_linux_loader|same_file|same_offset|hint_for|remember_|is_known_object|psum_linux_guarded_use|psum_os_use_pages)/)
        return "loader"
    return ""
}
function flush() {
    if (!have) return
    total++
    c = found != "" ? found : (leaf_kernel ? "kernel" : "other")
    n[c]++
    have = 0
}
/^[^ \t]/ || /^$/ { flush(); next }
{
    # A frame: address, symbol(+offset), (dso).
    dso = $NF; sym = $2; sub(/\+0x[0-9a-f]+$/, "", sym)
    if (!have) { have = 1; found = ""; leaf_kernel = dso ~ /kernel/ }
    if (found == "") found = job(sym, dso)
}
END {
    flush()
    split("hashing bookkeeping residency listing loader kernel other", order, " ")
    name["hashing"] = "hashing (digest code, its prefetches)"
    name["bookkeeping"] = "per-page bookkeeping (baselines, compare, carry)"
    name["residency"] = "residency (PAGEMAP_SCAN or pagemap)"
    name["listing"] = "listing the mappings (PROCMAP_QUERY or maps)"
    name["loader"] = "loader walk (dl_iterate_phdr, segment search, fault guard)"
    name["kernel"] = "kernel: scheduling, timers, other system calls"
    name["other"] = "other user code (the loop, locks, getpid)"
    printf "%s at a %s ms period: %d samples, %s passes, %.2f ms of CPU per pass\n", algo, period, total, passes, per_pass
    printf "| Share of checker CPU | %% | ms per pass |\n|---|---:|---:|\n"
    for (i = 1; i <= 7; i++) {
        k = order[i]
        printf "| %s | %.1f %% | %.2f |\n", name[k], 100 * n[k] / total, per_pass * n[k] / total
    }
    split(floors, f, " ")
    if (f[1] > 0 && f[2] > 0) {
        hashing = per_pass * n["hashing"] / total
        printf "floor, tight loop: %.2f ms (the pass %.2fx it, its hashing alone %.2fx)\n", f[1], per_pass / f[1], hashing / f[1]
        printf "floor, a period after the last: %.2f ms (the pass %.2fx it, its hashing alone %.2fx)\n", f[2], per_pass / f[2], hashing / f[2]
    }
    if (f[2] > 0 && f[3] > 0)
        printf "the same pages hashed alone, a period after the last: %.2f ms (%.2fx the floor read then; the pass %.2fx it, its hashing %.2fx it, the rest of the pass %.2f ms)\n", f[3], f[3] / f[2], per_pass / f[3], hashing / f[3], per_pass - hashing
    if (f[2] > 0 && f[3] > 0 && f[4] > 0)
        printf "a pass asking the kernel alone (listing, residency), a period after the last: %.2f ms; with the hashing alone %.2f ms, %.2fx the floor read then (the pass %.2f ms more)\n", f[4], f[3] + f[4], (f[3] + f[4]) / f[2], per_pass - f[3] - f[4]
    if (f[5] >= 0 && f[5] != "")
        printf "a sleep of a period (going to sleep, waking up), counted in the CPU of every pass, in none of the floors: %.2f ms\n", f[5]
}'
