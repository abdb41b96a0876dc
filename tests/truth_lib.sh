# Shared by truth_gdb.sh and truth_uprobe.sh (sourced, not run): starts
# tests/truth_target, finds its report lines (truth_print_page's form) about
# one page, and checks their fields, counting each field that is wrong.
#   page KIND PAGE FILE_OFFSET FILE_STATUS VERDICT CAUSE COPY REFERENCE REPAIR REPAIRED
#        CHANGED_BYTES CHANGED_BITS RUN_COUNT TOTAL_RUNS SOURCE
#   run PAGE ADDR FILE_OFFSET LEN OLD_HEX NEW_HEX XOR_HEX

truth_failures=0
truth_fail() {
    echo "FAIL: $*"
    truth_failures=$((truth_failures + 1))
}

# truth_start TARGET MODE: runs the target in the background and waits for its
# "ready" line. Sets tpid, tout (its output), taddr and toff (the function's
# address and file offset), tpath (its file), tpage and tpage_off.
truth_start() {
    tout=$(mktemp)
    "$1" "$2" >"$tout" 2>&1 &
    tpid=$!
    for _ in $(seq 1 200); do
        grep -q '^ready' "$tout" && break
        sleep 0.05
    done
    read -r _ _ taddr toff tpath < <(grep '^ready' "$tout")
    if [ -z "${tpath:-}" ]; then
        echo "FAIL: truth_target $2 did not start; it said:"
        cat "$tout"
        exit 1
    fi
    tpage=$((taddr & ~4095))
    tpage_off=$((toff - (taddr - tpage)))
}

# truth_lines_about PAGE: how many reports of a change name PAGE.
truth_lines_about() {
    awk -v p="$(printf '%#x' "$1")" '$1 == "page" && $2 == "changed" && $3 == p' "$tout" | wc -l
}

# truth_report N PAGE: sets rpage (the Nth report of a change of PAGE, split
# into fields), rrun (the first run line after it, split, or empty) and
# rsym (its symbol line, split).
truth_report() {
    local block
    block=$(awk -v n="$1" -v p="$(printf '%#x' "$2")" '
        $1 == "page" { inside = ($2 == "changed" && $3 == p && ++seen == n); runs = 0; if (inside) print; next }
        $1 == "run" && inside && runs++ == 0 { print }
        $1 == "symbol" && inside { print; inside = 0 }' "$tout")
    read -r -a rpage <<<"$(grep -m1 '^page ' <<<"$block")"
    read -r -a rrun <<<"$(grep -m1 '^run ' <<<"$block")"
    read -r -a rsym <<<"$(grep -m1 '^symbol ' <<<"$block")"
}

truth_expect() { # WHAT FIELD GOT WANT...
    local what=$1 field=$2 got=$3
    shift 3
    for want in "$@"; do
        [ "$got" = "$want" ] && return 0
    done
    truth_fail "$what: $field is '$got', expected $(printf "'%s' " "$@")"
}

truth_expect_num() { # WHAT FIELD GOT WANT
    if [ -z "$3" ] || [ $(($3)) -ne $(($4)) ]; then
        truth_fail "$1: $2 is '$3', expected $(printf '%#x' $(($4)))"
    fi
}

# The byte at OFFSET of FILE, two hex digits.
truth_file_byte() {
    od -An -tx1 -j "$(($2))" -N1 "$1" | tr -d ' \n'
}

truth_popcount() {
    local x=$(($1)) n=0
    while [ "$x" -ne 0 ]; do
        n=$((n + (x & 1)))
        x=$((x >> 1))
    done
    echo "$n"
}

# truth_expect_page WHAT: the fields of rpage every report here shares.
truth_expect_page() {
    truth_expect "$1" "kind" "${rpage[1]:-}" changed
    truth_expect_num "$1" "page address" "${rpage[2]:-}" "$tpage"
    truth_expect_num "$1" "page file offset" "${rpage[3]:-}" "$tpage_off"
    truth_expect "$1" "file status" "${rpage[4]:-}" compared
    truth_expect "$1" "repair" "${rpage[9]:-}" none
    truth_expect "$1" "repaired" "${rpage[10]:-}" 0
    truth_expect "$1" "source" "${rpage[15]:-}" "$tpath"
}

# truth_expect_int3 WHAT ADDR: rpage/rrun say that one byte, at ADDR, became 0xcc over the file's byte.
truth_expect_int3() {
    local what=$1 addr=$2 off old mask bits verdict
    off=$((toff + addr - taddr))
    old=$(truth_file_byte "$tpath" "$off")
    mask=$((0x$old ^ 0xcc))
    bits=$(truth_popcount "$mask")
    verdict=patch
    [ "$bits" -eq 1 ] && verdict=bitflip
    truth_expect "$what" "reference" "${rpage[8]:-}" disk cache
    truth_expect "$what" "verdict" "${rpage[5]:-}" "$verdict"
    truth_expect_num "$what" "changed bytes" "${rpage[11]:-}" 1
    truth_expect_num "$what" "changed bits" "${rpage[12]:-}" "$bits"
    truth_expect_num "$what" "run count" "${rpage[13]:-}" 1
    truth_expect_num "$what" "total runs" "${rpage[14]:-}" 1
    truth_expect_num "$what" "run address" "${rrun[2]:-}" "$addr"
    truth_expect_num "$what" "run file offset" "${rrun[3]:-}" "$off"
    truth_expect_num "$what" "run length" "${rrun[4]:-}" 1
    truth_expect "$what" "old byte (the file's)" "${rrun[5]:-}" "$old"
    truth_expect "$what" "new byte (memory's)" "${rrun[6]:-}" cc
    truth_expect "$what" "xor mask" "${rrun[7]:-}" "$(printf '%02x' "$mask")"
}

# truth_expect_restored WHAT: rpage says the page equals its file again.
truth_expect_restored() {
    truth_expect_page "$1"
    truth_expect "$1" "verdict" "${rpage[5]:-}" restored
    truth_expect "$1" "reference" "${rpage[8]:-}" disk cache
    truth_expect_num "$1" "changed bytes" "${rpage[11]:-}" 0
    truth_expect_num "$1" "changed bits" "${rpage[12]:-}" 0
    truth_expect_num "$1" "run count" "${rpage[13]:-}" 0
    truth_expect_num "$1" "total runs" "${rpage[14]:-}" 0
}

# truth_summary NAME: prints the target's output on failure, and exits 0 or 1.
truth_summary() {
    if [ "$truth_failures" -eq 0 ]; then
        echo "$1: 1 passed, 0 failed"
        exit 0
    fi
    echo "truth_target said:"
    cat "$tout"
    echo "$1: 0 passed, 1 failed ($truth_failures wrong fields)"
    exit 1
}
