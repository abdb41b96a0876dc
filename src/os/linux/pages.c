/*
 * Reading and writing a Linux process's pages: process_vm_readv, which
 * fails with EFAULT instead of faulting, or /proc/PID/mem where that is
 * refused; in place for the calling process's loader objects (loader.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../os.h"
#include "errors.h"
#include "fault_guard.h"
#include "fork_gate.h"
#include "loader.h"
#include "target.h"

static int read_via_mem_file(psum_os_target *t, uintptr_t addr, void *buf, size_t len)
{
    if (t->mem_fd >= 0 && t->mem_fd_owner != getpid()) {
        /* Inherited across fork: "/proc/self/mem" opened by the parent still shows the parent. */
        close(t->mem_fd);
        t->mem_fd = -1;
    }
    if (t->mem_fd < 0) {
        t->mem_fd_owner = getpid();
        char path[64];
        psum_linux_target_proc_path(path, sizeof(path), t, "mem");
        t->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (t->mem_fd < 0)
            return psum_linux_proc_error(t->pid);
        psum_linux_fd_note(t->mem_fd, &t->mem_id);
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(t->mem_fd, (char *)buf + done, len - done, (off_t)(addr + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 || errno == EIO ? PROCSUM_EFAULT : psum_os_last_error();
        done += (size_t)n;
    }
    return 0;
}

static int read_pages(psum_os_target *t, uintptr_t addr, void *buf, size_t len);

int psum_os_read(psum_os_target *t, uintptr_t addr, void *buf, size_t len)
{
    int err = read_pages(t, addr, buf, len);
    if (err == PROCSUM_EFAULT)
        t->list_stale = true; /* not mapped as listed: the next listing asks the kernel (regions.c) */
    return err;
}

static int read_pages(psum_os_target *t, uintptr_t addr, void *buf, size_t len)
{
    if (len == 0)
        return 0;
    if (addr + len < addr)
        return PROCSUM_EFAULT;
    if (t->vm_readv_ok) {
        struct iovec local = {buf, len};
        struct iovec remote = {(void *)addr, len};
        ssize_t n = process_vm_readv(psum_linux_target_real_pid(t), &local, 1, &remote, 1, 0);
        if (n == (ssize_t)len)
            return 0;
        if (n >= 0 || errno == EFAULT)
            return PROCSUM_EFAULT; /* partly or wholly unmapped now */
        if (errno != ENOSYS && errno != EPERM && errno != EACCES)
            return psum_os_last_error();
        /*
         * Refused for this process (seccomp filters answer with whatever
         * errno their policy names, old kernels with ENOSYS): /proc/PID/mem
         * is just as safe.
         */
        t->vm_readv_ok = false;
    }
    return read_via_mem_file(t, addr, buf, len);
}

int psum_os_write(psum_os_target *t, uintptr_t addr, const void *buf, size_t len)
{
    char path[64];
    psum_linux_target_proc_path(path, sizeof(path), t, "mem");
    /* /proc/PID/mem writes through the protection, as ptrace does, with no window where the page is writable. */
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return psum_linux_proc_error(t->pid);
    size_t done = 0;
    int err = 0;
    while (done < len && !err) {
        ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(addr + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            err = n == 0 || errno == EIO ? PROCSUM_EFAULT : psum_os_last_error();
        else
            done += (size_t)n;
    }
    close(fd);
    return err;
}

int psum_os_use_pages(psum_os_target *t, const psum_os_region *r, uintptr_t addr, size_t npages, const bool *want,
                      void *buf, psum_os_bytes_fn use, void *ctx)
{
    /* In place only where the loader keeps the object mapped, forks wait, and faults are caught. */
    if (t->pid == 0 && r->kind == PROCSUM_REGION_FILE && psum_linux_fork_gate_ready() &&
        psum_linux_fault_guard_ready()) {
        bool handled = false;
        int err = psum_linux_loader_use(r, &t->listed, &t->hints, addr, npages * PROCSUM_PAGE_SIZE, use, ctx, &handled);
        if (handled)
            return err;
    }
    /* Other processes, and files the program mapped itself: copied first, which cannot fault. */
    return psum_os_copy_then_use(t, addr, npages, want, buf, use, ctx);
}
