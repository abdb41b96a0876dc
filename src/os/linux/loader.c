/*
 * Reads of loader-mapped objects that know whose bytes they got. While
 * dl_iterate_phdr runs its callback the loader cannot map or unmap anything,
 * so a read made there of an object it lists is a read of that object, not
 * of another one dlopen'ed since at the same address. The identity (device
 * and inode) of each listed object is compared with what /proc/PID/maps said
 * when the region was found.
 */
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../os.h"
#include "files.h"

/*
 * fork() while the checker is inside dl_iterate_phdr would leave the child
 * with the loader's lock held by a thread that does not exist there: its
 * first dlopen would hang. So those reads hold `guard`, and fork takes it
 * first: a fork waits until the checker is out of the loader (a slice, but
 * the checker runs at the lowest priority, so this may take a while on a
 * busy machine). The wait is bounded (10 s) for one case: a thread that
 * forks while itself holding the loader's lock (from a library
 * constructor), which the checker may be waiting for; that thread's own
 * lock is then the only one held, and it lives on in the child.
 */
static pthread_mutex_t guard = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static _Thread_local bool guard_taken_for_fork;
static bool guard_ready;

static void before_fork(void)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    guard_taken_for_fork = pthread_mutex_timedlock(&guard, &deadline) == 0;
}

static void parent_after_fork(void)
{
    if (guard_taken_for_fork)
        pthread_mutex_unlock(&guard);
    guard_taken_for_fork = false;
}

static void child_after_fork(void)
{
    if (guard_taken_for_fork)
        pthread_mutex_unlock(&guard);
    else
        pthread_mutex_init(&guard, NULL); /* whoever held it does not exist here */
    guard_taken_for_fork = false;
}

static void install_fork_guard(void)
{
    guard_ready = pthread_atfork(before_fork, parent_after_fork, child_after_fork) == 0;
}

/*
 * Files seen as loader objects (guarded by `guard`). A region of such a file
 * that no listed object covers any more was unloaded since it was listed:
 * whatever is at its address now is not its content.
 */
#define MAX_KNOWN_OBJECTS 256
static struct {
    uint64_t dev, ino;
} known_objects[MAX_KNOWN_OBJECTS];
static size_t known_count, known_next;

static bool is_known_object(const psum_os_region *r)
{
    for (size_t i = 0; i < known_count; i++)
        if (known_objects[i].dev == r->dev && known_objects[i].ino == r->ino)
            return true;
    return false;
}

static void remember_object(const psum_os_region *r)
{
    if (is_known_object(r))
        return;
    known_objects[known_next].dev = r->dev;
    known_objects[known_next].ino = r->ino;
    known_next = (known_next + 1) % MAX_KNOWN_OBJECTS;
    if (known_count < MAX_KNOWN_OBJECTS)
        known_count++;
}

typedef struct object_read {
    psum_os_target *t;
    const psum_os_region *r;
    uintptr_t addr;
    void *buf;
    size_t len;
    bool covered; /* an object listed by the loader holds [addr, addr + len) */
    int result;
} object_read;

static bool covers(const struct dl_phdr_info *info, uintptr_t addr, size_t len)
{
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t start = (info->dlpi_addr + ph->p_vaddr) & ~(uintptr_t)(PROCSUM_PAGE_SIZE - 1);
        uintptr_t end = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        if (addr >= start && addr + len <= end + PROCSUM_PAGE_SIZE - 1)
            return true;
    }
    return false;
}

/*
 * Whether the listed object is r's file: by device and inode, or else by its
 * resolved path (the two can disagree on overlay file systems, where stat
 * and the maps file may give different devices for one file). The main
 * program (empty name) cannot be unloaded, so it always is.
 */
static bool same_file(const struct dl_phdr_info *info, const psum_os_region *r)
{
    if (!info->dlpi_name || !info->dlpi_name[0])
        return true;
    struct stat st;
    if (stat(info->dlpi_name, &st) == 0 && (uint64_t)st.st_dev == r->dev && (uint64_t)st.st_ino == r->ino)
        return true;
    char resolved[PATH_MAX];
    return realpath(info->dlpi_name, resolved) && strcmp(resolved, r->path) == 0;
}

static int visit(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    object_read *o = arg;
    if (!covers(info, o->addr, o->len))
        return 0;
    o->covered = true;
    /* Another object at this address since the regions were listed: not the bytes of r's file. */
    if (!same_file(info, o->r)) {
        o->result = PROCSUM_EFAULT;
        return 1;
    }
    remember_object(o->r);
    o->result = psum_os_read(o->t, o->addr, o->buf, o->len);
    return 1;
}

int psum_os_read_region(psum_os_target *t, const psum_os_region *r, uintptr_t addr, void *buf, size_t len)
{
    if (psum_linux_target_pid(t) != 0 || r->kind != PROCSUM_REGION_FILE)
        return psum_os_read(t, addr, buf, len);
    object_read o = {.t = t, .r = r, .addr = addr, .buf = buf, .len = len, .result = 0};
    pthread_once(&guard_once, install_fork_guard);
    if (!guard_ready)
        return psum_os_read(t, addr, buf, len); /* without the guard, stay out of the loader's lock */
    pthread_mutex_lock(&guard);
    dl_iterate_phdr(visit, &o);
    /* A loader object's file no object covers here now: unloaded since it was listed. */
    bool unloaded = !o.covered && is_known_object(r);
    pthread_mutex_unlock(&guard);
    if (unloaded)
        return PROCSUM_EFAULT;
    /* Files the program mapped itself are not the loader's: a plain read, which cannot fault either. */
    return o.covered ? o.result : psum_os_read(t, addr, buf, len);
}
