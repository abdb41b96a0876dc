/*
 * The Linux target: the process a target refers to and the /proc files of
 * it that stay open. Another process is known by its start time (a pid
 * reused by a new process is not the same target) and by the program it
 * runs: exec gives the process a new address space, laid out afresh, so a
 * change of the layout /proc/PID/stat shows is a new program (or, where
 * that is hidden, a change of the executable or the auxiliary vector), and
 * so is a kept descriptor whose address space is gone (the same layout
 * again, without randomization). A
 * watch reads that line for every process every pass: its descriptor stays
 * open, and one read is the whole refresh.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../os.h"
#include "errors.h"
#include "target.h"

/*
 * The calling process is reached through the calling thread: the first
 * thread's files (/proc/self, the process id) show no memory once it has
 * ended (pthread_exit in main) while the process runs on.
 */
pid_t psum_linux_target_real_pid(const psum_os_target *t)
{
    return t->pid == 0 ? (pid_t)syscall(SYS_gettid) : (pid_t)t->pid;
}

const char *psum_linux_proc_self(void)
{
    /* 1: /proc/thread-self is there (Linux 3.17 on), 2: it is not. */
    static atomic_int have;
    int h = atomic_load_explicit(&have, memory_order_relaxed);
    if (!h) {
        h = access("/proc/thread-self", F_OK) == 0 ? 1 : 2;
        atomic_store_explicit(&have, h, memory_order_relaxed);
    }
    return h == 1 ? "/proc/thread-self" : "/proc/self";
}

void psum_linux_target_proc_path(char *buf, size_t size, const psum_os_target *t, const char *leaf)
{
    if (t->pid == 0)
        snprintf(buf, size, "%s/%s", psum_linux_proc_self(), leaf);
    else
        snprintf(buf, size, "/proc/%ld/%s", t->pid, leaf);
}

/* Whether the pagemap descriptor was opened by this process, not inherited from its parent. */
static bool pagemap_ours(const psum_os_target *t)
{
    return t->pagemap_owner == (pid_t)psum_os_process_id();
}

void psum_linux_fd_note(int fd, psum_linux_fd_id *id)
{
    struct stat st;
    bool known = fd >= 0 && fstat(fd, &st) == 0;
    id->dev = known ? st.st_dev : 0;
    id->ino = known ? st.st_ino : 0;
}

/* Whether fd is still the file noted in id. */
static bool fd_still(int fd, const psum_linux_fd_id *id)
{
    struct stat st;
    return fstat(fd, &st) == 0 && st.st_dev == id->dev && st.st_ino == id->ino;
}

/*
 * A program may close every descriptor (a daemon starting) and open files
 * of its own, which take the numbers of the descriptors kept here: read as
 * a page map, a zeroed file says no page is in memory, and nothing is
 * checked. Once a pass, a descriptor of the calling process's own that is
 * no longer what was opened is forgotten, not closed (its number is the
 * program's now), and opened again when needed.
 */
static void drop_lost_descriptors(psum_os_target *t)
{
    /* Another process's are kept by a program that watches (procsum's tools): not asked, a stat call each saved. */
    if (t->pid != 0)
        return;
    pid_t self = getpid();
    if (t->pagemap_fd >= 0 && t->pagemap_owner == self && !fd_still(t->pagemap_fd, &t->pagemap_id))
        t->pagemap_fd = -1;
    if (t->mem_fd >= 0 && t->mem_fd_owner == self && !fd_still(t->mem_fd, &t->mem_id))
        t->mem_fd = -1;
    if (t->stat_fd >= 0 && !fd_still(t->stat_fd, &t->stat_id))
        t->stat_fd = -1;
}

int psum_linux_target_pagemap(psum_os_target *t)
{
    /* A descriptor stays bound to the address space it was opened on: a forked child opens its own. */
    if (t->pagemap_fd >= 0 && !pagemap_ours(t))
        t->pagemap_fd = -1; /* the parent's: not ours to close */
    if (t->pagemap_fd < 0) {
        char path[64];
        psum_linux_target_proc_path(path, sizeof(path), t, "pagemap");
        t->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
        t->pagemap_owner = (pid_t)psum_os_process_id();
        psum_linux_fd_note(t->pagemap_fd, &t->pagemap_id);
    }
    return t->pagemap_fd;
}

int psum_linux_target_open_proc(const psum_os_target *t, const char *leaf)
{
    char path[64];
    psum_linux_target_proc_path(path, sizeof(path), t, leaf);
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? psum_linux_proc_error(t->pid) : fd;
}

