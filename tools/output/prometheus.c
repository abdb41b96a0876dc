/*
 * A node_exporter textfile: what procsum has counted so far, rewritten whole
 * after each pass. node_exporter may read the file at any moment, so it is
 * never written in place: the new content goes to a temporary file in the
 * same directory (same file system, and a name not ending in .prom, which
 * the textfile collector would read), then rename() replaces the old file
 * in one step. No sample has a timestamp (node_exporter refuses them), and
 * no label holds a process id or an address: one series per cause or
 * reason, however many processes come and go.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "writer.h"

/* Every cause, so that each series exists (at 0) from the first file on. */
static const procsum_cause CAUSES[] = {
#define PSUM_CAUSE_VALUE_(NAME, value, name, meaning) PROCSUM_CAUSE_##NAME,
    PROCSUM_CAUSE_MAP(PSUM_CAUSE_VALUE_)
#undef PSUM_CAUSE_VALUE_
};
#define CAUSE_COUNT (sizeof(CAUSES) / sizeof(CAUSES[0]))

/* Distinct reasons of failure kept; a code past these is counted as "other". */
#define REASON_MAX 16

typedef struct prom_state {
    char *path;
    uint64_t passes, quiet_passes, bytes_hashed;
    uint64_t pages_checked, processes, duration_ns; /* gauges: the last pass */
    uint64_t changes[CAUSE_COUNT];
    uint64_t restores; /* pages changed back to their file's bytes: not changes to alert on */
    int reason_codes[REASON_MAX];
    uint64_t reason_counts[REASON_MAX + 1]; /* the last: "other" */
    size_t reasons;
} prom_state;

void *psum_prometheus_new(const char *path)
{
    prom_state *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->path = strdup(path);
    if (!st->path) {
        free(st);
        return NULL;
    }
    return st;
}

void psum_prometheus_free(void *state)
{
    prom_state *st = state;
    if (st)
        free(st->path);
    free(st);
}

/* A library code as a label value: PROCSUM_EACCES -> "eacces". */
static void reason_name(char *buf, size_t cap, int err)
{
    const char *name = procsum_err_name(err);
    if (strncmp(name, "PROCSUM_", 8) == 0)
        name += 8;
    size_t i = 0;
    for (; name[i] && i + 1 < cap; i++)
        buf[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    buf[i] = '\0';
}

static int metric_head(FILE *f, const char *name, const char *type, const char *help)
{
    return fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type) < 0 ? -1 : 0;
}

static int write_metrics(FILE *f, const prom_state *st)
{
    int bad = 0;
    bad |= metric_head(f, "procsum_passes_total", "counter", "Passes over one process's code completed.");
    bad |= fprintf(f, "procsum_passes_total %" PRIu64 "\n", st->passes) < 0;
    bad |= metric_head(f, "procsum_quiet_passes_total", "counter",
                       "Of the passes, those that found the process's page table as the last whole pass left it "
                       "and compared bytes only.");
    bad |= fprintf(f, "procsum_quiet_passes_total %" PRIu64 "\n", st->quiet_passes) < 0;
    bad |= metric_head(f, "procsum_changes_total", "counter", "Code pages found changed, by cause.");
    for (size_t i = 0; i < CAUSE_COUNT; i++)
        bad |= fprintf(f, "procsum_changes_total{cause=\"%s\"} %" PRIu64 "\n", procsum_cause_name(CAUSES[i]),
                       st->changes[i]) < 0;
    bad |= metric_head(f, "procsum_restores_total", "counter",
                       "Code pages changed back to their file's bytes (a breakpoint or probe removed).");
    bad |= fprintf(f, "procsum_restores_total %" PRIu64 "\n", st->restores) < 0;
    bad |= metric_head(f, "procsum_pages_checked", "gauge", "Code pages checked in the last pass over every process.");
    bad |= fprintf(f, "procsum_pages_checked %" PRIu64 "\n", st->pages_checked) < 0;
    bad |= metric_head(f, "procsum_bytes_hashed_total", "counter", "Bytes read and digested.");
    bad |= fprintf(f, "procsum_bytes_hashed_total %" PRIu64 "\n", st->bytes_hashed) < 0;
    bad |= metric_head(f, "procsum_pass_duration_seconds", "gauge", "How long the last pass over every process took.");
    bad |= fprintf(f, "procsum_pass_duration_seconds %.6f\n", (double)st->duration_ns / 1e9) < 0;
    bad |= metric_head(f, "procsum_processes", "gauge", "Processes being checked.");
    bad |= fprintf(f, "procsum_processes %" PRIu64 "\n", st->processes) < 0;
    bad |= metric_head(f, "procsum_errors_total", "counter", "Processes that could not be checked, by reason.");
    for (size_t i = 0; i < st->reasons; i++) {
        char reason[32];
        reason_name(reason, sizeof(reason), st->reason_codes[i]);
        bad |= fprintf(f, "procsum_errors_total{reason=\"%s\"} %" PRIu64 "\n", reason, st->reason_counts[i]) < 0;
    }
    if (st->reason_counts[REASON_MAX])
        bad |= fprintf(f, "procsum_errors_total{reason=\"other\"} %" PRIu64 "\n", st->reason_counts[REASON_MAX]) < 0;
    return bad ? -1 : 0;
}

