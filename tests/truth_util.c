/*
 * Helpers of the report-truth tests: see truth_util.h. The loop device is
 * set up with the kernel's own ioctls (not losetup), so that the test knows
 * which device it holds and can detach exactly that one.
 */
#include "truth_util.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(char err[TRUTH_ERR], const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(char err[TRUTH_ERR], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, TRUTH_ERR, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- where a code byte is in its file ---------------------------------- */

typedef struct offset_query {
    uintptr_t addr;
    bool found;
    uint64_t off;
    char path[PATH_MAX];
} offset_query;

static int find_segment(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    offset_query *q = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type != PT_LOAD || q->addr < start || q->addr >= start + ph->p_filesz)
            continue;
        q->found = true;
        q->off = ph->p_offset + (q->addr - start);
        snprintf(q->path, sizeof(q->path), "%s", info->dlpi_name);
        return 1;
    }
    return 0;
}

int truth_file_offset(const void *addr, uint64_t *off, char *path, size_t path_size, char err[TRUTH_ERR])
{
    offset_query q = {.addr = (uintptr_t)addr};
    dl_iterate_phdr(find_segment, &q);
    if (!q.found)
        return fail(err, "no loaded object's file holds address %p", addr);
    if (q.path[0] == '\0') { /* the main program */
        ssize_t n = readlink("/proc/self/exe", q.path, sizeof(q.path) - 1);
        if (n <= 0)
            return fail(err, "readlink(/proc/self/exe): %s", strerror(errno));
        q.path[n] = '\0';
    }
    *off = q.off;
    if (path)
        snprintf(path, path_size, "%s", q.path);
    return 0;
}

/* ---- the report log ------------------------------------------------------ */

void truth_record(const procsum_mismatch *m, void *userdata)
{
    truth_log *log = userdata;
    for (size_t i = 0; i < m->changed_pages; i++) {
        int n = atomic_load(&log->pages);
        if (n < TRUTH_MAX_PAGES) {
            truth_page *p = &log->page[n];
            p->kind = m->kind;
            p->region_start = m->region->start;
            p->region_end = m->region->end;
            p->region_file_offset = m->region->file_offset;
            p->main_executable = m->region->main_executable;
            snprintf(p->source, sizeof(p->source), "%s", m->region->source);
            p->change = m->page_changes[i];
            /* Its strings live only for the callback: the copy keeps their text, not them. */
            snprintf(p->symbol, sizeof(p->symbol), "%s", p->change.symbol ? p->change.symbol : "-");
            p->change.symbol = p->change.old_insn = p->change.new_insn = NULL;
        }
        atomic_store(&log->pages, n + 1);
    }
    atomic_fetch_add(&log->reports, 1);
}

int truth_log_count(const truth_log *log, const char *source, uintptr_t page)
{
    int n = atomic_load(&log->pages), found = 0;
    for (int i = 0; i < n && i < TRUTH_MAX_PAGES; i++) {
        const truth_page *p = &log->page[i];
        if ((!source || strcmp(p->source, source) == 0) && (!page || p->change.addr == page))
            found++;
    }
    return found;
}

static void print_hex(FILE *out, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%02x", b[i]);
}

void truth_print_page(FILE *out, const truth_page *p)
{
    const procsum_page_change *c = &p->change;
    fprintf(out, "page %s %#lx %#llx %s %s %s %s %s %s %d %zu %zu %zu %zu %s\n", procsum_report_kind_name(p->kind),
            (unsigned long)c->addr, (unsigned long long)c->file_offset, procsum_file_status_name(c->file_status),
            procsum_verdict_name(c->verdict), procsum_cause_name(c->cause), procsum_copy_name(c->copy),
            procsum_reference_name(c->reference), procsum_repair_name(c->repair), c->repaired ? 1 : 0,
            c->changed_bytes, c->changed_bits, c->run_count, c->total_runs, p->source);
    for (size_t r = 0; r < c->run_count && r < PROCSUM_MAX_RUNS; r++) {
        const procsum_byte_run *run = &c->runs[r];
        size_t n = run->len < PROCSUM_RUN_BYTES ? run->len : PROCSUM_RUN_BYTES;
        fprintf(out, "run %#lx %#lx %#llx %zu ", (unsigned long)c->addr, (unsigned long)run->addr,
                (unsigned long long)run->file_offset, run->len);
        print_hex(out, run->old_bytes, n);
        fputc(' ', out);
        print_hex(out, run->new_bytes, n);
        fputc(' ', out);
        print_hex(out, run->xor_mask, n);
        fputc('\n', out);
    }
    fprintf(out, "symbol %#lx %s\n", (unsigned long)c->addr, p->symbol);
}

