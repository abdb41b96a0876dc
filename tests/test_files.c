/*
 * The Linux backend's file reads (psum_os_file_*) and page residency
 * (psum_os_resident and the two strategies behind it; psum_os_page_frames,
 * which also tells page-cache pages from private copies), on real files,
 * real mappings and real processes.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compare/filediff.h"
#include "os/linux/residency.h"
#include "os/os.h"
#include "stress_libs.h"

#define PAGE PROCSUM_PAGE_SIZE
#define BIG_SIZE ((size_t)64 << 20)
#define BIG_PAGES (BIG_SIZE / PAGE)

/* ---- helpers ----------------------------------------------------------- */

static const char *tmp_dir(void)
{
    /* /var/tmp is disk-backed on most systems; /tmp may be tmpfs, whose pages cannot be dropped. */
    const char *env = getenv("PSUM_TEST_TMPDIR");
    if (env && *env)
        return env;
    return access("/var/tmp", W_OK) == 0 ? "/var/tmp" : "/tmp";
}

static int temp_file(char *path, size_t size)
{
    snprintf(path, size, "%s/psum-files-XXXXXX", tmp_dir());
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0, "mkstemp(%s): %s", path, strerror(errno));
    return fd;
}

static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        cr_assert_gt(n, 0, "write: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

/* Byte i of page p of the patterned test files. */
static uint8_t pattern(size_t page, size_t i)
{
    return (uint8_t)(page * 131u + i * 7u + (i >> 8));
}

static void fill_page(uint8_t *buf, size_t page)
{
    for (size_t i = 0; i < PAGE; i++)
        buf[i] = pattern(page, i);
}

/* A file of `pages` patterned pages, written, synced and dropped from the page cache. */
static int make_patterned_file(char *path, size_t path_size, size_t pages)
{
    int fd = temp_file(path, path_size);
    static uint8_t chunk[256 * PAGE];
    for (size_t p = 0; p < pages;) {
        size_t n = pages - p < 256 ? pages - p : 256;
        for (size_t k = 0; k < n; k++)
            fill_page(chunk + k * PAGE, p + k);
        write_all(fd, chunk, n * PAGE);
        p += n;
    }
    cr_assert_eq(fsync(fd), 0);
    cr_assert_eq(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    return fd;
}

static void file_identity(const char *path, uint64_t *dev, uint64_t *ino)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "stat(%s): %s", path, strerror(errno));
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
}

/* The path of this test program. */
static void own_executable(char *exe, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", exe, size - 1);
    cr_assert_gt(n, 0);
    exe[n] = '\0';
}

static psum_os_target *self_target(void)
{
    psum_os_target *t = NULL;
    cr_assert_eq(psum_os_target_open(0, &t), 0);
    return t;
}

/* ---- opening and reading files ---------------------------------------- */

Test(files, open_and_read_own_executable)
{
    char exe[PATH_MAX];
    own_executable(exe, sizeof(exe));
    uint64_t dev, ino;
    file_identity(exe, &dev, &ino);

    psum_os_file *f = NULL;
    cr_assert_eq(psum_os_file_open(exe, dev, ino, &f), 0);
    cr_assert_not_null(f);
    uint8_t magic[4];
    size_t got = 99;
    cr_assert_eq(psum_os_file_read(f, 0, magic, sizeof(magic), &got), 0);
    cr_assert_eq(got, 4);
    cr_assert_arr_eq(magic, "\x7f" "ELF", 4);

    static uint8_t mine[PAGE], theirs[PAGE];
    cr_assert_eq(psum_os_file_read(f, PAGE, mine, PAGE, &got), 0);
    cr_assert_eq(got, PAGE);
    int fd = open(exe, O_RDONLY);
    cr_assert_eq(pread(fd, theirs, PAGE, PAGE), (ssize_t)PAGE);
    close(fd);
    cr_assert_arr_eq(mine, theirs, PAGE);
    psum_os_file_close(f);
    psum_os_file_close(NULL);
}

Test(files, read_past_end_zero_fills)
{
    char path[PATH_MAX];
    int fd = temp_file(path, sizeof(path));
    static uint8_t data[10000];
    memset(data, 0x5A, sizeof(data));
    write_all(fd, data, sizeof(data));
    close(fd);
    uint64_t dev, ino;
    file_identity(path, &dev, &ino);
    psum_os_file *f;
    cr_assert_eq(psum_os_file_open(path, dev, ino, &f), 0);

    static uint8_t buf[PAGE];
    size_t got = 0;
    memset(buf, 0xEE, sizeof(buf));
    cr_assert_eq(psum_os_file_read(f, 8192, buf, PAGE, &got), 0);
    cr_assert_eq(got, 10000 - 8192);
    for (size_t i = 0; i < PAGE; i++)
        cr_assert_eq(buf[i], i < got ? 0x5A : 0, "byte %zu", i);

    memset(buf, 0xEE, sizeof(buf));
    cr_assert_eq(psum_os_file_read(f, 10000, buf, PAGE, &got), 0);
    cr_assert_eq(got, 0);
    for (size_t i = 0; i < PAGE; i++)
        cr_assert_eq(buf[i], 0);

    memset(buf, 0xEE, sizeof(buf));
    cr_assert_eq(psum_os_file_read(f, (uint64_t)1 << 40, buf, PAGE, &got), 0);
    cr_assert_eq(got, 0);
    cr_assert_eq(buf[PAGE - 1], 0);

    cr_assert_eq(psum_os_file_read(f, 0, buf, 0, &got), 0);
    cr_assert_eq(got, 0);
    cr_assert_eq(psum_os_file_read(f, 100, buf, 10, NULL), 0, "got may be NULL");
    cr_assert_eq(buf[0], 0x5A);

    cr_assert_eq(psum_os_file_read(f, (uint64_t)INT64_MAX + 1, buf, 1, &got), PROCSUM_EINVAL);
    cr_assert_eq(psum_os_file_read(f, (uint64_t)INT64_MAX - 1, buf, 16, &got), PROCSUM_EINVAL);
    cr_assert_eq(psum_os_file_read(NULL, 0, buf, 1, &got), PROCSUM_EINVAL);
    psum_os_file_close(f);
    unlink(path);
}

