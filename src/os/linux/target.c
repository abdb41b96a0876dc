/* The Linux target: the process a target refers to and the /proc files of it that stay open. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../os.h"
#include "errors.h"
#include "target.h"

pid_t psum_linux_target_real_pid(const psum_os_target *t)
{
    return t->pid == 0 ? getpid() : (pid_t)t->pid;
}

void psum_linux_target_proc_path(char *buf, size_t size, const psum_os_target *t, const char *leaf)
{
    if (t->pid == 0)
        snprintf(buf, size, "/proc/self/%s", leaf);
    else
        snprintf(buf, size, "/proc/%ld/%s", t->pid, leaf);
}

int psum_linux_target_pagemap(psum_os_target *t)
{
    /* A descriptor stays bound to the address space it was opened on: a forked child opens its own. */
    if (t->pagemap_fd >= 0 && t->pagemap_owner != getpid())
        t->pagemap_fd = -1; /* the parent's: not ours to close */
    if (t->pagemap_fd < 0) {
        char path[64];
        psum_linux_target_proc_path(path, sizeof(path), t, "pagemap");
        t->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
        t->pagemap_owner = getpid();
    }
    return t->pagemap_fd;
}

int psum_os_target_open(long pid, psum_os_target **out)
{
    if (!out || pid < 0)
        return PROCSUM_EINVAL;
    *out = NULL;
    psum_os_target *t = calloc(1, sizeof(*t));
    if (!t)
        return PROCSUM_ENOMEM;
    t->pid = pid;
    t->mem_fd = -1;
    t->pagemap_fd = -1;
    t->vm_readv_ok = true;
    if (pid != 0) {
        char path[64];
        struct stat st;
        psum_linux_target_proc_path(path, sizeof(path), t, "");
        if (stat(path, &st) != 0) {
            int err = psum_linux_proc_error(pid);
            free(t);
            return err;
        }
    }
    *out = t;
    return 0;
}

void psum_os_target_close(psum_os_target *t)
{
    if (!t)
        return;
    if (t->mem_fd >= 0)
        close(t->mem_fd);
    if (t->pagemap_fd >= 0 && t->pagemap_owner == getpid())
        close(t->pagemap_fd);
    free(t->last_maps);
    psum_linux_procmap_free(t->procmap);
    free(t);
}
