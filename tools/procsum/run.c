/*
 * procsum run [OUTPUT OPTIONS] [--period MS] [--cpu PERCENT] [--algo A]
 *             [--config PATH | --no-config] -- CMD [ARGS]
 *
 * Runs CMD with libprocsum-preload.so in LD_PRELOAD, so that CMD and every
 * program it runs has a checker, and writes what they find to the outputs
 * given, as verify and watch do (--json, --format, --json-file, --journal,
 * --prometheus, several at once; without any, JSON lines on stderr).
 *
 * One writer for the whole tree. procsum stays CMD's parent: it binds a
 * local datagram socket in a directory of its own (mode 0711, the socket
 * 0622: see open_socket) and hands its path to the preload library (PROCSUM_OUTPUT=socket:PATH). Each process
 * sends each event as one datagram (tools/output/wire.h): a datagram
 * arrives whole or not at all, so neither a process killed while sending
 * nor many processes at once can cut or mix events, and no process keeps
 * a descriptor that a program closing its files could disturb. procsum
 * writes every event to every output: the Prometheus textfile counts the
 * whole tree in one file (processes writing it each would replace each
 * other's numbers), journald gets each event once, and the preload
 * library stays free of libsystemd and of the writers. Events a process
 * sends after procsum has ended (a daemon CMD left behind) are lost.
 *
 * Where the checkers run. By default from outside, here: the preload
 * library (PROCSUM_CHECKER=outside) only asks, once a process has lived
 * the lazy delay, with one datagram; procsum takes its pid from the
 * kernel's credentials of that datagram (SO_PASSCRED: no process can name
 * another) and checks it as `procsum watch` does (checked.h), every checker on one
 * thread (a runner) with one digest cache, so that a page of a library
 * the whole tree maps is hashed once a period for all of it. Each period
 * procsum also walks its tree (the kernel's children lists) and checks
 * every process that has lived a period, asked or not: one that never
 * ran a program of its own (a shell's subshell, a server's worker), one
 * whose program takes no preload, an orphan (procsum is the tree's child
 * subreaper: the kernel hands it orphans, which it reaps). The
 * processes keep no thread and load nothing of procsum: a shell with a
 * second thread takes the C library's slower fork for every command it
 * runs, and code running inside a process cannot switch off a checker
 * that is not there. With --inside, each process runs its own checker
 * (libprocsum loaded by the preload library after the delay), for a
 * process procsum may not read from outside (one that made itself not
 * dumpable, when procsum is not root); those report their passes and
 * findings as datagrams, as above.
 *
 * CMD's exit status is procsum's (128+N after signal N, as a shell says
 * it); SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 sent to procsum are passed on
 * to CMD; the terminal's ^C and ^\ reach CMD directly, and procsum waits.
 * CMD's standard streams are its own. A static CMD has no loader to take
 * the preload: procsum watches it from outside from its start, and says
 * so on stderr.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "oneline.h"
#include "checked.h"
#include "procs.h"
#include "watch_os.h"
#include "wire.h"
#include "../preload/skip.h"

#ifndef PSUM_RUN_PRELOAD_INSTALLED
#define PSUM_RUN_PRELOAD_INSTALLED "/usr/local/lib/libprocsum-preload.so"
#endif

/* Processes whose last pass figures are kept for the metrics; more are still checked, not counted. */
#define TRACKED_MAX 4096

static const char USAGE[] = "usage: procsum run [--json] [--format NAME] [--json-file PATH] [--journal] "
                            "[--prometheus PATH] [--period MS] [--cpu PERCENT] [--algo NAME] [--config PATH | --no-config] "
                            "[--inside] -- CMD [ARGS...]";

/* The options run takes; the others (--all, --skip-libs, ...) are refused. */
static const psum_cli_command RUN = {"run", "",
                                     PSUM_OPT_ALGO | PSUM_OPT_PERIOD | PSUM_OPT_CPU | PSUM_OPT_OUTPUTS | PSUM_OPT_CONFIG,
                                     NULL};

typedef struct collector {
    int sock;
    struct sockaddr_un addr;
    char dir[96]; /* $TMPDIR (at most 64 bytes) or /tmp, and a name: the socket path fits sun_path */
    psum_writer *w;
    psum_checked_set set; /* the processes checked from here (a static CMD, those of the tree); every write */
    pid_t cmd;
    psum_pid_list seen_children; /* processes of the tree at the last record, not checked then */
    psum_pid_list refused;       /* processes reported as unreadable: asking again is not news (ascending) */
    psum_pid_list not_ours;      /* run's children from before CMD (run exec'd by their parent): not walked (ascending) */
    bool scan_for_children;      /* the kernel lists no children (no /proc/PID/task/TID/children): /proc is scanned */
    struct {
        long pid;
        uint64_t pages;
    } tracked[TRACKED_MAX];
    size_t tracked_count;
    psum_pass pending; /* what the passes reported since the last record */
    bool have_pending;
} collector;

static volatile sig_atomic_t cmd_pid;
static bool run_inside; /* --inside: each process runs its own checker */