/* tmpfs takes O_DIRECT since Linux 6.6, reading its cache: no disk lies below, and the read says so. */
Test(files, no_read_below_the_cache_of_tmpfs)
{
    int fd = memfd_create("psum-files", 0);
    cr_assert_geq(fd, 0);
    static uint8_t data[PAGE];
    memset(data, 0x5A, sizeof(data));
    write_all(fd, data, sizeof(data));
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    uint64_t dev, ino;
    file_identity(path, &dev, &ino);
    psum_os_file *f;
    cr_assert_eq(psum_os_file_open(path, dev, ino, &f), 0);
    static uint8_t buf[PAGE];
    cr_assert_eq(psum_os_file_read_below_cache(f, 0, buf, PAGE), PROCSUM_ENOSYS);
    cr_assert_eq(psum_os_file_read_below_cache(f, 0, buf, PAGE), PROCSUM_ENOSYS, "refused for good");
    cr_assert_eq(psum_os_file_read(f, 0, buf, PAGE, NULL), 0, "through the cache it reads");
    cr_assert_eq(buf[PAGE - 1], 0x5A);
    psum_os_file_close(f);
    close(fd);
}

Test(files, wrong_identity_is_enoent)
{
    char path[PATH_MAX];
    close(temp_file(path, sizeof(path)));
    uint64_t dev, ino;
    file_identity(path, &dev, &ino);
    psum_os_file *f = (psum_os_file *)&f;
    cr_assert_eq(psum_os_file_open(path, dev, ino + 1, &f), PROCSUM_ENOENT);
    cr_assert_null(f, "*out is NULL on failure");
    cr_assert_eq(psum_os_file_open(path, dev ^ 1u, ino, &f), PROCSUM_ENOENT);
    cr_assert_eq(psum_os_file_open("/nonexistent/psum/file", dev, ino, &f), PROCSUM_ENOENT);
    cr_assert_eq(psum_os_file_open(NULL, dev, ino, &f), PROCSUM_EINVAL);
    cr_assert_eq(psum_os_file_open(path, dev, ino, NULL), PROCSUM_EINVAL);
    char below[PATH_MAX + 8];
    snprintf(below, sizeof(below), "%s/x", path); /* a file used as a directory */
    cr_assert_eq(psum_os_file_open(below, dev, ino, &f), PROCSUM_ENOENT);
    unlink(path);
}

Test(files, not_a_regular_file_is_enoent, .timeout = 10)
{
    /* A directory, and a FIFO (which must not block the open), with their own identities. */
    const char *dir = tmp_dir();
    uint64_t dev, ino;
    file_identity(dir, &dev, &ino);
    psum_os_file *f;
    cr_assert_eq(psum_os_file_open(dir, dev, ino, &f), PROCSUM_ENOENT);

    char fifo[PATH_MAX];
    snprintf(fifo, sizeof(fifo), "%s/psum-fifo-%ld", dir, (long)getpid());
    unlink(fifo);
    cr_assert_eq(mkfifo(fifo, 0600), 0, "mkfifo: %s", strerror(errno));
    file_identity(fifo, &dev, &ino);
    cr_assert_eq(psum_os_file_open(fifo, dev, ino, &f), PROCSUM_ENOENT);
    unlink(fifo);
}

Test(files, replaced_file_is_enoent)
{
    char a[PATH_MAX], b[PATH_MAX];
    int fa = temp_file(a, sizeof(a)), fb = temp_file(b, sizeof(b));
    write_all(fa, "old content", 11);
    write_all(fb, "new content", 11);
    close(fa);
    close(fb);
    uint64_t dev_a, ino_a, dev_b, ino_b;
    file_identity(a, &dev_a, &ino_a);
    file_identity(b, &dev_b, &ino_b);
    cr_assert_neq(ino_a, ino_b);

    psum_os_file *f;
    cr_assert_eq(psum_os_file_open(a, dev_a, ino_a, &f), 0);
    psum_os_file_close(f);

    cr_assert_eq(rename(b, a), 0, "rename: %s", strerror(errno));
    cr_assert_eq(psum_os_file_open(a, dev_a, ino_a, &f), PROCSUM_ENOENT, "the path now names another file");
    cr_assert_eq(psum_os_file_open(a, dev_b, ino_b, &f), 0, "the new file is there under the old name");
    char buf[11];
    cr_assert_eq(psum_os_file_read(f, 0, buf, sizeof(buf), NULL), 0);
    cr_assert_arr_eq(buf, "new content", 11);
    psum_os_file_close(f);

    cr_assert_eq(unlink(a), 0);
    cr_assert_eq(psum_os_file_open(a, dev_b, ino_b, &f), PROCSUM_ENOENT, "deleted");
}

Test(files, an_open_file_keeps_reading_the_old_content_after_replacement)
{
    /* Once open, the handle reads the file it checked, whatever the path becomes. */
    char a[PATH_MAX], b[PATH_MAX];
    int fa = temp_file(a, sizeof(a)), fb = temp_file(b, sizeof(b));
    write_all(fa, "AAAA", 4);
    write_all(fb, "BBBB", 4);
    close(fa);
    close(fb);
    uint64_t dev, ino;
    file_identity(a, &dev, &ino);
    psum_os_file *f;
    cr_assert_eq(psum_os_file_open(a, dev, ino, &f), 0);
    cr_assert_eq(rename(b, a), 0);
    char buf[4];
    cr_assert_eq(psum_os_file_read(f, 0, buf, 4, NULL), 0);
    cr_assert_arr_eq(buf, "AAAA", 4);
    psum_os_file_close(f);
    unlink(a);
}

/* The region of `list` that contains addr, or NULL. */
static const psum_os_region *region_at(const psum_os_region_list *list, uintptr_t addr)
{
    for (size_t i = 0; i < list->count; i++)
        if (list->items[i].start <= addr && addr < list->items[i].end)
            return &list->items[i];
    return NULL;
}

/* Where Criterion's main is: BoxFort, its sandbox, hooks it with a jump in every test process. */
static uintptr_t criterion_main(void)
{
    return (uintptr_t)dlsym(RTLD_DEFAULT, "main");
}

/* Compares one page of r with its file; returns the verdict and fills *first with the first run. */
static procsum_verdict diff_page(psum_os_target *t, psum_os_file *f, const psum_os_region *r, uintptr_t page,
                              procsum_byte_run *first, size_t *runs)
{
    static uint8_t mem[PAGE], file[PAGE];
    uint64_t off = r->file_offset + (page - r->start);
    cr_assert_eq(psum_os_read(t, page, mem, PAGE), 0);
    cr_assert_eq(psum_os_file_read(f, off, file, PAGE, NULL), 0);
    procsum_verdict v;
    *runs = psum_page_diff(file, mem, page, off, first, 1, NULL, NULL, &v);
    return v;
}

