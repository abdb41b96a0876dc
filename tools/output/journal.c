/*
 * journald, through sd_journal_sendv: one journal entry per event, with its
 * facts in fields of their own (PROCSUM_*), so that journalctl and log
 * shippers filter on them without parsing the text. MESSAGE_ID tells the
 * kind of event and stays the same from release to release (docs list
 * them); PRIORITY follows what the change means. Field values are binary
 * safe (a path goes in as it is); MESSAGE is for a person and is escaped
 * as the text format escapes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/uio.h>

#include <systemd/sd-journal.h>

#include "escape.h"
#include "writer.h"

/* One per kind of event; made once with systemd-id128 new, never to change. */
#define ID_CODE_CHANGED "fb9573d389114743a036a2bd6839d6c4"
#define ID_DIFFERS_FROM_FILE "14a1164e837c43aa9c07c5c99e2e956b"
#define ID_STATE "cf3f76500a904b6c9cd89a880573d6fe"
#define ID_VERIFY_SUMMARY "9aaebd704fe34393b397499a2df0a46d"

#define FIELD_MAX 20

/* The fields of one entry, each "NAME=value", formatted into memory of their own. */
typedef struct entry {
    struct iovec iov[FIELD_MAX];
    size_t n;
    int err; /* ENOMEM once a field could not be made */
} entry;

static void field(entry *e, const char *fmt, ...) PSUM_PRINTF(2, 3);

