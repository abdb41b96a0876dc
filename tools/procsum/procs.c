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

int psum_procs_select(const psum_cli *c, psum_pid_list *out)
{
    memset(out, 0, sizeof(*out));
    if (c->all == (c->arg_count > 0))
        return psum_cli_usage_error(c->all ? "--all and process ids exclude each other" : "name processes: --all or PIDs");
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
        bool named = false; /* the same process named twice is checked once */
        for (size_t k = 0; k < out->count && !named; k++)
            named = out->pids[k] == pid;
        if (!named && psum_pid_list_push(out, pid)) {
            psum_pid_list_free(out);
            fprintf(stderr, "procsum: out of memory\n");
            return PSUM_EXIT_FAILURE;
        }
    }
    return 0;
}

int psum_procs_exit_code(int err)
{
    if (err == PROCSUM_EACCES || err == PROCSUM_EPERM)
        return PSUM_EXIT_PERMISSION;
    return err == PROCSUM_ESRCH ? PSUM_EXIT_NO_PROCESS : PSUM_EXIT_FAILURE;
}