static void pass_on(int sig)
{
    if (cmd_pid > 0)
        (void)kill((pid_t)cmd_pid, sig);
}

static int parse(int argc, char **argv, psum_cli *c, char ***cmd)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "--inside") == 0) {
            run_inside = true;
            continue;
        }
        if (psum_cli_option(c, argc, argv, &i))
            return PSUM_EXIT_USAGE;
    }
    if (c->help) {
        printf("%s\n", USAGE);
        return -1;
    }
    if (i >= argc)
        return psum_cli_usage_error("%s", USAGE);
    *cmd = &argv[i];
    return psum_cli_check_options(c, &RUN);
}

/* The length of PROCSUM_SKIP_FILES for these globs: one per line, no newline after the last. */
static size_t skip_text_len(const char *const *globs)
{
    size_t n = 0;
    for (size_t i = 0; globs && globs[i]; i++)
        n += strlen(globs[i]) + (i > 0);
    return n;
}

/*
 * The `module` globs go to the preload library as one variable of at most
 * PSUM_SKIP_TEXT_MAX bytes: a longer one would leave every process of the
 * tree unwatched, so run refuses it before CMD starts.
 */
static int skip_files_fit(const psum_cli *c, const char *path)
{
    size_t n = skip_text_len(c->opts.skip_files);
    if (n <= PSUM_SKIP_TEXT_MAX)
        return 0;
    char q[200];
    fprintf(stderr, "procsum: %s: the 'module' globs take %zu bytes, more than the %u run hands to the preload "
                    "library\n",
            psum_cli_quote(q, sizeof(q), path ? path : PSUM_CONFIG_DEFAULT), n, PSUM_SKIP_TEXT_MAX);
    return PSUM_EXIT_USAGE;
}

/*
 * The configuration file first, then the command line once more over what
 * it set, as for the other commands (main.c): a flag given wins.
 */
static int configure(int argc, char **argv, psum_cli *c, char ***cmd)
{
    if (c->no_config && c->config_path)
        return psum_cli_usage_error("--config and --no-config exclude each other");
    const char *path = c->config_path;
    bool none = c->no_config;
    psum_cli_init(c);
    if (!none) {
        int rc = psum_config_load(c, path, RUN.options);
        if (!rc)
            rc = skip_files_fit(c, path);
        if (rc)
            return rc;
    }
    return parse(argc, argv, c, cmd);
}

/* The preload library: $PROCSUM_PRELOAD, the build tree's when this procsum runs from the build tree, or the installed one. */
static const char *preload_path(void)
{
    const char *env = getenv("PROCSUM_PRELOAD");
    if (env && *env)
        return env;
#ifdef PSUM_RUN_BUILD_EXE
    static char self[PATH_MAX];
    if (realpath("/proc/self/exe", self) && strcmp(self, PSUM_RUN_BUILD_EXE) == 0)
        return PSUM_RUN_PRELOAD_BUILT;
#endif
    return PSUM_RUN_PRELOAD_INSTALLED;
}

/* The file execvp would run for `name`, into buf; false when none is found. */
static bool find_program(const char *name, char *buf, size_t cap)
{
    if (strchr(name, '/'))
        return snprintf(buf, cap, "%s", name) < (int)cap;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t len = strcspn(path, ":");
        if (snprintf(buf, cap, "%.*s%s%s", (int)len, path, len ? "/" : "", name) < (int)cap && access(buf, X_OK) == 0)
            return true;
        path += len + (path[len] == ':');
    }
    return false;
}

/*
 * Whether the file is an ELF program without a program interpreter (the
 * dynamic loader, PT_INTERP): nothing reads LD_PRELOAD for it. Anything
 * else (a script, a dynamic program, an unreadable file) gets the preload.
 */
static bool is_static_elf(const char *file)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    Elf64_Ehdr eh = {0}; /* a file shorter than the header leaves the rest zero, not unknown */
    bool found_static = false;
    if (pread(fd, &eh, sizeof(eh), 0) == (ssize_t)sizeof(eh) && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
        eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr)) {
        found_static = true;
        for (unsigned i = 0; i < eh.e_phnum; i++) {
            Elf64_Phdr ph;
            if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))) != (ssize_t)sizeof(ph) ||
                ph.p_type == PT_INTERP) {
                found_static = false;
                break;
            }
        }
    } else if (eh.e_ident[EI_CLASS] == ELFCLASS32 && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0) {
        Elf32_Ehdr e32;
        if (pread(fd, &e32, sizeof(e32), 0) == (ssize_t)sizeof(e32) && e32.e_phentsize == sizeof(Elf32_Phdr)) {
            found_static = true;
            for (unsigned i = 0; i < e32.e_phnum; i++) {
                Elf32_Phdr ph;
                if (pread(fd, &ph, sizeof(ph), (off_t)(e32.e_phoff + (uint64_t)i * sizeof(ph))) !=
                        (ssize_t)sizeof(ph) ||
                    ph.p_type == PT_INTERP) {
                    found_static = false;
                    break;
                }
            }
        }
    }
    close(fd);
    return found_static;
}