ssize_t psum_linux_target_read_small(const psum_os_target *t, const char *leaf, char *buf, size_t cap)
{
    int fd = psum_linux_target_open_proc(t, leaf);
    if (fd < 0)
        return fd;
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
 * /proc/PID/stat through a descriptor kept open from pass to pass: a read
 * from its start has the kernel write the line afresh. The file follows the
 * process id, not an address space, so it stays right across an exec and
 * fails once the process is gone. The line is a few hundred bytes: one read
 * takes it whole.
 */
static ssize_t read_stat_line(psum_os_target *t, char *buf, size_t cap)
{
    if (t->stat_fd < 0) {
        int fd = psum_linux_target_open_proc(t, "stat");
        if (fd < 0)
            return fd;
        t->stat_fd = fd;
        psum_linux_fd_note(fd, &t->stat_id);
    }
    ssize_t n;
    do
        n = pread(t->stat_fd, buf, cap - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return psum_linux_proc_error(t->pid);
    buf[n] = '\0';
    return n;
}

/* The fields of /proc/PID/stat a refresh uses, numbered as proc(5) numbers them. */
enum { STAT_MINFLT = 10, STAT_MAJFLT = 12, STAT_START_TIME = 22, STAT_VSIZE = 23, STAT_RSS = 24, STAT_START_CODE = 26,
       STAT_START_STACK = 28, STAT_START_DATA = 45, STAT_ENV_END = 51 };
#define LAYOUT_FIELDS 10

typedef struct stat_facts {
    char state;
    uint64_t start_time;
    /* startcode, endcode, startstack, start_data to env_end: where exec put the program, its stack, its arguments. */
    uint64_t layout[LAYOUT_FIELDS];
    size_t layout_count;
    /* minflt, majflt, vsize, rss: what the process's mappings and page faults add up to. */
    uint64_t memory[4];
    size_t memory_count;
} stat_facts;

static bool memory_field(int field)
{
    return field == STAT_MINFLT || field == STAT_MAJFLT || field == STAT_VSIZE || field == STAT_RSS;
}

static bool layout_field(int field)
{
    return (field >= STAT_START_CODE && field <= STAT_START_STACK) ||
           (field >= STAT_START_DATA && field <= STAT_ENV_END);
}

/*
 * From /proc/PID/stat: the state letter, the start time (in clock ticks
 * since boot) and the address space's layout. The command name (field 2)
 * may hold spaces and parentheses, so the fields are counted from its last
 * ')'. The kernel shows the layout as zeros to a reader it does not let see
 * it, and a kernel older than 3.5 does not show all of it.
 */
static int read_stat(psum_os_target *t, stat_facts *out)
{
    char buf[2048];
    ssize_t n = read_stat_line(t, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    const char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return PROCSUM_EBADMSG;
    p += 2;
    *out = (stat_facts){.state = *p};
    bool have_start = false;
    for (int field = 3; field <= STAT_ENV_END && p; field++) {
        if (field == STAT_START_TIME || layout_field(field) || memory_field(field)) {
            char *end;
            uint64_t v = strtoull(p, &end, 10);
            if (end == p)
                return PROCSUM_EBADMSG;
            if (field == STAT_START_TIME)
                have_start = true;
            if (field == STAT_START_TIME)
                out->start_time = v;
            else if (memory_field(field))
                out->memory[out->memory_count++] = v;
            else
                out->layout[out->layout_count++] = v;
        }
        p = strchr(p, ' ');
        p = p ? p + 1 : NULL;
    }
    return have_start ? 0 : PROCSUM_EBADMSG;
}

/*
 * Refreshes in a row that wait for an exec to finish the layout (each a
 * period later), and the least time they wait: at a short period, an exec
 * on a busy machine outlasts a few periods.
 */
#define LAYOUT_WAITS_MAX 3
#define LAYOUT_WAIT_MIN_NS 1000000000ull
/* The layout's start_brk, which exec moves last (randomized after the rest is set): not part of the id. */
#define LAYOUT_START_BRK 5

/* Every field of the layout shown, none zero: a program in place. */
static bool layout_whole(const stat_facts *st)
{
    if (st->layout_count != LAYOUT_FIELDS)
        return false;
    for (size_t i = 0; i < LAYOUT_FIELDS; i++)
        if (st->layout[i] == 0)
            return false;
    return true;
}

/* The layout as the kernel shows it to a reader it does not let see it: code at 1 to 1, the rest zero. */
static bool layout_hidden(const stat_facts *st)
{
    return st->layout_count >= 2 && st->layout[0] == 1 && st->layout[1] == 1;
}

/* Some field of the layout not zero. */
static bool layout_any(const stat_facts *st)
{
    for (size_t i = 0; i < st->layout_count; i++)
        if (st->layout[i] != 0)
            return true;
    return false;
}

/* FNV-1a over len bytes, continued from h. */
#define FNV_START 1469598103934665603ull
static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

/*
 * What identifies the program, and changes with every exec: exec gives the
 * process a new address space, placed afresh (and with address space
 * randomization, elsewhere every time), so the layout the stat line shows
 * (code, stack, data, arguments, environment) tells, at no cost beyond the
 * refresh's one read. Where the kernel hides the layout, the executable's
 * identity and the auxiliary vector (new stack, new random bytes) tell.
 */
static int program_id(const psum_os_target *t, const stat_facts *st, uint64_t *out)
{
    uint64_t seen = 0;
    for (size_t i = 0; i < st->layout_count; i++)
        seen |= st->layout[i];
    if (st->layout_count == LAYOUT_FIELDS && seen != 0) {
        uint64_t layout[LAYOUT_FIELDS];
        memcpy(layout, st->layout, sizeof(layout));
        layout[LAYOUT_START_BRK] = 0;
        *out = fnv(FNV_START, layout, sizeof(layout));
        return 0;
    }
    char path[64];
    struct stat sb;
    psum_linux_target_proc_path(path, sizeof(path), t, "exe");
    if (stat(path, &sb) != 0)
        return psum_linux_proc_error(t->pid);
    char auxv[1024];
    ssize_t n = psum_linux_target_read_small(t, "auxv", auxv, sizeof(auxv));
    if (n < 0)
        return (int)n;
    uint64_t ids[2] = {(uint64_t)sb.st_dev, (uint64_t)sb.st_ino};
    *out = fnv(fnv(FNV_START, ids, sizeof(ids)), auxv, (size_t)n);
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
    t->entry_known = false;
    t->listed_known = false;
    psum_linux_procmap_forget(t->procmap);
}

/*
 * Whether the address space the kept page map (or memory) descriptor was
 * opened on is gone (an exec, an exit): the kernel then answers a read of
 * it with nothing, where a living one answers for any address below its
 * top (the page map), or fails one not mapped (memory, at 0). Without
 * randomization an exec of the same program with the same arguments and
 * environment lays the new address space out as the old one: the layout
 * cannot tell, and the descriptors would read the one left for ever (no
 * page present, nothing checked).
 */
static bool address_space_gone(const psum_os_target *t)
{
    pid_t self = getpid();
    int fd = t->pagemap_fd >= 0 && t->pagemap_owner == self ? t->pagemap_fd
             : t->mem_fd >= 0 && t->mem_fd_owner == self   ? t->mem_fd
                                                             : -1;
    if (fd < 0)
        return false;
    uint64_t entry;
    ssize_t n;
    do
        n = pread(fd, &entry, fd == t->pagemap_fd ? sizeof(entry) : 1, 0);
    while (n < 0 && errno == EINTR);
    return n == 0;
}

int psum_os_target_refresh(psum_os_target *t, bool *new_program)
{
    *new_program = false;
    drop_lost_descriptors(t);
    if (t->pid == 0)
        return 0;
    /* Asked before the stat line: an exit after it is a zombie there, not a new program here. */
    bool gone = address_space_gone(t);
    stat_facts st;
    int err = read_stat(t, &st);
    if (err)
        return err;
    /* A zombie has no memory left to check; another start time is another process under the same id. */
    if (st.state == 'Z' || st.state == 'X' || (t->start_time_known && st.start_time != t->start_time))
        return PROCSUM_ESRCH;
    t->start_time = st.start_time;
    t->start_time_known = true;
    /*
     * exec installs the new address space empty and fills its layout in
     * over a millisecond or so: a stat line read in between shows zeros, or
     * only the stack (the code's bounds come last), and taken as it is, it
     * would be one new program and the finished layout a second. While a
     * process whose layout was shown whole shows it half made (or a first
     * look finds it so), the pass waits for the next period; a few in a
     * row, a second at least, and it is taken as it is.
     */
    bool whole = layout_whole(&st);
    bool half = !whole && !layout_hidden(&st) && (t->layout_shown || (!t->program_known && layout_any(&st)));
    if (half) {
        uint64_t now = psum_os_monotonic_ns();
        if (t->layout_waits == 0)
            t->layout_half_since_ns = now;
        if (t->layout_waits < LAYOUT_WAITS_MAX || now - t->layout_half_since_ns < LAYOUT_WAIT_MIN_NS) {
            t->layout_waits++; /* a second of 1 ms periods at most: no wrap */
            return PROCSUM_EAGAIN;
        }
    }
    t->layout_waits = 0;
    t->layout_shown = whole;
    uint64_t id = 0;
    err = program_id(t, &st, &id);
    if (err == PROCSUM_ENOENT)
        return PROCSUM_ESRCH; /* the executable link goes when the process exits */
    if (err)
        return err;
    *new_program = t->program_known && (id != t->program_id || gone);
    t->program_known = true;
    t->program_id = id;
    t->memory_fresh = st.memory_count == 4;
    memcpy(t->memory, st.memory, sizeof(t->memory));
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
    t->stat_fd = -1;
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
    drop_lost_descriptors(t);
    if (t->mem_fd >= 0 && t->mem_fd_owner == getpid())
        close(t->mem_fd);
    t->mem_fd = -1;
    if (t->pagemap_fd >= 0 && pagemap_ours(t))
        close(t->pagemap_fd);
    t->pagemap_fd = -1;
    if (t->stat_fd >= 0)
        close(t->stat_fd);
    t->stat_fd = -1;
    psum_linux_procmap_forget(t->procmap);
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
    drop_lost_descriptors(t);
    if (t->mem_fd >= 0)
        close(t->mem_fd);
    if (t->pagemap_fd >= 0 && t->pagemap_owner == getpid())
        close(t->pagemap_fd);
    if (t->stat_fd >= 0)
        close(t->stat_fd);
    psum_os_table_free((void **)&t->last_maps, &t->last_maps_cap, 1);
    psum_os_table_free((void **)&t->text, &t->text_cap, 1);
    psum_linux_procmap_free(t->procmap);
    free(t);
}