/*
 * Every executable file mapping of this process opens with the identity
 * /proc/self/maps gives it, and every code page equals its file (the loader
 * writes no code page of a PIC object), except the one Criterion patches.
 */
Test(files, maps_identity_opens_the_mapped_files, .timeout = 120)
{
    psum_os_target *t = self_target();
    psum_os_region_list list = {0};
    cr_assert_eq(psum_os_list_regions(t, &list), 0);
    size_t checked = 0, pages = 0, hooked = 0;
    bool saw_main = false;
    uintptr_t hook = criterion_main();
    for (size_t i = 0; i < list.count; i++) {
        const psum_os_region *r = &list.items[i];
        if (r->kind != PROCSUM_REGION_FILE || (r->prot & (PSUM_PROT_R | PSUM_PROT_X)) != (PSUM_PROT_R | PSUM_PROT_X) ||
            (r->prot & PSUM_PROT_W) || r->file_deleted)
            continue;
        psum_os_file *f;
        int err = psum_os_file_open(r->path, r->dev, r->ino, &f);
        cr_assert_eq(err, 0, "%s (dev %#llx ino %llu): %s", r->path, (unsigned long long)r->dev,
                     (unsigned long long)r->ino, procsum_err_name(err));
        for (uintptr_t page = r->start; page < r->end; page += PAGE) {
            procsum_byte_run run;
            size_t runs;
            procsum_verdict v = diff_page(t, f, r, page, &run, &runs);
            if (v != PROCSUM_VERDICT_RESTORED && runs == 1 && run.addr == hook) {
                hooked++;
                continue;
            }
            cr_assert_eq(v, PROCSUM_VERDICT_RESTORED,
                         "%s at %#zx: %zu runs differ from the file, the first at file offset %#llx, %zu bytes: "
                         "%02x %02x %02x %02x -> %02x %02x %02x %02x",
                         r->path, (size_t)page, runs, (unsigned long long)run.file_offset, run.len,
                         run.old_bytes[0], run.old_bytes[1], run.old_bytes[2], run.old_bytes[3], run.new_bytes[0],
                         run.new_bytes[1], run.new_bytes[2], run.new_bytes[3]);
            pages++;
        }
        psum_os_file_close(f);
        saw_main |= r->main_executable;
        checked++;
    }
    cr_assert_gt(checked, 1, "the test program and libc at least");
    cr_assert(saw_main, "the main executable's code was checked");
    cr_assert_eq(hooked, 1, "Criterion's jump over main is the one page that differs from its file");
    cr_log_info("%zu code pages of %zu files equal their files; %zu hooked by Criterion", pages, checked, hooked);
    psum_os_region_list_free(&list);
    psum_os_target_close(t);
}

/* A real hook found in a real process: BoxFort's jump written over Criterion's main. */
Test(files, criterion_main_hook_is_reported_as_a_patch)
{
    uintptr_t hook = criterion_main();
    cr_assert_neq(hook, 0);
    psum_os_target *t = self_target();
    psum_os_region_list list = {0};
    cr_assert_eq(psum_os_list_regions(t, &list), 0);
    const psum_os_region *r = region_at(&list, hook);
    cr_assert_not_null(r);
    cr_assert_eq(r->kind, PROCSUM_REGION_FILE);
    psum_os_file *f;
    cr_assert_eq(psum_os_file_open(r->path, r->dev, r->ino, &f), 0);
    uintptr_t page = hook & ~(uintptr_t)(PAGE - 1);
    procsum_byte_run run;
    size_t runs;
    procsum_verdict v = diff_page(t, f, r, page, &run, &runs);
    if (v == PROCSUM_VERDICT_RESTORED)
        cr_skip("this Criterion (%s) does not patch main: nothing to find", r->path);
    cr_assert_eq(v, PROCSUM_VERDICT_PATCH);
    cr_assert_eq(runs, 1);
    cr_assert_eq(run.addr, hook);
    cr_assert_eq(run.file_offset, r->file_offset + (hook - r->start));
    /* jmp qword [rip+disp32]: an absolute jump, as hooks write them. */
    cr_assert_eq(run.new_bytes[0], 0xFF);
    cr_assert_eq(run.new_bytes[1], 0x25);
    cr_assert_arr_eq(run.new_bytes, (const void *)hook, run.len < 16 ? run.len : 16);
    cr_log_info("%s: %zu bytes at main (file offset %#llx) replaced", r->path, run.len,
                (unsigned long long)run.file_offset);
    psum_os_file_close(f);
    psum_os_region_list_free(&list);
    psum_os_target_close(t);
}

