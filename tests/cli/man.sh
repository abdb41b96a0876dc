#!/usr/bin/env bash
# The manual pages: each one was built (scdoc) and renders with man(1)
# without a warning, with its sections. procsum(1) cannot fall behind the
# code: every command, option and format that procsum --help lists, every
# exit code in tools/procsum/cli.h and every PROCSUM_* variable that the
# preload library, run or the library reads is on the page.
# PSUM_MAN_DIR names the build's man/ directory.
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

if [ -z "${PSUM_MAN_DIR:-}" ]; then
    echo "PSUM_MAN_DIR must name the build's man directory" >&2
    exit 2
fi
if ! have man; then
    fail "man(1) is needed to render the pages (Debian: man-db)"
    finish
fi
SRC=$(cd -- "$TESTS/.." && pwd)

# render PAGE: the page as text in $TMP/PAGE.txt, 80 columns, ASCII, no
# hyphenation; a word that still breaks at one of its own hyphens at the end
# of a line is joined again, so that "--json-" + "file" reads "--json-file".
render() {
    local page=$1
    MANROFFOPT='-rHY=0' LC_ALL=C MANWIDTH=80 man --warnings -l "$PSUM_MAN_DIR/$page" \
        >"$TMP/$page.raw" 2>"$TMP/$page.err" &&
        awk '{ if (prev ~ /[A-Za-z0-9]-$/) { sub(/^ +/, ""); prev = prev $0 } else { if (NR > 1) print prev; prev = $0 } }
             END { print prev }' "$TMP/$page.raw" >"$TMP/$page.txt"
}

# section PAGE HEADING: the lines of that section of the rendered page.
section() {
    awk -v h="$2" '/^[A-Z]/ { on = ($0 == h); next } on' "$TMP/$1.txt"
}

# has_word FILE WORD: WORD appears in FILE, not as part of a longer option or name.
has_word() {
    grep -qE -- "(^|[^A-Za-z0-9_-])$(printf '%s' "$2" | sed 's/[][\.*^$]/\\&/g')([^A-Za-z0-9_-]|$)" "$1"
}

# ---- each page: built, renders cleanly, has its sections ---------------------
declare -A HEADINGS=(
    [procsum.1]="NAME|SYNOPSIS|DESCRIPTION|COMMANDS|OPTIONS|CONFIGURATION|EXIT STATUS|ENVIRONMENT|FILES|PERMISSIONS|EXAMPLES|SEE ALSO"
    [procsum.conf.5]="NAME|SYNOPSIS|DESCRIPTION|SECTION [check]|SECTION [output]|SECTION [allow]|EXAMPLE|SEE ALSO"
    [libprocsum.3]="NAME|SYNOPSIS|DESCRIPTION|OPTIONS|FUNCTIONS|REPORTS|THE CALLBACK|THREADS AND SIGNALS|FORK|ANOTHER PROCESS|RETURN VALUE|EXAMPLES|SEE ALSO"
)
for page in procsum.1 procsum.conf.5 libprocsum.3; do
    if [ ! -s "$PSUM_MAN_DIR/$page" ]; then
        fail "$page was built" "missing or empty: $PSUM_MAN_DIR/$page (is scdoc installed? meson -Dman=enabled says so at setup)"
        continue
    fi
    if render "$page" && [ ! -s "$TMP/$page.err" ] && [ -s "$TMP/$page.txt" ]; then
        pass "$page renders with man -l, no warning"
    else
        fail "$page renders with man -l, no warning" "$(head -c 600 "$TMP/$page.err")"
        continue
    fi
    name=${page%.*}
    if head -1 "$TMP/$page.txt" | grep -qF "$name(${page##*.})"; then
        pass "$page: its title is $name(${page##*.})"
    else
        fail "$page: its title is $name(${page##*.})" "$(head -1 "$TMP/$page.txt")"
    fi
    missing=()
    IFS='|' read -r -a want <<<"${HEADINGS[$page]}"
    for h in "${want[@]}"; do
        grep -qxF -- "$h" "$TMP/$page.txt" || missing+=("$h")
    done
    none_missing "$page has its ${#want[@]} sections"
done
[ -s "$TMP/procsum.1.txt" ] || finish

# ---- procsum(1) against procsum --help --------------------------------------
run --help
if [ "$rc" -ne 0 ] || [ ! -s "$TMP/out" ]; then
    fail "procsum --help prints the usage text" "$(show_run)"
    finish
fi
cp -- "$TMP/out" "$TMP/help"
section procsum.1 OPTIONS >"$TMP/options"
section procsum.1 COMMANDS >"$TMP/commands"
section procsum.1 "EXIT STATUS" >"$TMP/exit"
section procsum.1 ENVIRONMENT >"$TMP/environment"