/* The configuration's `module` globs for the preload library, one per line; 0 or nonzero when out of memory. */
static int set_skip_files(const char *const *globs)
{
    char *v = malloc(skip_text_len(globs) + 1), *at = v;
    if (!v)
        return -1;
    for (size_t i = 0; globs[i]; i++) {
        if (i > 0)
            *at++ = '\n';
        size_t len = strlen(globs[i]);
        memcpy(at, globs[i], len);
        at += len;
    }
    *at = '\0';
    int bad = setenv("PROCSUM_SKIP_FILES", v, 1);
    free(v);
    return bad;
}

/*
 * Why the loader would not take lib from LD_PRELOAD, or NULL. It cuts the
 * variable at spaces and colons, and skips what is not an ELF file it can
 * read (a directory, a text file), with a warning in every process.
 */
static const char *preload_refused(const char *lib)
{
    if (strpbrk(lib, " :"))
        return "its path holds a space or a colon, where the loader cuts LD_PRELOAD";
    /* Not waiting: a named pipe nobody writes to would block open() for good. */
    int fd = open(lib, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return strerror(errno);
    unsigned char magic[SELFMAG];
    ssize_t n = pread(fd, magic, sizeof(magic), 0);
    const char *why = n < 0 ? strerror(errno) : NULL;
    close(fd);
    if (!why && (n != (ssize_t)sizeof(magic) || memcmp(magic, ELFMAG, SELFMAG) != 0))
        why = "not an ELF library";
    return why;
}

/* The environment the preload library reads; 0 or, after a message, an exit code. */
static int set_environment(const psum_cli *c, const collector *k)
{
    const char *lib = preload_path();
    const char *why = preload_refused(lib);
    if (why) {
        /* Else the loader would complain in every process of the tree, and none would ask to be checked. */
        char q[200];
        fprintf(stderr, "procsum: the preload library %s: %s\n", psum_cli_quote(q, sizeof(q), lib), why);
        return PSUM_EXIT_FAILURE;
    }
    const char *old = getenv("LD_PRELOAD");
    size_t n = strlen(lib) + (old ? strlen(old) + 1 : 0) + 1;
    size_t m = strlen("socket:") + strlen(k->addr.sun_path) + 1;
    char *preload = malloc(n), *out = malloc(m), num[24];
    int bad = !preload || !out;
    if (!bad) {
        snprintf(preload, n, "%s%s%s", lib, old && *old ? ":" : "", old ? old : "");
        snprintf(out, m, "socket:%s", k->addr.sun_path);
        bad = setenv("LD_PRELOAD", preload, 1) || setenv("PROCSUM_OUTPUT", out, 1) ||
              setenv("PROCSUM_CHECKER", run_inside ? "inside" : "outside", 1);
    }
    unsigned given = c->given | c->config.given; /* on the command line or in the configuration file */
    if (!bad && (given & PSUM_OPT_PERIOD)) {
        snprintf(num, sizeof(num), "%u", c->opts.check_period_ms);
        bad = setenv("PROCSUM_PERIOD_MS", num, 1);
    }
    if (!bad && (given & PSUM_OPT_CPU)) {
        snprintf(num, sizeof(num), "%u", c->opts.max_cpu_percent);
        bad = setenv("PROCSUM_CPU", num, 1);
    }
    if (!bad && c->algorithm_given)
        bad = setenv("PROCSUM_ALGO", procsum_algorithm_name(c->opts.algorithm), 1);
    if (!bad && c->opts.skip_files && c->opts.skip_files[0])
        bad = set_skip_files(c->opts.skip_files);
    free(preload);
    free(out);
    return bad ? psum_cli_fail("run: setting the environment", PROCSUM_ENOMEM) : 0;
}

#define RUN_DIR_PREFIX "procsum-run."
/* A directory of ours without its socket this much older than now: a run killed between mkdtemp and bind. */
#define RUN_DIR_EMPTY_STALE_S 60
/* A socket younger than this is left alone: bind makes the file an instant before the socket answers there. */
#define RUN_SOCKET_SETTLED_S 10

/*
 * Whether the file system at path may be shared with other machines, where
 * another machine's live socket answers nobody here: nothing is removed
 * from such a directory.
 */
static bool shared_between_machines(const char *path)
{
    static const unsigned long network[] = {
        NFS_SUPER_MAGIC,  SMB_SUPER_MAGIC, CIFS_SUPER_MAGIC, SMB2_SUPER_MAGIC,  V9FS_MAGIC,    FUSE_SUPER_MAGIC,
        CEPH_SUPER_MAGIC, AFS_SUPER_MAGIC, AFS_FS_MAGIC,     CODA_SUPER_MAGIC, OCFS2_SUPER_MAGIC,
    };
    struct statfs fs;
    if (statfs(path, &fs) != 0)
        return true;
    for (size_t i = 0; i < sizeof(network) / sizeof(network[0]); i++)
        if ((unsigned long)fs.f_type == network[i])
            return true;
    return false;
}

/* Whether the datagram socket at path has nobody bound to it: its run has ended without removing it. */
static bool socket_abandoned(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path))
        return false;
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool abandoned = connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) != 0 && errno == ECONNREFUSED;
    close(fd);
    return abandoned;
}

