/*
 * The Linux target: the process a target refers to and the /proc files of
 * it that stay open. Another process is known by its start time (a pid
 * reused by a new process is not the same target) and by the program it
 * runs: exec replaces the executable or at least the auxiliary vector (new
 * stack, new random bytes), so a change of either is a new program.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/*
 * Forks this process has seen as a child: the pagemap is asked for every
 * region of every pass, and getpid() is a system call; a counter bumped in
 * the child of every fork tells as well whether a descriptor was opened by
 * this process. Where the handler could not be installed, getpid() it is.
 */
static atomic_uint forks;
static bool forks_counted;
static pthread_once_t forks_once = PTHREAD_ONCE_INIT;

static void count_fork(void)
{
    atomic_fetch_add_explicit(&forks, 1, memory_order_relaxed);
}

static void count_forks(void)
{
    forks_counted = pthread_atfork(NULL, NULL, count_fork) == 0;
}

/* Whether the pagemap descriptor was opened by this process, not inherited from its parent. */
static bool pagemap_ours(const psum_os_target *t)
{
    if (forks_counted)
        return t->pagemap_forks == atomic_load_explicit(&forks, memory_order_relaxed);
    return t->pagemap_owner == getpid();
}

int psum_linux_target_pagemap(psum_os_target *t)
{
    pthread_once(&forks_once, count_forks);
    /* A descriptor stays bound to the address space it was opened on: a forked child opens its own. */
    if (t->pagemap_fd >= 0 && !pagemap_ours(t))
        t->pagemap_fd = -1; /* the parent's: not ours to close */
    if (t->pagemap_fd < 0) {
        char path[64];
        psum_linux_target_proc_path(path, sizeof(path), t, "pagemap");
        t->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
        t->pagemap_owner = getpid();
        t->pagemap_forks = atomic_load_explicit(&forks, memory_order_relaxed);
    }
    return t->pagemap_fd;
}

ssize_t psum_linux_target_read_small(const psum_os_target *t, const char *leaf, char *buf, size_t cap)
{
    char path[64];
    psum_linux_target_proc_path(path, sizeof(path), t, leaf);
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return psum_linux_proc_error(t->pid);
    size_t used = 0;
    while (used + 1 < cap) {
        ssize_t n = read(fd, buf + used, cap - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = psum_linux_proc_error(t->pid);
            close(fd);
            return err;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    close(fd);
    buf[used] = '\0';
    return (ssize_t)used;
}

/*
 * From /proc/PID/stat: the state letter and the start time (field 22, in
 * clock ticks since boot). The command name (field 2) may hold spaces and
 * parentheses, so the fields are counted from its last ')'.
 */
static int read_stat(const psum_os_target *t, char *state, uint64_t *start_time)
{
    char buf[1024];
    ssize_t n = psum_linux_target_read_small(t, "stat", buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    const char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return PROCSUM_EBADMSG;
    p += 2;
    *state = *p;
    /* Field 3 is the state; 22 is the start time. */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return PROCSUM_EBADMSG;
        p++;
    }
    char *end;
    *start_time = strtoull(p, &end, 10);
    return end == p ? PROCSUM_EBADMSG : 0;
}

/* FNV-1a over the executable's identity and the auxiliary vector: changes with every exec. */
static int program_id(const psum_os_target *t, uint64_t *out)
{
    char path[64];
    struct stat st;
    psum_linux_target_proc_path(path, sizeof(path), t, "exe");
    if (stat(path, &st) != 0)
        return psum_linux_proc_error(t->pid);
    char auxv[1024];
    ssize_t n = psum_linux_target_read_small(t, "auxv", auxv, sizeof(auxv));
    if (n < 0)
        return (int)n;
    uint64_t h = 1469598103934665603ull;
    uint64_t ids[2] = {(uint64_t)st.st_dev, (uint64_t)st.st_ino};
    const unsigned char *parts[2] = {(const unsigned char *)ids, (const unsigned char *)auxv};
    size_t lens[2] = {sizeof(ids), (size_t)n};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < lens[k]; i++) {
            h ^= parts[k][i];
            h *= 1099511628211ull;
        }
    }
    *out = h;
    return 0;
}

/*
 * After an exec: /proc/PID/pagemap and /proc/PID/mem opened before it stay
 * bound to the address space the process left (its pages all read as not
 * present, its memory as unmapped), so they are opened afresh.
 */
static void forget_address_space(psum_os_target *t)
{
    if (t->pagemap_fd >= 0 && t->pagemap_owner == getpid())
        close(t->pagemap_fd);
    t->pagemap_fd = -1;
    if (t->mem_fd >= 0 && t->mem_fd_owner == getpid())
        close(t->mem_fd);
    t->mem_fd = -1;
}

int psum_os_target_refresh(psum_os_target *t, bool *new_program)
{
    *new_program = false;
    if (t->pid == 0)
        return 0;
    char state;
    uint64_t start;
    int err = read_stat(t, &state, &start);
    if (err)
        return err;
    /* A zombie has no memory left to check; another start time is another process under the same id. */
    if (state == 'Z' || state == 'X' || (t->start_time_known && start != t->start_time))
        return PROCSUM_ESRCH;
    t->start_time = start;
    t->start_time_known = true;
    uint64_t id;
    err = program_id(t, &id);
    if (err == PROCSUM_ENOENT)
        return PROCSUM_ESRCH; /* the executable link goes when the process exits */
    if (err)
        return err;
    *new_program = t->program_known && id != t->program_id;
    t->program_known = true;
    t->program_id = id;
    if (*new_program)
        forget_address_space(t);
    return 0;
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
    int err = psum_linux_procmap_new(&t->procmap);
    if (err) {
        free(t);
        return err;
    }
    *out = t;
    return 0;
}

int psum_os_target_repoint(psum_os_target *t, long pid)
{
    if (t->pid == 0 || pid <= 0)
        return PROCSUM_EINVAL;
    t->pid = pid;
    return 0;
}

void psum_os_target_abandon(psum_os_target *t)
{
    if (!t)
        return;
    if (t->mem_fd >= 0 && t->mem_fd_owner == getpid())
        close(t->mem_fd);
    t->mem_fd = -1;
    if (t->pagemap_fd >= 0 && pagemap_ours(t))
        close(t->pagemap_fd);
    t->pagemap_fd = -1;
    psum_os_table_free((void **)&t->last_maps, &t->last_maps_cap, 1);
    psum_os_table_free((void **)&t->text, &t->text_cap, 1);
    t->last_maps_len = 0;
    t->last_list = NULL;
    psum_linux_procmap_abandon(t->procmap);
}

void psum_os_target_close(psum_os_target *t)
{
    if (!t)
        return;
    if (t->mem_fd >= 0)
        close(t->mem_fd);
    if (t->pagemap_fd >= 0 && t->pagemap_owner == getpid())
        close(t->pagemap_fd);
    psum_os_table_free((void **)&t->last_maps, &t->last_maps_cap, 1);
    psum_os_table_free((void **)&t->text, &t->text_cap, 1);
    psum_linux_procmap_free(t->procmap);
    free(t);
}