# The options: the first column of the help's "options:" block.
mapfile -t options < <(awk '/^options:/ { on = 1; next } /^[^ ]/ { on = 0 } on' "$TMP/help" |
    grep -oE '^  (-[A-Za-z], )?--[a-z][a-z-]*' | tr ',' '\n' | tr -d ' ')
mapfile -t commands < <(awk '/^commands:/ { on = 1; next } /^[^ ]/ { on = 0 } on && NF { print $1 }' "$TMP/help")
mapfile -t formats < <(awk '/^formats:/ { on = 1; next } /^[^ ]/ { on = 0 } on && NF { print $1 }' "$TMP/help")
# Never vacuous: the help lists a dozen options, the commands and two formats.
if [ ${#options[@]} -ge 10 ] && [ ${#commands[@]} -ge 5 ] && [ ${#formats[@]} -ge 2 ]; then
    pass "the help lists ${#options[@]} options, ${#commands[@]} commands, ${#formats[@]} formats"
else
    fail "the help lists the options, commands and formats" "options: ${options[*]}" "commands: ${commands[*]}"
fi

missing=()
for o in "${options[@]}"; do
    has_word "$TMP/options" "$o" || missing+=("$o")
done
none_missing "every option of --help is in OPTIONS"

missing=()
for c in "${commands[@]}"; do
    grep -qE "^       $c( |$)" "$TMP/commands" || missing+=("$c")
    has_word "$TMP/procsum.1.txt" "procsum $c" || missing+=("synopsis: procsum $c")
done
none_missing "every command of --help has its entry in COMMANDS and the synopsis"

missing=()
for f in "${formats[@]}"; do
    has_word "$TMP/options" "$f" || missing+=("$f")
done
none_missing "every format of --help is under --format"

# The configuration file's options, also when the help does not list them yet.
for o in --config --no-config; do
    if has_word "$TMP/options" "$o"; then pass "OPTIONS has $o"; else fail "OPTIONS has $o"; fi
done

# ---- exit codes and environment, from the sources ---------------------------
mapfile -t codes < <(grep -oE 'PSUM_EXIT_[A-Z_]+ = [0-9]+' "$SRC/tools/procsum/cli.h" | awk '{ print $3 }')
each_found "EXIT STATUS has each of the ${#codes[@]} exit codes of cli.h" 6 "$TMP/exit" xE '       %s' "${codes[@]}"

# Every variable name read with getenv or parsed as a setting, as a whole string literal.
mapfile -t vars < <(grep -ohE '"PROCSUM_[A-Z_]+"' "$SRC/tools/preload/preload.c" "$SRC/tools/procsum/run.c" \
    "$SRC"/src/digest/*.c | tr -d '"' | sort -u)
each_found "ENVIRONMENT has each of the ${#vars[@]} PROCSUM_* variables the sources read, and LD_PRELOAD" 9 \
    "$TMP/environment" xE '       %s' "${vars[@]}" LD_PRELOAD

# The journal's fields and MESSAGE_IDs, and the metrics, as the writers send them.
mapfile -t jfields < <(grep -oE '"(PROCSUM_[A-Z_]+|OBJECT_PID|SYSLOG_IDENTIFIER|MESSAGE_ID|PRIORITY)=' \
    "$SRC/tools/output/journal.c" | tr -d '"=' | sort -u)
mapfile -t ids < <(sed -n 's/^#define ID_[A-Z_]* "\([0-9a-f]\{32\}\)"$/\1/p' "$SRC/tools/output/journal.c")
section procsum.1 JOURNAL >"$TMP/journal"
each_found "JOURNAL has each of the ${#jfields[@]} fields and ${#ids[@]} MESSAGE_IDs journal.c sends" 16 "$TMP/journal" \
    E '(^|[^A-Z_])%s([^A-Z_]|$)' "${jfields[@]}" "${ids[@]}"
mapfile -t metrics < <(grep -oE 'metric_head\(f, "procsum_[a-z_]+"' "$SRC/tools/output/prometheus.c" | grep -oE 'procsum_[a-z_]+')
section procsum.1 METRICS >"$TMP/metrics"
each_found "METRICS has each of the ${#metrics[@]} metrics prometheus.c writes" 7 "$TMP/metrics" \
    E '(^|[^a-z_])%s([^a-z_]|$)' "${metrics[@]}"

# ---- the check itself can fail -------------------------------------------------
# A page without one option must be caught: the same test on OPTIONS minus --cpu.
grep -v -- '--cpu' "$TMP/options" >"$TMP/options.less"
if has_word "$TMP/options" --cpu && ! has_word "$TMP/options.less" --cpu; then
    pass "an option missing from the page is noticed"
else
    fail "an option missing from the page is noticed"
fi

finish