/*
 * Removes what runs of this user killed by SIGKILL (no chance to clean up)
 * left in tmp: a directory procsum-run.* of ours whose socket (ten seconds
 * old at least) nobody is bound to, or which has no socket and is over a
 * minute old; nothing on a file system other machines may share. A live run's
 * socket answers, and another user's directories are not touched. Best
 * effort: a leftover that cannot be removed stays, as it would have.
 */
static void remove_abandoned_dirs(const char *tmp)
{
    if (shared_between_machines(tmp))
        return;
    DIR *d = opendir(tmp);
    if (!d)
        return;
    time_t now = time(NULL);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, RUN_DIR_PREFIX, strlen(RUN_DIR_PREFIX)) != 0 ||
            strlen(e->d_name) != strlen(RUN_DIR_PREFIX) + 6)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
            st.st_uid != geteuid())
            continue;
        char dir[128], sock[160]; /* tmp is at most 64 characters long (open_socket) */
        snprintf(dir, sizeof(dir), "%s/%s", tmp, e->d_name);
        snprintf(sock, sizeof(sock), "%s/events", dir);
        struct stat ss;
        if (lstat(sock, &ss) == 0) {
            if (!S_ISSOCK(ss.st_mode) || now - ss.st_mtime < RUN_SOCKET_SETTLED_S || !socket_abandoned(sock) ||
                unlink(sock) != 0)
                continue;
        } else if (errno != ENOENT || now - st.st_mtime < RUN_DIR_EMPTY_STALE_S) {
            continue;
        }
        (void)rmdir(dir); /* fails if anything else is in it: then it is not only a run's */
    }
    closedir(d);
}

/*
 * The socket the processes send to, in a directory of its own that only
 * this user can list. Any user may send to it: a process of the tree may
 * have become another user (a server's worker after setuid, setpriv), and
 * take_event keeps another user's datagrams only when they come from the
 * tree.
 */
static int open_socket(collector *k)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || tmp[0] != '/' || strlen(tmp) > 64)
        tmp = "/tmp";
    remove_abandoned_dirs(tmp);
    snprintf(k->dir, sizeof(k->dir), "%s/" RUN_DIR_PREFIX "XXXXXX", tmp);
    if (!mkdtemp(k->dir)) {
        int err = errno;
        char q[200];
        k->dir[0] = '\0';
        fprintf(stderr, "procsum: run: cannot make a directory for the socket in %s: %s\n",
                psum_cli_quote(q, sizeof(q), tmp), strerror(err));
        return err == EACCES || err == EPERM ? PSUM_EXIT_PERMISSION : PSUM_EXIT_FAILURE;
    }
    k->addr.sun_family = AF_UNIX;
    snprintf(k->addr.sun_path, sizeof(k->addr.sun_path), "%s/events", k->dir);
    k->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int on = 1; /* each datagram carries its sender's pid, as the kernel knows it */
    if (k->sock < 0 || bind(k->sock, (const struct sockaddr *)&k->addr, sizeof(k->addr)) != 0 ||
        setsockopt(k->sock, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) != 0) {
        fprintf(stderr, "procsum: run: the socket for events: %s\n", strerror(errno));
        return PSUM_EXIT_FAILURE;
    }
    if (chmod(k->dir, 0711) != 0 || chmod(k->addr.sun_path, 0622) != 0) {
        fprintf(stderr, "procsum: run: opening the socket for events to the tree's users: %s\n", strerror(errno));
        return PSUM_EXIT_FAILURE;
    }
    /* Room for bursts of events (a change in a library every process maps) while a slow output is written. */
    int room = 4 << 20;
    (void)setsockopt(k->sock, SOL_SOCKET, SO_RCVBUF, &room, sizeof(room));
    return 0;
}

static void close_socket(collector *k)
{
    if (k->sock >= 0)
        close(k->sock);
    if (k->addr.sun_path[0])
        (void)unlink(k->addr.sun_path);
    if (k->dir[0])
        (void)rmdir(k->dir);
}

/* 127 when there is no such program, 126 when it cannot be run: as a shell says it. */
static int exec_failed(const char *cmd, int err)
{
    char q[80];
    fprintf(stderr, "procsum: run: cannot run '%s': %s\n", psum_cli_quote(q, sizeof(q), cmd), strerror(err));
    return err == ENOENT ? 127 : 126;
}

/*
 * Checks pid from here from now on, unless it is already or was found
 * unreadable (not tried, nor said, again). A process gone before its
 * checker could start (it asked, then ended) is no news.
 */
static void watch_pid(collector *k, long pid)
{
    if (pid <= 0 || psum_checked_find(&k->set, pid) < k->set.count || psum_pid_list_has(&k->refused, pid))
        return; /* asked again after an exec: its checker follows the exec already */
    int err = psum_checked_start(&k->set, pid, true);
    if ((err == PROCSUM_EACCES || err == PROCSUM_EPERM) && psum_pid_list_push(&k->refused, pid) == 0)
        psum_pid_list_sort(&k->refused);
}