/* A hook written into a private file mapping, found byte for byte against the file. */
Test(files, patched_mapping_diffs_against_its_file)
{
    char path[PATH_MAX];
    int fd = make_patterned_file(path, sizeof(path), 4);
    /* Executable: the listing holds every executable mapping (and not necessarily others). */
    uint8_t *map = mmap(NULL, 4 * PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    cr_assert_neq(map, MAP_FAILED);
    static const uint8_t hook[] = {0xE9, 0x12, 0x34, 0x56, 0x78};
    const size_t at = PAGE + 0x120;
    uint8_t before[5];
    memcpy(before, map + at, 5);
    cr_assert_eq(mprotect(map, 4 * PAGE, PROT_READ | PROT_WRITE), 0);
    memcpy(map + at, hook, 5);
    cr_assert_eq(mprotect(map, 4 * PAGE, PROT_READ | PROT_EXEC), 0);

    psum_os_target *t = self_target();
    psum_os_region_list list = {0};
    cr_assert_eq(psum_os_list_regions(t, &list), 0);
    const psum_os_region *r = region_at(&list, (uintptr_t)map + PAGE);
    cr_assert_not_null(r);
    cr_assert_eq(r->kind, PROCSUM_REGION_FILE);
    uintptr_t page = (uintptr_t)map + PAGE;
    uint64_t page_off = r->file_offset + (page - r->start);
    cr_assert_eq(page_off, PAGE);

    psum_os_file *f;
    cr_assert_eq(psum_os_file_open(r->path, r->dev, r->ino, &f), 0);
    static uint8_t mem[PAGE], file[PAGE];
    cr_assert_eq(psum_os_read(t, page, mem, PAGE), 0);
    cr_assert_eq(psum_os_file_read(f, page_off, file, PAGE, NULL), 0);
    procsum_byte_run runs[4];
    size_t bytes, bits;
    procsum_verdict v;
    size_t n = psum_page_diff(file, mem, page, page_off, runs, 4, &bytes, &bits, &v);
    cr_assert_eq(n, 1);
    cr_assert_eq(v, PROCSUM_VERDICT_PATCH);
    cr_assert_eq(runs[0].addr, (uintptr_t)map + at);
    cr_assert_eq(runs[0].file_offset, at);
    cr_assert_eq(runs[0].len, 5);
    cr_assert_arr_eq(runs[0].old_bytes, before, 5);
    cr_assert_arr_eq(runs[0].new_bytes, hook, 5);
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(runs[0].old_bytes[i], pattern(1, 0x120 + i));

    /* The neighbouring page, untouched, is equal to its file. */
    cr_assert_eq(psum_os_read(t, page + PAGE, mem, PAGE), 0);
    cr_assert_eq(psum_os_file_read(f, page_off + PAGE, file, PAGE, NULL), 0);
    cr_assert_eq(psum_page_diff(file, mem, page + PAGE, page_off + PAGE, NULL, 0, NULL, NULL, &v), 0);
    cr_assert_eq(v, PROCSUM_VERDICT_RESTORED);

    psum_os_file_close(f);
    psum_os_region_list_free(&list);
    psum_os_target_close(t);
    munmap(map, 4 * PAGE);
    close(fd);
    unlink(path);
}

/*
 * Documents a limit of diffing against the file: a write into the file
 * itself (same inode) shows in every private mapping's pages that were not
 * copied on write, so memory and file agree again.
 */
Test(files, in_place_file_write_shows_in_private_mappings)
{
    char path[PATH_MAX];
    int fd = make_patterned_file(path, sizeof(path), 2);
    volatile uint8_t *map = mmap(NULL, 2 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    cr_assert_neq((void *)map, MAP_FAILED);
    uint8_t was = map[100];
    uint8_t now = (uint8_t)~was;
    cr_assert_eq(pwrite(fd, &now, 1, 100), 1);
    cr_assert_eq(map[100], now, "the private mapping shows the file's new byte");
    munmap((void *)map, 2 * PAGE);
    close(fd);
    unlink(path);
}

/* ---- names are not identities ------------------------------------------ */

/* Copies the first test library to dir/name and loads it; path gets the copy's path. */
static void *load_copy(const char *dir, const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", dir, name);
    int in = open(STRESS_LIB_0, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(in, 0, "%s: %s", STRESS_LIB_0, strerror(errno));
    int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
    cr_assert_geq(out, 0, "%s: %s", path, strerror(errno));
    static uint8_t chunk[64 * 1024];
    ssize_t n;
    while ((n = read(in, chunk, sizeof(chunk))) > 0)
        write_all(out, chunk, (size_t)n);
    cr_assert_eq(n, 0);
    close(in);
    cr_assert_eq(close(out), 0);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(h, "%s", dlerror());
    return h;
}

/* The first file region whose path is exactly `path`, or NULL. */
static const psum_os_region *region_named(const psum_os_region_list *list, const char *path)
{
    for (size_t i = 0; i < list->count; i++)
        if (list->items[i].kind == PROCSUM_REGION_FILE && strcmp(list->items[i].path, path) == 0)
            return &list->items[i];
    return NULL;
}

/*
 * The maps file marks a deleted file by appending " (deleted)" to its name,
 * and a file may be called that: deletion is told by the file's identity.
 */
Test(files, a_file_named_deleted_is_not_taken_for_deleted)
{
    char dir[] = "/tmp/psum-named-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char named[PATH_MAX], gone[PATH_MAX], named_gone[PATH_MAX];
    void *hn = load_copy(dir, "libx.so (deleted)", named, sizeof(named));
    void *hg = load_copy(dir, "liby.so", gone, sizeof(gone));
    void *hng = load_copy(dir, "libz.so (deleted)", named_gone, sizeof(named_gone));
    cr_assert_eq(unlink(gone), 0);
    cr_assert_eq(unlink(named_gone), 0);
    psum_os_target *t = self_target();
    psum_os_region_list list = {0};
    cr_assert_eq(psum_os_list_regions(t, &list), 0);

    const psum_os_region *r = region_named(&list, named);
    cr_assert_not_null(r, "listed under its whole name, \" (deleted)\" included");
    cr_assert_not(r->file_deleted, "a file called so is not deleted");
    psum_os_file *f = NULL;
    cr_assert_eq(psum_os_file_open(r->path, r->dev, r->ino, &f), 0, "and it opens as the file mapped");
    psum_os_file_close(f);

    r = region_named(&list, gone);
    cr_assert_not_null(r);
    cr_assert(r->file_deleted, "a deleted file is deleted");
    r = region_named(&list, named_gone);
    cr_assert_not_null(r, "listed under its own name, one \" (deleted)\" taken off");
    cr_assert(r->file_deleted, "a deleted file called \"... (deleted)\" is deleted");

    psum_os_region_list_free(&list);
    psum_os_target_close(t);
    dlclose(hn);
    dlclose(hg);
    dlclose(hng);
    unlink(named);
    rmdir(dir);
}

/* ---- errors with their own cause ---------------------------------------- */

/* Runs out of descriptors: the limit lowered to what is open now, and the rest taken. */
static void use_up_descriptors(void)
{
    struct rlimit lim;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &lim), 0);
    lim.rlim_cur = 64;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
    while (dup(0) >= 0)
        ;
    cr_assert_eq(errno, EMFILE);
}

Test(errors, out_of_descriptors_is_emfile)
{
    psum_os_target *t = self_target();
    char exe[PATH_MAX];
    own_executable(exe, sizeof(exe));
    uint64_t dev, ino;
    file_identity(exe, &dev, &ino);
    use_up_descriptors();
    psum_os_region_list list = {0};
    cr_assert_eq(psum_os_list_regions(t, &list), PROCSUM_EMFILE, "listing");
    psum_os_file *f = NULL;
    cr_assert_eq(psum_os_file_open(exe, dev, ino, &f), PROCSUM_EMFILE, "opening a file");
    uint8_t byte = 0;
    cr_assert_eq(psum_os_write(t, (uintptr_t)&byte, &byte, 1), PROCSUM_EMFILE, "writing");
    psum_os_target *other = NULL;
    cr_assert_eq(psum_os_target_open((long)getppid(), &other), 0);
    cr_assert_eq(psum_os_list_regions(other, &list), PROCSUM_EMFILE, "listing another process");
    psum_os_target_close(other);
    psum_os_region_list_free(&list);
    psum_os_target_close(t);
}

/*
 * Without /proc (a mount namespace of its own, /proc unmounted) nothing can
 * be listed, and that is not the process being gone.
 */
Test(errors, without_proc_is_enoent_not_esrch)
{
    if (geteuid() != 0)
        cr_skip_test("needs root (a mount namespace of its own): NOT CHECKED");
    cr_assert_eq(unshare(CLONE_NEWNS), 0, "unshare: %s", strerror(errno));
    cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0, "mount: %s", strerror(errno));
    cr_assert_eq(umount2("/proc", MNT_DETACH), 0, "umount /proc: %s", strerror(errno));
    cr_assert_neq(access("/proc/self", F_OK), 0, "/proc is gone");
    psum_os_target *t = self_target();
    psum_os_region_list list = {0};
    cr_assert_eq(psum_os_list_regions(t, &list), PROCSUM_ENOENT, "listing the calling process");
    psum_os_target_close(t);
    psum_os_target *other = NULL;
    cr_assert_eq(psum_os_target_open((long)getppid(), &other), PROCSUM_ENOENT, "opening another process");
    psum_os_region_list_free(&list);
    /* Back for what runs at exit (LeakSanitizer reads /proc). */
    cr_assert_eq(mount("proc", "/proc", "proc", 0, NULL), 0, "mount /proc: %s", strerror(errno));
}

