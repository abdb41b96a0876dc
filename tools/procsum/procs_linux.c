/* Linux: every process is a directory of /proc; its program is /proc/PID/exe, its name /proc/PID/comm. */
#include "procs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The kernel's flag for its own threads, field 9 of /proc/PID/stat. */
#define PF_KTHREAD 0x00200000ul

/* The start of a small /proc file, one read, into buf as a string; false when there is none. */
static bool read_start(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return true;
}

/* A kernel thread has no user memory to check. A process gone meanwhile is not one: it is reported when checked. */
bool psum_proc_kernel_thread(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    if (!read_start(path, buf, sizeof(buf)))
        return false;
    /* The command name may hold anything: the fields are counted from its last ')'. */
    const char *p = strrchr(buf, ')');
    for (int field = 2; p && field < 9; field++) {
        p = strchr(p + 1, ' ');
    }
    return p && (strtoul(p + 1, NULL, 10) & PF_KTHREAD) != 0;
}

/* The state letter of /proc/PID/task/TID/stat (after the name, which may hold anything, up to its last ')'), or 0. */
static char task_state(long pid, const char *tid)
{
    char path[96], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/task/%.20s/stat", pid, tid);
    if (!read_start(path, buf, sizeof(buf)))
        return 0;
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : 0;
}

/*
 * The kernel leaves the first thread's /proc files to the thread: once it
 * has ended, they show a zombie without memory or files though the process
 * runs on, and any other thread's id reaches the process's memory and files.
 */
long psum_proc_reader(long pid)
{
    char own[24];
    snprintf(own, sizeof(own), "%ld", pid);
    if (task_state(pid, own) != 'Z')
        return pid;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/task", pid);
    DIR *d = opendir(path);
    if (!d)
        return pid;
    long reader = pid;
    for (struct dirent *e; reader == pid && (e = readdir(d)) != NULL;) {
        char state = isdigit((unsigned char)e->d_name[0]) && strcmp(e->d_name, own) != 0 ? task_state(pid, e->d_name) : 0;
        if (state && state != 'Z' && state != 'X')
            reader = strtol(e->d_name, NULL, 10);
    }
    closedir(d);
    return reader;
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
    /* The kernel ends the name with a newline; a newline before it belongs to the name, which may hold any byte. */
    buf[n > 0 && buf[n - 1] == '\n' ? n - 1 : n] = '\0';
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

long psum_procs_self(void)
{
    return (long)getpid();
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
        if (!isdigit((unsigned char)e->d_name[0]) || *end || pid <= 0 || pid == self || psum_proc_kernel_thread(pid) ||
            psum_proc_skipped(cfg, pid))
            continue;
        err = psum_pid_list_push(out, pid);
    }
    if (!err && errno)
        err = errno;
    closedir(d);
    if (err) {
        psum_pid_list_free(out);
        return err;
    }
    psum_pid_list_sort(out);
    return 0;
}

/*
 * The kernel appends " (deleted)" to the link of a program whose file was
 * unlinked (an upgrade renamed another over it): the path is given without
 * it, as a mapped file's is, so that it names the program the same way
 * before and after. A file truly called so (the one the link leads to,
 * device and inode) keeps its name.
 */
static void drop_deleted_mark(const char *link, char *target, size_t len)
{
    static const char mark[] = " (deleted)";
    size_t mark_len = sizeof(mark) - 1;
    if (len <= mark_len || memcmp(target + len - mark_len, mark, mark_len) != 0)
        return;
    struct stat running, named;
    if (stat(link, &running) == 0 && stat(target, &named) == 0 && running.st_dev == named.st_dev &&
        running.st_ino == named.st_ino)
        return;
    target[len - mark_len] = '\0';
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
            drop_deleted_mark(path, buf, (size_t)n);
            return buf;
        }
        free(buf);
    }
    return NULL;
}

char *psum_proc_name(long pid)
{
    char name[64];
    return proc_name(pid, name, sizeof(name)) && name[0] ? strdup(name) : NULL;
}

long psum_proc_thread_group(long pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    if (!read_start(path, buf, sizeof(buf)))
        return 0;
    const char *tgid = strstr(buf, "\nTgid:");
    return tgid ? strtol(tgid + 7, NULL, 10) : 0;
}