/* Whether a failed open of a /proc file says only that the process or thread has ended. */
static bool ended(int err)
{
    return err == ENOENT || err == ESRCH;
}

/*
 * Appends the children of every thread of pid (/proc/PID/task/TID/children);
 * 0, or an errno (out of descriptors, say: not taken for a process gone).
 */
static int add_children(long pid, psum_pid_list *out)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/task", pid);
    DIR *d = opendir(path);
    if (!d)
        return ended(errno) ? 0 : errno;
    int err = 0;
    for (struct dirent *e; !err && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char file[96];
        snprintf(file, sizeof(file), "/proc/%ld/task/%.20s/children", pid, e->d_name);
        FILE *f = fopen(file, "re");
        if (!f) {
            err = ended(errno) ? 0 : errno;
            continue;
        }
        long child;
        while (!err && fscanf(f, "%ld", &child) == 1)
            err = psum_pid_list_push(out, child);
        fclose(f);
    }
    closedir(d);
    return err;
}

/*
 * The parent in /proc/PID/stat (the field after the name, which may hold
 * anything but ends at the last ')') in *parent, 0 if none or gone; 0 or
 * an errno.
 */
static int parent_of(long pid, long *parent)
{
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    *parent = 0;
    FILE *f = fopen(path, "re");
    if (!f)
        return ended(errno) ? 0 : errno;
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *end = strrchr(line, ')');
    if (!end || sscanf(end + 1, " %*c %ld", parent) != 1)
        *parent = 0;
    return 0;
}

/* Beyond any real tree: a pid used again while the lists are read cannot make the walk endless. */
#define TREE_MAX 65536

/*
 * run's own children that are not of CMD's tree (those it had before,
 * when it was started by exec from a process that had some) are left out.
 */
static int add_own_children(const collector *k, psum_pid_list *out)
{
    int err = add_children((long)getpid(), out);
    size_t kept = 0;
    for (size_t i = 0; i < out->count; i++)
        if (!psum_pid_list_has(&k->not_ours, out->pids[i]))
            out->pids[kept++] = out->pids[i];
    out->count = kept;
    return err;
}

/* Appends every process below run (its children, theirs, ...), from the kernel's children lists; 0 or an errno. */
static int add_tree(const collector *k, psum_pid_list *out)
{
    int err = add_own_children(k, out);
    for (size_t i = 0; !err && i < out->count && out->count < TREE_MAX; i++)
        err = add_children(out->pids[i], out);
    return err;
}

typedef struct parent_pair {
    long parent, pid;
} parent_pair;

static int by_parent(const void *a, const void *b)
{
    long x = ((const parent_pair *)a)->parent, y = ((const parent_pair *)b)->parent;
    return (x > y) - (x < y);
}

/* Every process /proc lists with its parent, sorted by parent, in *pairs (*count of them); 0 or an errno. */
static int list_parents(parent_pair **pairs, size_t *count)
{
    *pairs = NULL;
    *count = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return errno;
    size_t cap = 0;
    int err = 0;
    for (struct dirent *e; !err && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        long pid = strtol(e->d_name, NULL, 10), parent;
        if ((err = parent_of(pid, &parent)) != 0 || parent <= 0)
            continue;
        if (*count == cap) {
            cap = cap ? 2 * cap : 256;
            parent_pair *grown = realloc(*pairs, cap * sizeof(*grown));
            if (!grown) {
                err = ENOMEM;
                break;
            }
            *pairs = grown;
        }
        (*pairs)[(*count)++] = (parent_pair){parent, pid};
    }
    closedir(d);
    if (*count)
        qsort(*pairs, *count, sizeof(**pairs), by_parent);
    return err;
}

/* The same without the kernel's children lists: down from run through every process's parent in /proc. */
static int scan_tree(const collector *k, psum_pid_list *out)
{
    parent_pair *pairs;
    size_t count;
    int err = list_parents(&pairs, &count);
    /* A generation at a time: each process found is a parent to look for (run itself first). */
    for (size_t i = 0; !err && i <= out->count && out->count < TREE_MAX; i++) {
        long parent = i == 0 ? (long)getpid() : out->pids[i - 1];
        size_t lo = 0, hi = count;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (pairs[mid].parent < parent)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (; !err && lo < count && pairs[lo].parent == parent; lo++)
            if (i > 0 || !psum_pid_list_has(&k->not_ours, pairs[lo].pid))
                err = psum_pid_list_push(out, pairs[lo].pid);
    }
    free(pairs);
    return err;
}

/*
 * Every process of run's tree, found each record: one seen at the last
 * record too (so it has lived a period, longer than the lazy delay a
 * process that runs a program with the preload library asks after) is
 * checked from now on. Asking only makes a new program checked sooner:
 * this finds those that never exec (a shell's subshell, a server's
 * worker, a child forked before its parent asked), those whose program
 * cannot take the preload (a static one, a set-user-ID one) and orphans,
 * which the kernel hands to run (a child subreaper) instead of to init.
 */
