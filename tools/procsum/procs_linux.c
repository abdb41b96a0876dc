/* Linux: every process is a directory of /proc; its program is /proc/PID/exe. */
#include "procs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The kernel's flag for its own threads, field 9 of /proc/PID/stat. */
#define PF_KTHREAD 0x00200000ul

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

int psum_procs_scan(psum_pid_list *out)
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
        if (!isdigit((unsigned char)e->d_name[0]) || *end || pid <= 0 || pid == self || kernel_thread(pid))
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
