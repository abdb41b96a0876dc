/* The processes verify and watch check, and what /proc tells of them. */
#include "procs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The kernel's flag for its own threads, field 9 of /proc/PID/stat. */
#define PF_KTHREAD 0x00200000ul

void psum_pid_list_free(psum_pid_list *l)
{
    free(l->pids);
    memset(l, 0, sizeof(*l));
}

static int push(psum_pid_list *l, long pid)
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

/* A kernel thread has no user memory to check. A process gone meanwhile is not one: it is reported when checked. */
static bool kernel_thread(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    /* The command name may hold anything: the fields are counted from its last ')'. */
    const char *p = strrchr(buf, ')');
    for (int field = 2; p && field < 9; field++) {
        p = strchr(p + 1, ' ');
    }
    return p && (strtoul(p + 1, NULL, 10) & PF_KTHREAD) != 0;
}

/* The process's name as the kernel keeps it (comm), into buf; false when it cannot be read. */
static bool proc_name(long pid, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return true;
}

bool psum_proc_skipped(const psum_config *cfg, long pid)
{
    char name[64];
    bool have_name = false, skip = false;
    char *exe = NULL;
    for (size_t i = 0; !skip && i < cfg->process_count; i++) {
        const char *glob = cfg->processes[i];
        if (strchr(glob, '/')) {
            if (!exe)
                exe = psum_proc_executable(pid);
            skip = exe && fnmatch(glob, exe, 0) == 0;
        } else {
            if (!have_name && !(have_name = proc_name(pid, name, sizeof(name))))
                continue;
            skip = fnmatch(glob, name, 0) == 0;
        }
    }
    free(exe);
    return skip;
}

int psum_procs_scan(const psum_config *cfg, psum_pid_list *out)
{
    memset(out, 0, sizeof(*out));
    DIR *d = opendir("/proc");
    if (!d)
        return errno;
    long self = (long)getpid();
    int err = 0;
    struct dirent *e;
    while (!err && (errno = 0, e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (!isdigit((unsigned char)e->d_name[0]) || *end || pid <= 0 || pid == self || kernel_thread(pid) ||
            psum_proc_skipped(cfg, pid))
            continue;
        err = push(out, pid);
    }
    if (!err && errno)
        err = errno;
    closedir(d);
    if (err) {
        psum_pid_list_free(out);
        return err;
    }
    qsort(out->pids, out->count, sizeof(*out->pids), by_pid);
    return 0;
}

int psum_procs_select(const psum_cli *c, psum_pid_list *out)
{
    memset(out, 0, sizeof(*out));
    if (c->all == (c->arg_count > 0))
        return psum_cli_usage_error(c->all ? "--all and process ids exclude each other" : "name processes: --all or PIDs");
    if (c->all) {
        int err = psum_procs_scan(&c->config, out);
        if (err) {
            fprintf(stderr, "procsum: cannot list /proc: %s\n", strerror(err));
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
        if (push(out, pid)) {
            psum_pid_list_free(out);
            fprintf(stderr, "procsum: out of memory\n");
            return PSUM_EXIT_FAILURE;
        }
    }
    return 0;
}

char *psum_proc_executable(long pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/exe", pid);
    for (size_t cap = 256; cap <= 65536; cap *= 2) {
        char *buf = malloc(cap);
        if (!buf)
            return NULL;
        ssize_t n = readlink(path, buf, cap);
        if (n < 0) {
            free(buf);
            return NULL;
        }
        if ((size_t)n < cap) {
            buf[n] = '\0';
            return buf;
        }
        free(buf);
    }
    return NULL;
}

int psum_procs_exit_code(int err)
{
    if (err == PROCSUM_EACCES || err == PROCSUM_EPERM)
        return PSUM_EXIT_PERMISSION;
    return err == PROCSUM_ESRCH ? PSUM_EXIT_NO_PROCESS : PSUM_EXIT_FAILURE;
}