/*
 * Writes the file anew: a temporary file beside it, then rename(). Returns
 * 0 or an errno. Only a regular file is replaced: a path that names a
 * device (--prometheus /dev/null, as root) or a directory is refused
 * (EEXIST, EISDIR), never renamed over.
 */
static int rewrite(const prom_state *st)
{
    struct stat there;
    if (stat(st->path, &there) == 0 && !S_ISREG(there.st_mode))
        return S_ISDIR(there.st_mode) ? EISDIR : EEXIST;
    /*
     * The temporary file is named apart from the file's own name (a name
     * with a suffix would outgrow the longest a directory takes when the
     * file's is near it), hidden and without the .prom the collector reads.
     */
    static const char temp_name[] = ".procsum-XXXXXX";
    const char *slash = strrchr(st->path, '/');
    size_t dir = slash ? (size_t)(slash - st->path) + 1 : 0;
    char *tmp = malloc(dir + sizeof(temp_name));
    if (!tmp)
        return ENOMEM;
    memcpy(tmp, st->path, dir);
    memcpy(tmp + dir, temp_name, sizeof(temp_name));
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int err = errno;
        free(tmp);
        return err;
    }
    int err = 0;
    /* mkstemp makes it 0600; node_exporter runs as its own user and must read it. */
    if (fchmod(fd, 0644) != 0)
        err = errno;
    FILE *f = err ? NULL : fdopen(fd, "w");
    if (!f) {
        err = err ? err : errno;
        close(fd);
    } else {
        errno = 0;
        if (write_metrics(f, st) != 0 || fflush(f) == EOF)
            err = errno ? errno : EIO;
        errno = 0;
        if (fclose(f) == EOF && !err)
            err = errno ? errno : EIO;
    }
    if (!err && rename(tmp, st->path) != 0)
        err = errno;
    if (err)
        (void)unlink(tmp); /* the error reported is the first one */
    free(tmp);
    return err;
}

/* After a rewrite: its error, if any, becomes the output's. */
static int rewritten(psum_writer *w)
{
    int err = rewrite(w->state);
    if (err && !w->out->err)
        w->out->err = err;
    return w->out->err ? -1 : 0;
}

static int prom_begin(psum_writer *w, psum_list_kind kind, procsum_algorithm algorithm)
{
    (void)algorithm;
    /* The file exists, every series at 0, from the start on. */
    return kind == PSUM_LIST_EVENTS ? rewritten(w) : 0;
}

static int prom_alert(psum_writer *w, const psum_alert *a)
{
    prom_state *st = w->state;
    if (a->state)
        return 0; /* a cause allowed as state is not a change to alert on */
    /* A debugger detaching, a probe removed: counted apart, so that a rule on the changes does not fire. */
    if (a->page->verdict == PROCSUM_VERDICT_RESTORED) {
        st->restores++;
        return 0;
    }
    for (size_t i = 0; i < CAUSE_COUNT; i++)
        if (CAUSES[i] == a->page->cause)
            st->changes[i]++;
    return 0;
}

static int prom_state_record(psum_writer *w, const psum_state *s)
{
    prom_state *st = w->state;
    if (!s->error)
        return 0; /* an exit too: the end of a watch is not a failure */
    /* By name: codes the library does not know share one ("eunknown"), and a label value is written once. */
    for (size_t i = 0; i < st->reasons; i++)
        if (strcmp(procsum_err_name(st->reason_codes[i]), procsum_err_name(s->error)) == 0) {
            st->reason_counts[i]++;
            return 0;
        }
    if (st->reasons == REASON_MAX) {
        st->reason_counts[REASON_MAX]++;
        return 0;
    }
    st->reason_codes[st->reasons] = s->error;
    st->reason_counts[st->reasons++] = 1;
    return 0;
}

static int prom_pass(psum_writer *w, const psum_pass *p)
{
    prom_state *st = w->state;
    st->passes = psum_pass_count_add(st->passes, p->passes);
    st->quiet_passes = psum_pass_count_add(st->quiet_passes, p->quiet_passes);
    st->bytes_hashed = psum_pass_count_add(st->bytes_hashed, p->bytes_hashed);
    st->pages_checked = p->pages_checked;
    st->processes = p->processes;
    st->duration_ns = p->duration_ns;
    return rewritten(w);
}

static int prom_end(psum_writer *w)
{
    return w->kind == PSUM_LIST_EVENTS ? rewritten(w) : 0;
}

const psum_writer_ops psum_prometheus_writer = {
    .name = "prometheus",
    .summary = "a node_exporter textfile",
    .begin = prom_begin,
    .alert = prom_alert,
    .state = prom_state_record,
    .pass = prom_pass,
    .end = prom_end,
};