/* ---- residency ----------------------------------------------------------- */

/* Whether the first pages of a fresh mapping of fd are out of the page cache (mincore on a file we own says so). */
static bool cache_dropped(int fd, size_t size)
{
    void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    cr_assert_neq(m, MAP_FAILED);
    static bool res[BIG_PAGES];
    size_t pages = size / PAGE;
    cr_assert_eq(psum_linux_resident_mincore((uintptr_t)m, pages, res), 0);
    size_t cached = 0;
    for (size_t i = 0; i < pages; i++)
        cached += res[i];
    munmap(m, size);
    if (cached)
        cr_log_info("%zu of %zu pages still cached after POSIX_FADV_DONTNEED", cached, pages);
    return cached == 0;
}

typedef struct big_map {
    char path[PATH_MAX];
    int fd;
    uint8_t *map;
} big_map;

/* The 64 MiB file mapped privately, read-write, never touched, with readahead off. */
static void big_map_open(big_map *b)
{
    b->fd = make_patterned_file(b->path, sizeof(b->path), BIG_PAGES);
    if (!cache_dropped(b->fd, BIG_SIZE)) {
        unlink(b->path);
        cr_skip("the file system keeps %s cached after fsync + POSIX_FADV_DONTNEED (tmpfs?): set "
                "PSUM_TEST_TMPDIR to a disk-backed directory",
                tmp_dir());
    }
    b->map = mmap(NULL, BIG_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, b->fd, 0);
    cr_assert_neq(b->map, MAP_FAILED);
    /* Without readahead, a fault reads just its page: its neighbours stay out of the cache. */
    cr_assert_eq(madvise(b->map, BIG_SIZE, MADV_RANDOM), 0);
}

static void big_map_close(big_map *b)
{
    munmap(b->map, BIG_SIZE);
    close(b->fd);
    unlink(b->path);
}

static size_t touch(const volatile uint8_t *p)
{
    return *p;
}

Test(residency, untouched_file_pages_are_not_resident_touched_ones_are, .timeout = 120)
{
    big_map b;
    big_map_open(&b);
    static const size_t touched[] = {0, 1000, 5000, 9999, BIG_PAGES - 1};
    size_t sum = 0;
    for (size_t i = 0; i < sizeof(touched) / sizeof(touched[0]); i++)
        sum += touch(b.map + touched[i] * PAGE + 17);
    cr_assert_neq(sum, (size_t)-1);

    psum_os_target *t = self_target();
    static bool res[BIG_PAGES], by_mincore[BIG_PAGES];
    cr_assert_eq(psum_os_resident(t, (uintptr_t)b.map, BIG_PAGES, res), 0);
    cr_assert_eq(psum_linux_resident_mincore((uintptr_t)b.map, BIG_PAGES, by_mincore), 0);
    size_t near = 0;
    for (size_t p = 0; p < BIG_PAGES; p++) {
        size_t dist = BIG_PAGES;
        for (size_t i = 0; i < sizeof(touched) / sizeof(touched[0]); i++) {
            size_t d = p > touched[i] ? p - touched[i] : touched[i] - p;
            dist = d < dist ? d : dist;
        }
        if (dist == 0) {
            cr_assert(res[p], "touched page %zu must be resident", p);
            cr_assert(by_mincore[p], "mincore: touched page %zu", p);
        } else if (dist >= 32) {
            /* Farther than any fault-around window (64 KiB by default). */
            cr_assert(!res[p], "untouched page %zu must not be resident", p);
            cr_assert(!by_mincore[p], "mincore: untouched page %zu of a file we own, out of the cache", p);
        } else {
            near += res[p];
        }
    }
    cr_log_info("pages near touched ones mapped by fault-around: %zu", near);
    psum_os_target_close(t);
    big_map_close(&b);
}