static void adopt_tree(collector *k)
{
    psum_pid_list now = {0};
    int err = k->scan_for_children ? scan_tree(k, &now) : add_tree(k, &now);
    if (err) {
        psum_pid_list_free(&now);
        return;
    }
    psum_pid_list_sort(&now);
    psum_pid_list next = {0};
    for (size_t i = 0; i < now.count; i++) {
        long pid = now.pids[i];
        if (i > 0 && now.pids[i - 1] == pid)
            continue;
        if (psum_pid_list_has(&k->seen_children, pid))
            watch_pid(k, pid); /* unless checked already, or refused */
        else
            (void)psum_pid_list_push(&next, pid); /* out of memory: looked at again next time */
    }
    psum_pid_list_free(&now);
    psum_pid_list_free(&k->seen_children);
    psum_pid_list_sort(&next);
    k->seen_children = next;
}

static void free_lists(collector *k)
{
    psum_pid_list_free(&k->seen_children);
    psum_pid_list_free(&k->refused);
    psum_pid_list_free(&k->not_ours);
}

/* A process's last pass figures: kept by pid, for procsum_pages_checked and procsum_processes. */
static void track(collector *k, long pid, uint64_t pages)
{
    for (size_t i = 0; i < k->tracked_count; i++)
        if (k->tracked[i].pid == pid) {
            k->tracked[i].pages = pages;
            return;
        }
    if (k->tracked_count < TRACKED_MAX) {
        k->tracked[k->tracked_count].pid = pid;
        k->tracked[k->tracked_count++].pages = pages;
    }
}

static void add_pass(collector *k, const psum_pass *p)
{
    k->pending.passes = psum_pass_count_add(k->pending.passes, p->passes);
    k->pending.quiet_passes = psum_pass_count_add(k->pending.quiet_passes, p->quiet_passes);
    k->pending.bytes_hashed = psum_pass_count_add(k->pending.bytes_hashed, p->bytes_hashed);
    if (p->duration_ns > k->pending.duration_ns)
        k->pending.duration_ns = p->duration_ns;
    k->have_pending = true;
}

/* Whether pid descends from run, through CMD's tree (not a child run had before CMD). */
static bool in_tree(const collector *k, long pid)
{
    long self = (long)getpid();
    for (size_t depth = 0; pid > 1 && depth < TREE_MAX; depth++) {
        long parent;
        if (parent_of(pid, &parent) != 0 || parent <= 0)
            return false;
        if (parent == self)
            return !psum_pid_list_has(&k->not_ours, pid);
        pid = parent;
    }
    return false;
}

/* One datagram; sender and uid: its process and user as the kernel says (sender 0 when it did not). */
static void take_event(collector *k, char *buf, size_t len, long sender, uid_t uid)
{
    /* The process is the one the kernel says sent it: no process of the tree speaks for another. */
    if (sender <= 0)
        return; /* the kernel named no sender: whose event it is cannot be said */
    /* Another user's datagram: the socket takes anyone's, so only the tree's count. */
    if (uid != geteuid() && !in_tree(k, sender))
        return;
    psum_wire_event ev;
    if (psum_wire_decode(buf, len, &ev) != 0)
        return; /* not one of ours: this user's or the tree's, so a stray, not an attack */
    ev.pid = ev.alert.pid = ev.state.pid = sender;
    /* And the host is this one, whatever name the datagram gives. */
    psum_event_origin here;
    psum_event_origin_now(&here);
    ev.alert.at.host = ev.state.at.host = here.host;
    /*
     * Checked from outside, a process of the tree has nothing to tell but
     * that it wants checking, or that its preload library would not start:
     * alerts, states and pass counts come from this process's own checkers,
     * and one sent by the tree would be a forgery about itself.
     */
    if (!run_inside && ev.kind != PSUM_WIRE_WATCH_ME &&
        !(ev.kind == PSUM_WIRE_STATE && strcmp(ev.state.action, "not-watched") == 0))
        return;
    switch (ev.kind) {
    case PSUM_WIRE_ALERT:
        psum_checked_write_alert(&k->set, &ev.alert);
        break;
    case PSUM_WIRE_STATE:
        /* A checker started: counted, not written (a script's every process would say it). */
        if (strcmp(ev.state.action, "watching") == 0)
            track(k, ev.pid, 0);
        else
            psum_checked_write_state(&k->set, &ev.state);
        break;
    case PSUM_WIRE_PASS:
        track(k, ev.pid, ev.pass.pages_checked);
        add_pass(k, &ev.pass);
        break;
    case PSUM_WIRE_WATCH_ME:
        if (!run_inside)
            watch_pid(k, sender);
        break;
    }
}

/* Every datagram waiting now. */
static void drain(collector *k)
{
    static char buf[PSUM_WIRE_MAX + 1];
    union {
        struct cmsghdr align;
        char bytes[CMSG_SPACE(sizeof(struct ucred))];
    } control;
    for (;;) {
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control)};
        ssize_t n = recvmsg(k->sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return;
        long sender = 0;
        uid_t uid = geteuid();
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
                struct ucred cred;
                memcpy(&cred, CMSG_DATA(c), sizeof(cred));
                sender = cred.pid;
                uid = cred.uid;
            }
        take_event(k, buf, (size_t)n, sender, uid);
    }
}

