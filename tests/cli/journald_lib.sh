# A private systemd-journald for the scripts that read the journal back
# (journal.sh, run_outputs.sh). Source it first and call
# private_journal_namespace "$0" "$@"; then, after lib.sh (and
# outside_lib.sh if the script uses it), private_journal_dirs mounts an empty /run (and
# /var/log/journal) and start_private_journald starts journald there (it
# runs without systemd as PID 1 once /run/systemd/journal exists) and has
# it stopped at the end; the host's journal sees nothing. Each returns
# non-zero after a failed check.

# private_journal_namespace SCRIPT ARGS...: as root, runs SCRIPT again in a
# mount namespace of its own (once); without root or unshare(1), skips.
private_journal_namespace() {
    [ -n "${PSUM_JOURNAL_PRIVATE:-}" ] && return 0
    if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
        echo "$(basename -- "$1" .sh): needs root and unshare(1), for a private journald" >&2
        exit 77
    fi
    PSUM_JOURNAL_PRIVATE=1 exec unshare --mount --propagation private bash "$@"
}

JOURNALD=
for f in /lib/systemd/systemd-journald /usr/lib/systemd/systemd-journald; do
    [ -x "$f" ] && JOURNALD=$f && break
done

private_journal_dirs() {
    if [ -z "$JOURNALD" ] || ! have journalctl; then
        fail "systemd-journald and journalctl are needed (Debian: systemd)"
        return 1
    fi
    mount -t tmpfs tmpfs /run || { fail "a private /run"; return 1; }
    if [ -d /var/log/journal ]; then
        mount -t tmpfs tmpfs /var/log/journal || { fail "a private /var/log/journal"; return 1; }
    fi
}

start_private_journald() {
    mkdir -p /run/systemd/journal
    "$JOURNALD" >"$TMP/journald.log" 2>&1 &
    # Stopped with outside_lib.sh's programs when the script has them, else on its own.
    if declare -p started_pids >/dev/null 2>&1; then
        started_pids+=("$!")
    else
        journald_pid=$!
        trap 'kill -KILL "$journald_pid" 2>/dev/null; wait 2>/dev/null; rm -rf -- "$TMP"' EXIT
    fi
    for _ in $(seq 200); do
        [ -S /run/systemd/journal/socket ] && return 0
        sleep 0.05
    done
    fail "journald listens" "$(cat "$TMP/journald.log")"
    return 1
}