/* PAGEMAP_SCAN's runs of present pages say what pagemap's present bits say, holes and all. */
Test(residency, scan_agrees_with_pagemap, .timeout = 120)
{
    big_map b;
    big_map_open(&b);
    size_t sum = 0, touched = 0;
    for (size_t p = 0; p < BIG_PAGES; p++) {
        if (p % 97 == 0 || (p >= 3000 && p < 3300)) { /* scattered pages, and one long run */
            sum += touch(b.map + p * PAGE);
            touched++;
        }
    }
    cr_assert_neq(sum, (size_t)-1);
    static bool by_scan[BIG_PAGES], by_pagemap[BIG_PAGES];
    int err = psum_linux_resident_scan(0, (uintptr_t)b.map, BIG_PAGES, by_scan);
    if (err == PROCSUM_ENOSYS) {
        big_map_close(&b);
        cr_skip_test("this kernel has no PAGEMAP_SCAN (Linux 6.7)");
    }
    cr_assert_eq(err, 0);
    cr_assert_eq(psum_linux_resident_pagemap(0, (uintptr_t)b.map, BIG_PAGES, by_pagemap), 0);
    size_t present = 0;
    for (size_t p = 0; p < BIG_PAGES; p++) {
        cr_assert_eq(by_scan[p], by_pagemap[p], "page %zu: scan %d, pagemap %d", p, by_scan[p], by_pagemap[p]);
        present += by_scan[p];
    }
    cr_assert_geq(present, touched, "every touched page is present (%zu of %zu)", present, touched);
    cr_assert_lt(present, BIG_PAGES / 2, "untouched pages are not");

    /* Anonymous memory with a hole in the middle, and a range beyond the user address space. */
    uint8_t *m = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(m, MAP_FAILED);
    for (size_t p = 0; p < 8; p++)
        m[p * PAGE] = 1;
    cr_assert_eq(munmap(m + 2 * PAGE, 4 * PAGE), 0);
    bool res[8];
    memset(res, 0xFF, sizeof(res));
    cr_assert_eq(psum_linux_resident_scan(0, (uintptr_t)m, 8, res), 0);
    for (size_t p = 0; p < 8; p++)
        cr_assert_eq(res[p], p < 2 || p >= 6, "anonymous page %zu", p);
    munmap(m, 2 * PAGE);
    munmap(m + 6 * PAGE, 2 * PAGE);
    big_map_close(&b);
}

/* Why residency matters: reading a page through psum_os_read faults it in. */
Test(residency, reading_a_page_faults_it_in, .timeout = 120)
{
    big_map b;
    big_map_open(&b);
    psum_os_target *t = self_target();
    uintptr_t page = (uintptr_t)b.map + 7777 * PAGE;
    bool res[1];
    cr_assert_eq(psum_os_resident(t, page, 1, res), 0);
    cr_assert(!res[0], "not resident before the read");
    static uint8_t buf[PAGE], want[PAGE];
    cr_assert_eq(psum_os_read(t, page, buf, PAGE), 0);
    fill_page(want, 7777);
    cr_assert_arr_eq(buf, want, PAGE);
    cr_assert_eq(psum_os_resident(t, page, 1, res), 0);
    cr_assert(res[0], "process_vm_readv mapped the page into this process");
    psum_os_target_close(t);
    big_map_close(&b);
}

/* A page cached by a read() but never mapped: pagemap says no (reading would grow RSS), mincore says yes. */
Test(residency, cached_but_unmapped_file_page, .timeout = 120)
{
    big_map b;
    big_map_open(&b);
    static uint8_t buf[PAGE];
    cr_assert_eq(pread(b.fd, buf, PAGE, (off_t)3333 * PAGE), (ssize_t)PAGE);
    uintptr_t page = (uintptr_t)b.map + 3333 * PAGE;
    bool res[1];
    cr_assert_eq(psum_linux_resident_pagemap(0, page, 1, res), 0);
    cr_assert(!res[0], "pagemap: not in this process's page tables");
    psum_os_target *t = self_target();
    cr_assert_eq(psum_os_resident(t, page, 1, res), 0);
    cr_assert(!res[0], "psum_os_resident follows pagemap");
    cr_assert_eq(psum_linux_resident_mincore(page, 1, res), 0);
    cr_assert(res[0], "mincore: in the page cache of a file we own");
    psum_os_target_close(t);
    big_map_close(&b);
}

