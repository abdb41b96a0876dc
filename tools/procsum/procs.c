/* The processes verify and watch check: the ids given, or every process (procs_linux.c, procs_win.c). */
#include "procs.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void psum_pid_list_free(psum_pid_list *l)
{
    free(l->pids);
    memset(l, 0, sizeof(*l));
}

int psum_pid_list_push(psum_pid_list *l, long pid)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        long *pids = realloc(l->pids, cap * sizeof(*pids));
        if (!pids)
            return ENOMEM;
        l->pids = pids;
        l->cap = cap;
    }
    l->pids[l->count++] = pid;
    return 0;
}

bool psum_pid_list_has(const psum_pid_list *l, long pid)
{
    size_t lo = 0, hi = l->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->pids[mid] == pid)
            return true;
        if (l->pids[mid] < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static int by_pid(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

void psum_pid_list_sort(psum_pid_list *l)
{
    if (l->count > 1)
        qsort(l->pids, l->count, sizeof(*l->pids), by_pid);
}

typedef struct named_pid {
    long pid;
    size_t at; /* its place on the command line */
} named_pid;

static int by_pid_then_place(const void *a, const void *b)
{
    const named_pid *x = a, *y = b;
    if (x->pid != y->pid)
        return (x->pid > y->pid) - (x->pid < y->pid);
    return (x->at > y->at) - (x->at < y->at);
}

/*
 * The same process named twice is checked once, where it was first named:
 * sorted with their places, a repeat follows its first naming. No pairwise
 * comparison, which a command line of many thousands of ids made slow.
 */
static int drop_repeats(psum_pid_list *l)
{
    if (l->count < 2)
        return 0;
    named_pid *sorted = malloc(l->count * sizeof(*sorted));
    bool *repeat = calloc(l->count, sizeof(*repeat));
    if (!sorted || !repeat) {
        free(sorted);
        free(repeat);
        return ENOMEM;
    }
    for (size_t i = 0; i < l->count; i++)
        sorted[i] = (named_pid){.pid = l->pids[i], .at = i};
    qsort(sorted, l->count, sizeof(*sorted), by_pid_then_place);
    for (size_t i = 1; i < l->count; i++)
        repeat[sorted[i].at] = sorted[i].pid == sorted[i - 1].pid;
    size_t kept = 0;
    for (size_t i = 0; i < l->count; i++)
        if (!repeat[i])
            l->pids[kept++] = l->pids[i];
    l->count = kept;
    free(sorted);
    free(repeat);
    return 0;
}

int psum_procs_check_named(const psum_cli *c)
{
    if (c->all == (c->arg_count > 0))
        return psum_cli_usage_error(c->all ? "--all and process ids exclude each other" : "name processes: --all or PIDs");
    return 0;
}

int psum_procs_select(const psum_cli *c, psum_pid_list *out)
{
    memset(out, 0, sizeof(*out));
    int rc = psum_procs_check_named(c);
    if (rc)
        return rc;
    if (c->all) {
        int err = psum_procs_scan(&c->config, out);
        if (err) {
            fprintf(stderr, "procsum: cannot list the processes: %s\n", strerror(err));
            return PSUM_EXIT_FAILURE;
        }
        return 0;
    }
    for (size_t i = 0; i < c->arg_count; i++) {
        char q[80];
        char *end;
        errno = 0;
        long pid = strtol(c->args[i], &end, 10);
        if (!isdigit((unsigned char)c->args[i][0]) || *end || errno || pid <= 0) {
            psum_pid_list_free(out);
            return psum_cli_usage_error("'%s' is not a process id", psum_cli_quote(q, sizeof(q), c->args[i]));
        }
        if (psum_proc_kernel_thread(pid)) {
            psum_pid_list_free(out);
            return psum_cli_usage_error("%ld is a kernel thread: it has no user code to check", pid);
        }
        long group = psum_proc_thread_group(pid);
        if (group > 0 && group != pid) {
            psum_pid_list_free(out);
            return psum_cli_usage_error("%ld is a thread of process %ld: name the process", pid, group);
        }
        if (psum_pid_list_push(out, pid)) {
            psum_pid_list_free(out);
            fprintf(stderr, "procsum: out of memory\n");
            return PSUM_EXIT_FAILURE;
        }
    }
    if (drop_repeats(out) != 0) {
        psum_pid_list_free(out);
        fprintf(stderr, "procsum: out of memory\n");
        return PSUM_EXIT_FAILURE;
    }
    return 0;
}

int psum_procs_exit_code(int err)
{
    if (err == PROCSUM_EACCES || err == PROCSUM_EPERM)
        return PSUM_EXIT_PERMISSION;
    return err == PROCSUM_ESRCH ? PSUM_EXIT_NO_PROCESS : PSUM_EXIT_FAILURE;
}