static bool still_there(long pid)
{
    return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

/*
 * The metrics' pass record: the processes still there, what their passes
 * did since the last one. last: CMD has ended, and with it the watch (what
 * is left of the tree is not taken on now).
 */
static void write_pass(collector *k, bool last)
{
    psum_pass outside = {0};
    psum_checked_review(&k->set, &outside, &k->refused);
    add_pass(k, &outside);
    if (!run_inside && !last)
        adopt_tree(k);
    if (!k->have_pending)
        return;
    /* The processes still there: one checked from here may have ended since its checker's last pass. */
    k->pending.pages_checked = 0;
    k->pending.processes = 0;
    for (size_t i = 0; i < k->set.count; i++)
        if (still_there(k->set.items[i]->pid)) {
            k->pending.pages_checked += k->set.items[i]->pages;
            k->pending.processes++;
        }
    size_t kept = 0;
    for (size_t i = 0; i < k->tracked_count; i++) {
        if (!still_there(k->tracked[i].pid))
            continue;
        k->pending.pages_checked += k->tracked[i].pages;
        k->tracked[kept++] = k->tracked[i];
    }
    k->tracked_count = kept;
    k->pending.processes += kept;
    psum_checked_write_pass(&k->set, &k->pending);
    k->pending = (psum_pass){0};
    k->have_pending = false;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Writes what comes until CMD ends; its wait status. */
static int collect(collector *k, unsigned period_ms)
{
    /* A descriptor that becomes readable when CMD ends; without pidfd_open, CMD is asked after every wake. */
    int pidfd = (int)syscall(SYS_pidfd_open, k->cmd, 0);
    uint64_t next = now_ms() + period_ms;
    int status = 0;
    for (;;) {
        /* CMD, and the orphans of the tree, which the kernel hands to run (a subreaper, checking from outside). */
        bool cmd_ended = false;
        pid_t done;
        int st;
        while ((done = waitpid(-1, &st, WNOHANG)) > 0)
            if (done == k->cmd) {
                cmd_pid = 0; /* its pid may be another process's from now on: nothing passed on */
                status = st;
                cmd_ended = true;
            }
        if (cmd_ended || (done < 0 && errno == ECHILD))
            break;
        uint64_t t = now_ms();
        if (t >= next) {
            write_pass(k, false);
            next = t + period_ms;
        }
        struct pollfd fds[2] = {{.fd = k->sock, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
        int wait = (int)(next - t);
        if (pidfd < 0 && wait > 100)
            wait = 100;
        if (poll(fds, pidfd < 0 ? 1 : 2, wait) > 0 && (fds[0].revents & POLLIN))
            drain(k);
    }
    /* What was sent before CMD ended is in the queue; asks to be watched that are left are too late. */
    drain(k);
    /* Always a last record: the processes left (none, once the tree has ended) are the metrics' final word. */
    k->have_pending = true;
    write_pass(k, true);
    if (pidfd >= 0)
        close(pidfd);
    return status;
}

/* Starts CMD; its pid, or -1 after a message (*exit_code set). */
static pid_t start(char **cmd, int *exit_code)
{
    int ready[2]; /* closed by the exec; carries errno when it failed */
    if (pipe2(ready, O_CLOEXEC) != 0) {
        *exit_code = psum_cli_fail("run", PROCSUM_EMFILE);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(ready[0]);
        close(ready[1]);
        *exit_code = psum_cli_fail("run: fork", PROCSUM_EAGAIN);
        return -1;
    }
    if (pid == 0) {
        close(ready[0]);
        execvp(cmd[0], cmd);
        int err = errno;
        (void)!write(ready[1], &err, sizeof(err));
        _exit(127);
    }
    close(ready[1]);
    int err = 0;
    ssize_t got;
    do
        got = read(ready[0], &err, sizeof(err));
    while (got < 0 && errno == EINTR);
    close(ready[0]);
    if (got == (ssize_t)sizeof(err)) {
        while (waitpid(pid, &(int){0}, 0) < 0 && errno == EINTR)
            ;
        *exit_code = exec_failed(cmd[0], err);
        return -1;
    }
    return pid;
}

/* Runs cmd as c says, with the configuration file read. */
static int run_with(const psum_cli *c, char **cmd)
{
    char file[PATH_MAX];
    if (!find_program(cmd[0], file, sizeof(file)))
        return exec_failed(cmd[0], ENOENT);

    /* Without any output named, JSON lines on stderr: CMD's standard output stays its own. */
    psum_output_config cfg = psum_cli_outputs(c);
    FILE *std_out = stdout;
    if (!c->format_given && !cfg.json_file && !cfg.journal && !cfg.prometheus) {
        cfg.std_format = &psum_jsonl_writer;
        std_out = stderr;
    }
    psum_outputs out;
    const char *what = NULL;
    int err = psum_outputs_open(&out, &cfg, std_out, &what);
    if (err) {
        char q[200];
        fprintf(stderr, "procsum: cannot open %s: %s\n", psum_cli_quote(q, sizeof(q), what), strerror(err));
        return PSUM_EXIT_FAILURE;
    }
    collector *k = calloc(1, sizeof(*k));
    if (!k) {
        psum_outputs_close(&out, &what);
        return psum_cli_fail("run", PROCSUM_ENOMEM);
    }
    k->sock = -1;
    k->w = &out.fan;
    char own[64];
    snprintf(own, sizeof(own), "/proc/self/task/%ld/children", (long)syscall(SYS_gettid));
    k->scan_for_children = getenv("PROCSUM_NO_PROC_CHILDREN") || access(own, R_OK) != 0;
    psum_event_origin at;
    psum_event_origin_now(&at); /* the host's name is looked up here, before the runner's thread reports */
    /* Quiet: a script's every process would say that it started and ended. The allow lists: a restore's judgement. */
    err = psum_checked_open(&k->set, &c->opts, k->w, out.allow, true);
    if (err) {
        free(k);
        psum_outputs_close(&out, &what);
        return psum_cli_fail("run", err);
    }
    int rc = open_socket(k);
    if (!rc)
        rc = set_environment(c, k);
    /* An output that cannot be written from the start (--prometheus in a missing directory) stops CMD from starting. */
    if (!rc && psum_write_begin(k->w, PSUM_LIST_EVENTS, c->opts.algorithm) != 0)
        rc = PSUM_EXIT_FAILURE;
    /* Passed on from the moment CMD exists; ignored ones are set after the fork, so CMD keeps the defaults. */
    static const int PASSED_ON[] = {SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};
    struct sigaction sa = {.sa_handler = pass_on};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; !rc && i < sizeof(PASSED_ON) / sizeof(PASSED_ON[0]); i++)
        sigaction(PASSED_ON[i], &sa, NULL);
    /*
     * Checking from outside, run finds every process of its tree itself:
     * an orphan (a daemon's child) comes to run rather than to init, and
     * stays found. Where the kernel refuses (older than 3.4), an orphan is
     * checked only if it runs a program that asks.
     */
    if (!rc && !run_inside) {
        (void)add_children((long)getpid(), &k->not_ours); /* those it could list: seldom any at all */
        psum_pid_list_sort(&k->not_ours);
        if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
            fprintf(stderr, "procsum: run: orphans of the tree go to init and are checked only if they ask "
                            "(PR_SET_CHILD_SUBREAPER: %s)\n", strerror(errno));
    }
    pid_t pid = rc ? -1 : start(cmd, &rc);
    int status = 0;
    if (pid > 0) {
        k->cmd = pid;
        cmd_pid = pid;
        signal(SIGINT, SIG_IGN);
        signal(SIGQUIT, SIG_IGN);
        /* Each process checked from here keeps a few /proc files open; CMD has kept its own limit. */
        unsigned long descriptors = run_inside ? 0 : psum_watch_allow_descriptors();
        if (descriptors && descriptors < PSUM_WATCH_FEW_DESCRIPTORS)
            fprintf(stderr, "procsum: run: only %lu open files allowed (ulimit -n): each process checked takes 3, "
                            "those past the limit are not watched (PROCSUM_EMFILE)\n", descriptors);
        if (is_static_elf(file)) {
            char q[200];
            fprintf(stderr, "procsum: run: %s is statically linked and cannot take the preload library: "
                            "watching it from outside (pid %ld)\n", psum_cli_quote(q, sizeof(q), file), (long)pid);
            watch_pid(k, pid);
        }
        status = collect(k, c->opts.check_period_ms);
        cmd_pid = 0;
        rc = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    }
    bool write_failed = k->set.write_failed;
    psum_checked_close(&k->set); /* every checker stopped: only this thread writes from here on */
    free_lists(k);
    if (pid > 0 && !write_failed)
        (void)psum_write_end(k->w); /* a failure is the outputs' to say, at their close */
    close_socket(k);
    free(k);
    err = psum_outputs_close(&out, &what);
    /* CMD's status, unless CMD succeeded and what it was run for (the reports) was lost. */
    if (err && psum_cli_output_failed_to(what, err) && rc == PSUM_EXIT_OK)
        rc = PSUM_EXIT_FAILURE;
    return rc;
}

int psum_cmd_run(const psum_cli *c, psum_writer *w)
{
    (void)c;
    (void)w;
    /* Reached only when options came before "run": run takes its own, after its name. */
    return psum_cli_usage_error("%s", USAGE);
}

int psum_run_main(int argc, char **argv)
{
    psum_cli c;
    psum_cli_init(&c);
    char **cmd = NULL;
    int rc = parse(argc, argv, &c, &cmd);
    if (!rc)
        rc = configure(argc, argv, &c, &cmd);
    if (rc) {
        psum_config_free(&c.config);
        return rc < 0 ? PSUM_EXIT_OK : rc;
    }
    rc = run_with(&c, cmd);
    psum_config_free(&c.config);
    return rc;
}