/* A page written in a private file mapping is an anonymous copy: resident whatever the file's cache holds. */
Test(residency, copied_on_write_page_stays_resident, .timeout = 120)
{
    big_map b;
    big_map_open(&b);
    uintptr_t page = (uintptr_t)b.map + 2222 * PAGE;
    ((volatile uint8_t *)page)[5] = 0xCC;
    cr_assert_eq(posix_fadvise(b.fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    bool res[3];
    psum_os_target *t = self_target();
    cr_assert_eq(psum_os_resident(t, page - PAGE * 40, 1, res), 0);
    cr_assert(!res[0]);
    cr_assert_eq(psum_os_resident(t, page, 1, res), 0);
    cr_assert(res[0], "pagemap: the copy is mapped");
    cr_assert_eq(psum_linux_resident_mincore(page, 1, res), 0);
    cr_assert(res[0], "mincore: reports the anonymous copy, not the file page");
    /* And the file page behind it really is out of the cache: a fresh mapping says so. */
    void *fresh = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, b.fd, (off_t)2222 * PAGE);
    cr_assert_neq(fresh, MAP_FAILED);
    cr_assert_eq(psum_linux_resident_mincore((uintptr_t)fresh, 1, res), 0);
    cr_log_info("file page behind the copy cached after DONTNEED: %d", res[0]);
    munmap(fresh, PAGE);
    psum_os_target_close(t);
    big_map_close(&b);
}

Test(residency, anonymous_pages)
{
    const size_t pages = 64;
    uint8_t *m = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(m, MAP_FAILED);
    /* No transparent huge page may back it: each page must fault on its own. */
    madvise(m, pages * PAGE, MADV_NOHUGEPAGE);
    m[3 * PAGE] = 1;
    m[40 * PAGE + 100] = 2;
    size_t z = touch(m + 10 * PAGE); /* a read maps the shared zero page: resident too */
    cr_assert_eq(z, 0);
    psum_os_target *t = self_target();
    bool res[64], by_mincore[64];
    cr_assert_eq(psum_os_resident(t, (uintptr_t)m, pages, res), 0);
    cr_assert_eq(psum_linux_resident_mincore((uintptr_t)m, pages, by_mincore), 0);
    for (size_t p = 0; p < pages; p++) {
        bool want = p == 3 || p == 40 || p == 10;
        cr_assert_eq(res[p], want, "page %zu: %d", p, res[p]);
        cr_assert_eq(by_mincore[p], want, "mincore page %zu: %d", p, by_mincore[p]);
    }
    psum_os_target_close(t);
    munmap(m, pages * PAGE);
}

/*
 * Valgrind does not know PAGEMAP_SCAN: unless the runs it writes are marked
 * as written, every use of them is an "uninitialised value" there. The
 * residency test above, run again under valgrind, must report no error in
 * any process (Criterion's runner and its worker).
 */
/* Valgrind cannot run a sanitizer build: the test exists in the plain build only. */
#if !defined(__SANITIZE_ADDRESS__)
Test(residency, clean_under_valgrind, .timeout = 600)
{
    char exe[PATH_MAX];
    own_executable(exe, sizeof(exe));
    char dir[] = "/tmp/psum-valgrind-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char log[PATH_MAX];
    snprintf(log, sizeof(log), "--log-file=%s/vg.%%p", dir);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        /* Criterion tells its workers by this variable: the program run again must be a runner. */
        unsetenv("BXFI_MAP");
        unsetenv("GMON_OUT_PREFIX");
        execlp("valgrind", "valgrind", "--trace-children=yes", log, exe, "--jobs", "1", "--filter",
               "residency/anonymous_pages", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        cr_skip_test("valgrind is not installed: NOT CHECKED");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the test under valgrind passes (status %#x)", status);
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof(cmd), "cat %s/vg.*", dir);
    FILE *logs = popen(cmd, "r");
    cr_assert_not_null(logs);
    char line[512];
    int summaries = 0;
    unsigned long errors = 0;
    while (fgets(line, sizeof(line), logs)) {
        const char *at = strstr(line, "ERROR SUMMARY: ");
        if (at) {
            summaries++;
            errors += strtoul(at + strlen("ERROR SUMMARY: "), NULL, 10);
        }
    }
    pclose(logs);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_geq(summaries, 2, "the runner and its worker were checked");
    cr_assert_eq(errors, 0, "valgrind found %lu errors", errors);
}
#endif

/* Unmapped pages report false and the call succeeds: both strategies, holes and wholly unmapped ranges. */
Test(residency, unmapped_ranges_report_false)
{
    uint8_t *m = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(m, MAP_FAILED);
    for (size_t p = 0; p < 8; p++)
        m[p * PAGE] = 1;
    cr_assert_eq(munmap(m + 2 * PAGE, 4 * PAGE), 0);
    psum_os_target *t = self_target();
    bool res[8], by_mincore[8];
    memset(res, 0xFF, sizeof(res));
    cr_assert_eq(psum_os_resident(t, (uintptr_t)m, 8, res), 0);
    cr_assert_eq(psum_linux_resident_mincore((uintptr_t)m, 8, by_mincore), 0);
    for (size_t p = 0; p < 8; p++) {
        bool want = p < 2 || p >= 6;
        cr_assert_eq(res[p], want, "page %zu", p);
        cr_assert_eq(by_mincore[p], want, "mincore page %zu", p);
    }
    /* A range with nothing mapped, and one past the user address space. */
    cr_assert_eq(psum_os_resident(t, (uintptr_t)(m + 2 * PAGE), 4, res), 0);
    for (size_t p = 0; p < 4; p++)
        cr_assert(!res[p]);
#if UINTPTR_MAX > 0xFFFFFFFFu
    uintptr_t kernel = (uintptr_t)0xffff800000000000u;
    cr_assert_eq(psum_os_resident(t, kernel, 8, res), 0);
    cr_assert_eq(psum_linux_resident_mincore(kernel, 8, by_mincore), 0);
    for (size_t p = 0; p < 8; p++) {
        cr_assert(!res[p]);
        cr_assert(!by_mincore[p]);
    }
#endif
    psum_os_target_close(t);
    munmap(m, 2 * PAGE);
    munmap(m + 6 * PAGE, 2 * PAGE);
}

Test(residency, arguments)
{
    psum_os_target *t = self_target();
    bool res[2];
    cr_assert_eq(psum_os_resident(t, 4097, 1, res), PROCSUM_EINVAL, "misaligned");
    cr_assert_eq(psum_os_resident(t, UINTPTR_MAX - PAGE + 1 - PAGE, 4, res), PROCSUM_EINVAL, "wraps");
    cr_assert_eq(psum_os_resident(t, PAGE, 1, NULL), PROCSUM_EINVAL);
    cr_assert_eq(psum_os_resident(NULL, PAGE, 1, res), PROCSUM_EINVAL);
    cr_assert_eq(psum_os_resident(t, PAGE, 0, NULL), 0, "nothing to do");
    cr_assert_eq(psum_linux_resident_mincore(4097, 1, res), PROCSUM_EINVAL);
    cr_assert_eq(psum_linux_resident_pagemap(0, 4097, 1, res), PROCSUM_EINVAL);
    psum_os_target_close(t);
}

/* Another process's pages, through /proc/PID/pagemap; and this process after fork (pid 0 follows the child). */
Test(residency, other_process_and_forked_child, .timeout = 120)
{
    big_map b;
    big_map_open(&b);
    int ready[2], go[2], verdict[2];
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(go), 0);
    cr_assert_eq(pipe(verdict), 0);
    psum_os_target *self = self_target(); /* opened before the fork: used in both */
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        touch(b.map + 100 * PAGE);
        touch(b.map + 9000 * PAGE);
        /* The inherited pid-0 target must see the child's pages, not the parent's. */
        bool r[3];
        int ok = psum_os_resident(self, (uintptr_t)b.map + 100 * PAGE, 1, &r[0]) == 0 &&
                 psum_os_resident(self, (uintptr_t)b.map + 9000 * PAGE, 1, &r[1]) == 0 &&
                 psum_os_resident(self, (uintptr_t)b.map + 5000 * PAGE, 1, &r[2]) == 0 && r[0] && r[1] && !r[2];
        char c = ok ? 'y' : 'n';
        if (write(verdict[1], &c, 1) != 1 || write(ready[1], "r", 1) != 1)
            _exit(2);
        read(go[0], &c, 1);
        _exit(0);
    }
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1);
    char v;
    cr_assert_eq(read(verdict[0], &v, 1), 1);

    psum_os_target *other;
    cr_assert_eq(psum_os_target_open(child, &other), 0);
    bool r[3];
    cr_assert_eq(psum_os_resident(other, (uintptr_t)b.map + 100 * PAGE, 1, &r[0]), 0);
    cr_assert_eq(psum_os_resident(other, (uintptr_t)b.map + 9000 * PAGE, 1, &r[1]), 0);
    cr_assert_eq(psum_os_resident(other, (uintptr_t)b.map + 5000 * PAGE, 1, &r[2]), 0);
    bool mine[1];
    cr_assert_eq(psum_os_resident(self, (uintptr_t)b.map + 100 * PAGE, 1, mine), 0);
    cr_assert_eq(write(go[1], "g", 1), 1);
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    cr_assert(r[0] && r[1], "pages the child touched are resident in the child");
    cr_assert(!r[2], "a page the child never touched is not");
    cr_assert(!mine[0], "the parent never touched page 100");
    cr_assert_eq(v, 'y', "in the child, the pid-0 target inherited from the parent describes the child");
    psum_os_target_close(other);
    psum_os_target_close(self);
    big_map_close(&b);
}