static void field(entry *e, const char *fmt, ...)
{
    if (e->err || e->n == FIELD_MAX) {
        e->err = e->err ? e->err : ENOMEM;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int len = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (len < 0) {
        e->err = ENOMEM;
        return;
    }
    e->iov[e->n++] = (struct iovec){.iov_base = s, .iov_len = (size_t)len};
}

/* A string from a process, escaped for a person (the copy is the caller's to free; NULL when out of memory). */
static char *escaped(const char *s)
{
    size_t n = psum_escape_text(NULL, 0, s);
    char *out = malloc(n + 1);
    if (out)
        psum_escape_text(out, n + 1, s);
    return out;
}

/* The fields every entry has, then sends it; frees what the fields hold. */
static int send_entry(psum_writer *w, entry *e, const char *message_id, int priority)
{
    field(e, "MESSAGE_ID=%s", message_id);
    field(e, "PRIORITY=%d", priority);
    field(e, "SYSLOG_IDENTIFIER=procsum");
    int err = e->err;
    if (!err) {
        int r = sd_journal_sendv(e->iov, (int)e->n);
        err = r < 0 ? -r : 0;
    }
    for (size_t i = 0; i < e->n; i++)
        free(e->iov[i].iov_base);
    if (err && !w->out->err)
        w->out->err = err;
    return w->out->err ? -1 : 0;
}

/* How urgent a change is, by its cause (a restored page is news, not an alarm). */
static int change_priority(const procsum_page_change *pc)
{
    if (pc->verdict == PROCSUM_VERDICT_RESTORED)
        return LOG_NOTICE;
    switch (pc->cause) {
    case PROCSUM_CAUSE_BREAKPOINT:
    case PROCSUM_CAUSE_UPROBE:
    case PROCSUM_CAUSE_RELOCATION:
    /* The file itself was written (an upgrade done in place): memory follows the disk, nothing hides. */
    case PROCSUM_CAUSE_FILE_MODIFIED: return LOG_WARNING;
    case PROCSUM_CAUSE_UNKNOWN:
    case PROCSUM_CAUSE_WRITE:
    case PROCSUM_CAUSE_MEMORY_CORRUPTION: return LOG_CRIT;
    }
    return LOG_CRIT;
}

static int journal_alert(psum_writer *w, const psum_alert *a)
{
    const procsum_page_change *pc = a->page;
    uint64_t offset = pc->run_count ? pc->runs[0].file_offset : pc->file_offset;
    char *file = escaped(a->region->source);
    char *symbol = pc->symbol ? escaped(pc->symbol) : NULL;
    if (!file || (pc->symbol && !symbol)) {
        free(file);
        w->out->err = w->out->err ? w->out->err : ENOMEM;
        return -1;
    }
    entry e = {.n = 0};
    field(&e, "MESSAGE=pid %ld: %s: %s +0x%" PRIx64 "%s%s (page 0x%" PRIxPTR "): %s, cause %s, %zu byte(s) %zu bit(s)",
          a->pid, a->action, file, offset, symbol ? " in " : "", symbol ? symbol : "", pc->addr,
          procsum_verdict_name(pc->verdict), procsum_cause_name(pc->cause), pc->changed_bytes, pc->changed_bits);
    free(file);
    free(symbol);
    field(&e, "OBJECT_PID=%ld", a->pid);
    field(&e, "PROCSUM_ACTION=%s", a->action);
    field(&e, "PROCSUM_VERDICT=%s", procsum_verdict_name(pc->verdict));
    field(&e, "PROCSUM_CAUSE=%s", procsum_cause_name(pc->cause));
    field(&e, "PROCSUM_FILE=%s", a->region->source);
    field(&e, "PROCSUM_FILE_OFFSET=%" PRIu64, offset);
    field(&e, "PROCSUM_PAGE=0x%" PRIxPTR, pc->addr);
    field(&e, "PROCSUM_CHANGED_BITS=%zu", pc->changed_bits);
    if (a->executable)
        field(&e, "PROCSUM_EXECUTABLE=%s", a->executable);
    if (pc->symbol)
        field(&e, "PROCSUM_SYMBOL=%s", pc->symbol);
    if (pc->old_insn)
        field(&e, "PROCSUM_OLD_INSN=%s", pc->old_insn);
    if (pc->new_insn)
        field(&e, "PROCSUM_NEW_INSN=%s", pc->new_insn);
    const char *id = strcmp(a->action, "code-changed") == 0 ? ID_CODE_CHANGED : ID_DIFFERS_FROM_FILE;
    /* A cause the configuration sends as state is news, like a state entry. */
    return send_entry(w, &e, id, a->state ? LOG_INFO : change_priority(pc));
}

static int journal_state(psum_writer *w, const psum_state *s)
{
    char *exe = escaped(s->executable ? s->executable : s->name ? s->name : "-");
    if (!exe) {
        w->out->err = w->out->err ? w->out->err : ENOMEM;
        return -1;
    }
    entry e = {.n = 0};
    field(&e, "MESSAGE=pid %ld (%s): %s, %s, %" PRIu64 " page(s) checked%s%s", s->pid, exe, s->action, s->status,
          s->pages_checked, s->error ? ": " : "", s->error ? procsum_strerror(s->error) : "");
    free(exe);
    field(&e, "OBJECT_PID=%ld", s->pid);
    field(&e, "PROCSUM_ACTION=%s", s->action);
    field(&e, "PROCSUM_STATUS=%s", s->status);
    field(&e, "PROCSUM_PAGES_CHECKED=%" PRIu64, s->pages_checked);
    if (s->executable)
        field(&e, "PROCSUM_EXECUTABLE=%s", s->executable);
    if (s->name)
        field(&e, "PROCSUM_PROCESS_NAME=%s", s->name);
    if (s->with_unverified)
        field(&e, "PROCSUM_PAGES_UNVERIFIED=%" PRIu64, s->pages_unverified);
    if (s->error)
        field(&e, "PROCSUM_ERROR=%s", procsum_err_name(s->error));
    return send_entry(w, &e, ID_STATE, LOG_INFO);
}

static int journal_summary(psum_writer *w, const psum_summary *s)
{
    entry e = {.n = 0};
    field(&e, "MESSAGE=verified %" PRIu64 " process(es): %" PRIu64 " changed, %" PRIu64 " not verified, %" PRIu64
              " page(s) checked",
          s->processes, s->changed, s->failed, s->pages_checked);
    field(&e, "PROCSUM_PROCESSES=%" PRIu64, s->processes);
    field(&e, "PROCSUM_CHANGED=%" PRIu64, s->changed);
    field(&e, "PROCSUM_FAILED=%" PRIu64, s->failed);
    field(&e, "PROCSUM_PAGES_CHECKED=%" PRIu64, s->pages_checked);
    field(&e, "PROCSUM_PAGES_UNVERIFIED=%" PRIu64, s->pages_unverified);
    field(&e, "PROCSUM_BYTES_HASHED=%" PRIu64, s->bytes_hashed);
    return send_entry(w, &e, ID_VERIFY_SUMMARY, LOG_INFO);
}

const psum_writer_ops psum_journal_writer = {
    .name = "journal",
    .summary = "journald",
    .alert = journal_alert,
    .state = journal_state,
    .totals = journal_summary,
};