/* ---- files ----------------------------------------------------------------- */

const char *truth_tmp_dir(void)
{
    const char *env = getenv("PSUM_TEST_TMPDIR");
    if (env && *env)
        return env;
    return access("/var/tmp", W_OK) == 0 ? "/var/tmp" : "/tmp";
}

int truth_copy_file(const char *from, const char *to, char err[TRUTH_ERR])
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return fail(err, "open(%s): %s", from, strerror(errno));
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (out < 0) {
        close(in);
        return fail(err, "create %s: %s", to, strerror(errno));
    }
    char buf[65536];
    int rc = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n == 0)
            break;
        if (n < 0 || write(out, buf, (size_t)n) != n) {
            rc = fail(err, "copy %s to %s: %s", from, to, strerror(errno));
            break;
        }
    }
    if (rc == 0 && fsync(out) != 0)
        rc = fail(err, "fsync(%s): %s", to, strerror(errno));
    close(in);
    close(out);
    return rc;
}

int truth_write_in_place(const char *path, uint64_t off, const void *buf, size_t len, char err[TRUTH_ERR])
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, "open(%s) for writing: %s", path, strerror(errno));
    int rc = 0;
    if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
        rc = fail(err, "pwrite(%s, %zu bytes at %#llx): %s", path, len, (unsigned long long)off, strerror(errno));
    else if (fsync(fd) != 0)
        rc = fail(err, "fsync(%s): %s", path, strerror(errno));
    close(fd);
    return rc;
}

int truth_read_byte(const char *path, uint64_t off, bool direct, uint8_t *out, char err[TRUTH_ERR])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
    if (fd < 0)
        return fail(err, "open(%s%s): %s", path, direct ? ", O_DIRECT" : "", strerror(errno));
    void *block;
    if (posix_memalign(&block, 4096, 4096) != 0) {
        close(fd);
        return fail(err, "posix_memalign failed");
    }
    uint64_t base = off & ~(uint64_t)4095;
    ssize_t n = pread(fd, block, 4096, (off_t)base);
    int rc = 0;
    if (n < 0 || (uint64_t)n <= off - base)
        rc = fail(err, "pread(%s%s at %#llx): %s", path, direct ? ", O_DIRECT" : "", (unsigned long long)base,
                  n < 0 ? strerror(errno) : "short read");
    else
        *out = ((uint8_t *)block)[off - base];
    free(block);
    close(fd);
    return rc;
}