/* Writes one byte into another process's memory through /proc/PID/mem, as a debugger would. */
static void poke(pid_t pid, uintptr_t addr, uint8_t byte)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/mem", (long)pid);
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    cr_assert_eq(pwrite(fd, &byte, 1, (off_t)addr), 1, "write %s: %s", path, strerror(errno));
    close(fd);
}

#define KIND_PAGES 64

/*
 * Another process's page-cache pages and private copies, as a checker
 * sharing a digest cache asks for them (psum_os_page_frames, from pagemap's
 * entries): a page written through /proc/PID/mem, one the process wrote
 * itself and its anonymous memory are private copies; pages it only read
 * are the file's own. Which pages are present agrees with psum_os_resident
 * (PAGEMAP_SCAN's runs where the kernel has it), holes and all; a present
 * page has a frame where the reader may see frames (CAP_SYS_ADMIN).
 */
Test(residency, page_cache_pages_and_private_copies_of_another_process, .timeout = 120)
{
    big_map b;
    big_map_open(&b);
    uint8_t *anon = mmap(NULL, KIND_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(anon, MAP_FAILED);
    madvise(anon, KIND_PAGES * PAGE, MADV_NOHUGEPAGE);
    int ready[2], go[2];
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(go), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        close(ready[0]);
        close(go[1]); /* the parent's end: if the parent fails, the read below ends */
        size_t sum = touch(b.map + 10 * PAGE) + touch(b.map + 11 * PAGE) + touch(b.map + 12 * PAGE) +
                     touch(b.map + 30 * PAGE);
        b.map[20 * PAGE + 1] = (uint8_t)(sum + 1); /* its own write: a private copy */
        anon[2 * PAGE] = 1;
        anon[3 * PAGE] = 1;
        char c;
        if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
            _exit(2);
        _exit(0);
    }
    close(ready[1]);
    close(go[0]);
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1);
    poke(child, (uintptr_t)b.map + 11 * PAGE + 7, 0xCC); /* a debugger's write: a private copy too */

    psum_os_target *t;
    cr_assert_eq(psum_os_target_open(child, &t), 0);
    static bool res[KIND_PAGES], by_resident[KIND_PAGES], cached[KIND_PAGES];
    static uint64_t frames[KIND_PAGES];
    for (int round = 0; round < 2; round++) {
        uintptr_t at = round == 0 ? (uintptr_t)b.map : (uintptr_t)anon;
        memset(res, 0xFF, sizeof(res));
        memset(cached, 0xFF, sizeof(cached));
        cr_assert_eq(psum_os_page_frames(t, at, KIND_PAGES, res, cached, frames), 0);
        cr_assert_eq(psum_os_resident(t, at, KIND_PAGES, by_resident), 0);
        for (size_t p = 0; p < KIND_PAGES; p++) {
            cr_assert_eq(res[p], by_resident[p], "round %d page %zu: present %d, resident %d", round, p, res[p],
                         by_resident[p]);
            cr_assert(res[p] || !cached[p], "round %d page %zu: absent, so no page-cache page", round, p);
            if (geteuid() == 0)
                cr_assert_eq(frames[p] != 0, res[p], "round %d page %zu: a frame where present", round, p);
        }
        if (round == 0) {
            static const size_t shared[] = {10, 12, 30}, private[] = {11, 20};
            for (size_t i = 0; i < 3; i++)
                cr_assert(res[shared[i]] && cached[shared[i]], "page %zu: the file's own", shared[i]);
            for (size_t i = 0; i < 2; i++)
                cr_assert(res[private[i]] && !cached[private[i]], "page %zu: a private copy", private[i]);
        } else {
            for (size_t p = 0; p < KIND_PAGES; p++) {
                cr_assert_eq(res[p], p == 2 || p == 3, "anonymous page %zu", p);
                cr_assert(!cached[p], "anonymous page %zu is no file's", p);
            }
        }
    }
    cr_assert_eq(write(go[1], "g", 1), 1);
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    psum_os_target_close(t);
    munmap(anon, KIND_PAGES * PAGE);
    big_map_close(&b);
}

/*
 * An unprivileged process mapping a file it does not own and may not write
 * (every system library, for an ordinary user): psum_os_resident must still
 * tell untouched pages apart. mincore cannot (the kernel reports such pages
 * resident to hide the page cache); that is logged, not asserted.
 */
Test(residency, file_of_another_owner_unprivileged, .timeout = 120)
{
    if (geteuid() != 0)
        cr_skip("needs root to switch to another user and map root's file");
    big_map b;
    big_map_open(&b);
    cr_assert_eq(fchmod(b.fd, 0644), 0);
    int out[2];
    cr_assert_eq(pipe(out), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        /* 1: setup failed; 2: psum_os_resident wrong; 0: right. Byte written: mincore's word for an untouched page. */
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(1);
        prctl(PR_SET_DUMPABLE, 1); /* changing credentials made /proc/self root's */
        int fd = open(b.path, O_RDONLY);
        if (fd < 0)
            _exit(1);
        uint8_t *m = mmap(NULL, BIG_SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED)
            _exit(1);
        madvise(m, BIG_SIZE, MADV_RANDOM);
        touch(m + 10 * PAGE);
        psum_os_target *t;
        if (psum_os_target_open(0, &t) != 0)
            _exit(1);
        bool r[2], mc[1] = {false};
        if (psum_os_resident(t, (uintptr_t)m + 10 * PAGE, 1, &r[0]) != 0 ||
            psum_os_resident(t, (uintptr_t)m + 5000 * PAGE, 1, &r[1]) != 0)
            _exit(1);
        psum_linux_resident_mincore((uintptr_t)m + 5000 * PAGE, 1, mc);
        char c = mc[0] ? '1' : '0';
        if (write(out[1], &c, 1) != 1)
            _exit(1);
        _exit(r[0] && !r[1] ? 0 : 2);
    }
    close(out[1]);
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    char c = '?';
    read(out[0], &c, 1);
    cr_assert(WIFEXITED(status));
    cr_assert_neq(WEXITSTATUS(status), 1, "child setup failed");
    cr_assert_eq(WEXITSTATUS(status), 0, "unprivileged: touched page resident, untouched one not");
    cr_log_info("mincore, unprivileged, untouched page of root's file out of the cache: %c", c);
    big_map_close(&b);
}