int truth_flip_code(uintptr_t addr, uint8_t mask, char err[TRUTH_ERR])
{
    void *page = (void *)(addr & ~(TRUTH_PAGE - 1));
    /* Stay executable: the code doing this may share the page. */
    if (mprotect(page, TRUTH_PAGE, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
        return fail(err, "mprotect rwx %p: %s", page, strerror(errno));
    *(volatile uint8_t *)addr ^= mask;
    if (mprotect(page, TRUTH_PAGE, PROT_READ | PROT_EXEC) != 0)
        return fail(err, "mprotect r-x %p: %s", page, strerror(errno));
    return 0;
}

/* ---- an ext4 image on a loop device ------------------------------------ */

/* Runs argv[0] from PATH (stdout and stderr to /dev/null); 0 when it exits 0. */
static int run(char *const argv[], char err[TRUTH_ERR])
{
    pid_t pid = fork();
    if (pid < 0)
        return fail(err, "fork: %s", strerror(errno));
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return fail(err, "waitpid(%s): %s", argv[0], strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return fail(err, "%s is not installed (or not in PATH): needed to make the test's file system", argv[0]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail(err, "%s %s failed (status %#x)", argv[0], argv[1], status);
    return 0;
}

/*
 * Attaches the image to a free loop device, with auto-clear: the device lets
 * go of the image when its last user closes it. *held is that device, open:
 * closing it before the mount holds the device would detach it at once.
 */
static int attach_loop(truth_disk *d, int *held, char err[TRUTH_ERR])
{
    int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (ctl < 0)
        return fail(err, "open(/dev/loop-control): %s (loop devices need root and CONFIG_BLK_DEV_LOOP)",
                     strerror(errno));
    int img = open(d->image, O_RDWR | O_CLOEXEC);
    if (img < 0) {
        close(ctl);
        return fail(err, "open(%s): %s", d->image, strerror(errno));
    }
    int rc = -1;
    /* Another program may take the free device first: ask again. */
    for (int attempt = 0; attempt < 20; attempt++) {
        int n = ioctl(ctl, LOOP_CTL_GET_FREE);
        if (n < 0) {
            fail(err, "LOOP_CTL_GET_FREE: %s", strerror(errno));
            break;
        }
        snprintf(d->loop, sizeof(d->loop), "/dev/loop%d", n);
        int dev = open(d->loop, O_RDWR | O_CLOEXEC);
        if (dev < 0) {
            fail(err, "open(%s): %s", d->loop, strerror(errno));
            break;
        }
        struct loop_config cfg;
        memset(&cfg, 0, sizeof(cfg));
        cfg.fd = (unsigned)img;
        cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
        /* The kernel keeps the name for LOOP_GET_STATUS64 only: the cleanup checks it is still ours. */
        size_t name_len = strlen(d->image);
        if (name_len >= sizeof(cfg.info.lo_file_name))
            name_len = sizeof(cfg.info.lo_file_name) - 1;
        memcpy(cfg.info.lo_file_name, d->image, name_len);
        if (ioctl(dev, LOOP_CONFIGURE, &cfg) == 0) {
            *held = dev;
            rc = 0;
            break;
        }
        int saved = errno;
        close(dev);
        if (saved != EBUSY) {
            fail(err, "LOOP_CONFIGURE %s with %s: %s", d->loop, d->image, strerror(saved));
            break;
        }
    }
    if (rc != 0)
        d->loop[0] = '\0';
    close(img);
    close(ctl);
    return rc;
}

int truth_disk_open(truth_disk *d, const char *parent, char err[TRUTH_ERR])
{
    memset(d, 0, sizeof(*d));
    d->direct_fd = -1;
    if (geteuid() != 0)
        return fail(err, "needs root: a loop device and a mount (run the test as root, as CI does)");
    snprintf(d->dir, sizeof(d->dir), "%s/psum-truth-XXXXXX", parent);
    if (!mkdtemp(d->dir)) {
        d->dir[0] = '\0';
        return fail(err, "mkdtemp under %s: %s", parent, strerror(errno));
    }
    snprintf(d->image, sizeof(d->image), "%s/ext4.img", d->dir);
    snprintf(d->mnt, sizeof(d->mnt), "%s/mnt", d->dir);
    int fd = open(d->image, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail(err, "create %s: %s", d->image, strerror(errno));
    int rc = ftruncate(fd, (off_t)64 << 20);
    close(fd);
    if (rc != 0)
        return fail(err, "ftruncate(%s, 64 MiB): %s", d->image, strerror(errno));
    char *mkfs[] = {"mkfs.ext4", "-q", "-F", "-b", "4096", "-E", "lazy_itable_init=0,lazy_journal_init=0",
                    d->image, NULL};
    if (run(mkfs, err) != 0)
        return -1;
    if (mkdir(d->mnt, 0755) != 0)
        return fail(err, "mkdir(%s): %s", d->mnt, strerror(errno));
    d->direct_fd = open(d->image, O_RDWR | O_DIRECT | O_CLOEXEC);
    if (d->direct_fd < 0)
        return fail(err, "open(%s, O_DIRECT): %s (the file system under the image refuses O_DIRECT?)", d->image,
                    strerror(errno));
    int held = -1;
    if (attach_loop(d, &held, err) != 0)
        return -1;
    /* The loop device and direct_fd hold it now: unnamed, it cannot outlive a test that is killed. */
    unlink(d->image);
    rc = mount(d->loop, d->mnt, "ext4", 0, NULL);
    int saved = errno;
    close(held); /* the mount holds the device now; without it, this detaches it */
    if (rc != 0)
        return fail(err, "mount(%s on %s, ext4): %s", d->loop, d->mnt, strerror(saved));
    d->mounted = true;
    return 0;
}

void truth_disk_close(truth_disk *d)
{
    if (d->mounted && umount2(d->mnt, 0) != 0)
        umount2(d->mnt, MNT_DETACH); /* busy: let it go when the last user does */
    d->mounted = false;
    if (d->loop[0]) {
        /* Auto-clear detached it at umount; detach it here if it still holds our image. */
        int dev = open(d->loop, O_RDWR | O_CLOEXEC);
        struct loop_info64 info;
        if (dev >= 0 && ioctl(dev, LOOP_GET_STATUS64, &info) == 0) {
            size_t n = strnlen((const char *)info.lo_file_name, sizeof(info.lo_file_name));
            if (n > 0 && strncmp((const char *)info.lo_file_name, d->image, n) == 0)
                ioctl(dev, LOOP_CLR_FD, 0);
        }
        if (dev >= 0)
            close(dev);
        d->loop[0] = '\0';
    }
    if (d->direct_fd > 0)
        close(d->direct_fd);
    d->direct_fd = -1;
    if (d->dir[0]) {
        rmdir(d->mnt);
        unlink(d->image);
        rmdir(d->dir);
        d->dir[0] = '\0';
    }
}

int truth_disk_image_offset(const char *path, uint64_t off, uint64_t *image_off, char err[TRUTH_ERR])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, "open(%s): %s", path, strerror(errno));
    union {
        struct fiemap map;
        char space[sizeof(struct fiemap) + sizeof(struct fiemap_extent)];
    } u;
    memset(&u, 0, sizeof(u));
    u.map.fm_start = off;
    u.map.fm_length = 1;
    u.map.fm_flags = FIEMAP_FLAG_SYNC;
    u.map.fm_extent_count = 1;
    int rc = ioctl(fd, FS_IOC_FIEMAP, &u.map);
    int saved = errno;
    close(fd);
    if (rc != 0)
        return fail(err, "FIEMAP on %s: %s", path, strerror(saved));
    const struct fiemap_extent *e = &u.map.fm_extents[0];
    if (u.map.fm_mapped_extents != 1 || off < e->fe_logical || off >= e->fe_logical + e->fe_length)
        return fail(err, "FIEMAP on %s: no extent holds offset %#llx", path, (unsigned long long)off);
    const unsigned not_plain = FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_ENCODED |
                               FIEMAP_EXTENT_DATA_ENCRYPTED | FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_DATA_INLINE |
                               FIEMAP_EXTENT_DATA_TAIL | FIEMAP_EXTENT_UNWRITTEN;
    if (e->fe_flags & not_plain)
        return fail(err, "FIEMAP on %s: the extent at %#llx is not plain data on disk (flags %#x)", path,
                    (unsigned long long)off, e->fe_flags);
    *image_off = e->fe_physical + (off - e->fe_logical);
    return 0;
}

int truth_disk_flip(const truth_disk *d, uint64_t image_off, uint8_t mask, char err[TRUTH_ERR])
{
    int fd = d->direct_fd;
    void *block;
    if (posix_memalign(&block, 4096, 4096) != 0)
        return fail(err, "posix_memalign failed");
    uint64_t base = image_off & ~(uint64_t)4095;
    int rc = 0;
    if (pread(fd, block, 4096, (off_t)base) != 4096)
        rc = fail(err, "pread(%s, O_DIRECT, %#llx): %s", d->image, (unsigned long long)base, strerror(errno));
    if (rc == 0) {
        ((uint8_t *)block)[image_off - base] ^= mask;
        if (pwrite(fd, block, 4096, (off_t)base) != 4096)
            rc = fail(err, "pwrite(%s, O_DIRECT, %#llx): %s", d->image, (unsigned long long)base, strerror(errno));
        else if (fsync(fd) != 0)
            rc = fail(err, "fsync(%s): %s", d->image, strerror(errno));
    }
    free(block);
    return rc;
}
