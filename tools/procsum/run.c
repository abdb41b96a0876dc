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
 * local datagram socket in a private directory (mode 0700) and hands its
 * path to the preload library (PROCSUM_OUTPUT=socket:PATH). Each process
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
 * CMD's exit status is procsum's (128+N after signal N, as a shell says
 * it); SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 sent to procsum are passed on
 * to CMD; the terminal's ^C and ^\ reach CMD directly, and procsum waits.
 * CMD's standard streams are its own. A static CMD has no loader to take
 * the preload: procsum watches it from outside (procsum_start with its
 * pid), says so on stderr, and its events take the same way.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "oneline.h"
#include "procs.h"
#include "wire.h"

#ifndef PSUM_RUN_PRELOAD_INSTALLED
#define PSUM_RUN_PRELOAD_INSTALLED "/usr/local/lib/libprocsum-preload.so"
#endif

/* Processes whose last pass figures are kept for the metrics; more are still checked, not counted. */
#define TRACKED_MAX 4096

static const char USAGE[] = "usage: procsum run [--json] [--format NAME] [--json-file PATH] [--journal] "
                            "[--prometheus PATH] [--period MS] [--cpu PERCENT] [--algo NAME] [--config PATH | --no-config] "
                            "-- CMD [ARGS...]";

/* The options run takes; the others (--all, --skip-libs, ...) are refused. */
static const psum_cli_command RUN = {"run", "",
                                     PSUM_OPT_ALGO | PSUM_OPT_PERIOD | PSUM_OPT_CPU | PSUM_OPT_OUTPUTS | PSUM_OPT_CONFIG,
                                     NULL};

typedef struct collector {
    int sock;
    struct sockaddr_un addr;
    char dir[96]; /* $TMPDIR (at most 64 bytes) or /tmp, and a name: the socket path fits sun_path */
    psum_writer *w;
    bool write_failed;
    pid_t cmd;
    procsum_checker *outside; /* a static CMD's checker, or NULL */
    const char *outside_exe;  /* its program */
    procsum_stats outside_last;
    struct {
        long pid;
        uint64_t pages;
    } tracked[TRACKED_MAX];
    size_t tracked_count;
    psum_pass pending; /* what the passes reported since the last record */
    bool have_pending;
} collector;

static volatile sig_atomic_t cmd_pid;

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
    Elf64_Ehdr eh;
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
    size_t n = 1;
    for (size_t i = 0; globs[i]; i++)
        n += strlen(globs[i]) + 1;
    char *v = malloc(n), *at = v;
    if (!v)
        return -1;
    for (size_t i = 0; globs[i]; i++) {
        size_t len = strlen(globs[i]);
        memcpy(at, globs[i], len);
        at += len;
        *at++ = '\n';
    }
    at[at > v ? -1 : 0] = '\0'; /* no newline after the last */
    int bad = setenv("PROCSUM_SKIP_FILES", v, 1);
    free(v);
    return bad;
}

/* The environment the preload library reads; 0 or, after a message, an exit code. */
static int set_environment(const psum_cli *c, const collector *k)
{
    const char *lib = preload_path();
    const char *old = getenv("LD_PRELOAD");
    size_t n = strlen(lib) + (old ? strlen(old) + 1 : 0) + 1;
    size_t m = strlen("socket:") + strlen(k->addr.sun_path) + 1;
    char *preload = malloc(n), *out = malloc(m), num[24];
    int bad = !preload || !out;
    if (!bad) {
        snprintf(preload, n, "%s%s%s", lib, old && *old ? ":" : "", old ? old : "");
        snprintf(out, m, "socket:%s", k->addr.sun_path);
        bad = setenv("LD_PRELOAD", preload, 1) || setenv("PROCSUM_OUTPUT", out, 1);
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

/* The socket the processes send to, in a directory of its own that only this user can enter. */
static int open_socket(collector *k)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || tmp[0] != '/' || strlen(tmp) > 64)
        tmp = "/tmp";
    snprintf(k->dir, sizeof(k->dir), "%s/procsum-run.XXXXXX", tmp);
    if (!mkdtemp(k->dir)) {
        k->dir[0] = '\0';
        return psum_cli_fail("run: a directory for the socket", PROCSUM_EACCES);
    }
    k->addr.sun_family = AF_UNIX;
    snprintf(k->addr.sun_path, sizeof(k->addr.sun_path), "%s/events", k->dir);
    k->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (k->sock < 0 || bind(k->sock, (const struct sockaddr *)&k->addr, sizeof(k->addr)) != 0)
        return psum_cli_fail("run: the socket for events", PROCSUM_EMFILE);
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

/* A static CMD's checker: each change goes the way of every other process's, as datagrams to our socket. */
static void outside_change(const procsum_mismatch *m, void *userdata)
{
    const collector *k = userdata;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    psum_alert a = {.action = m->kind == PROCSUM_REPORT_CHANGED ? "code-changed" : "differs-from-file",
                    .pid = k->cmd, .executable = k->outside_exe, .region = m->region};
    psum_event_origin_now(&a.at);
    static char buf[PSUM_WIRE_MAX]; /* the checker's thread only */
    for (size_t i = 0; i < m->changed_pages; i++) {
        a.page = &m->page_changes[i];
        size_t len = psum_wire_alert(buf, &a);
        (void)sendto(fd, buf, len, 0, (const struct sockaddr *)&k->addr, sizeof(k->addr));
    }
    close(fd);
}

static void watch_outside(collector *k, const psum_cli *c, const char *file)
{
    fprintf(stderr, "procsum: run: %s is statically linked and cannot take the preload library: "
                    "watching it from outside (pid %ld)\n", file, (long)k->cmd);
    procsum_options o = c->opts;
    o.pid = k->cmd;
    k->outside_exe = file;
    int rc = procsum_start(&o, outside_change, k, &k->outside);
    if (rc) {
        psum_state s = {.action = "not-watched", .pid = k->cmd, .executable = file, .status = "error", .error = rc};
        psum_event_origin_now(&s.at);
        k->write_failed |= psum_write_state(k->w, &s) != 0;
    }
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
    k->pending.passes += p->passes;
    k->pending.bytes_hashed += p->bytes_hashed;
    if (p->duration_ns > k->pending.duration_ns)
        k->pending.duration_ns = p->duration_ns;
    k->have_pending = true;
}

static void take_event(collector *k, char *buf, size_t len)
{
    psum_wire_event ev;
    if (psum_wire_decode(buf, len, &ev) != 0)
        return; /* not one of ours: the directory is this user's, so a stray, not an attack */
    switch (ev.kind) {
    case PSUM_WIRE_ALERT:
        k->write_failed |= psum_write_alert(k->w, &ev.alert) != 0;
        break;
    case PSUM_WIRE_STATE:
        /* A checker started: counted, not written (a script's every process would say it). */
        if (strcmp(ev.state.action, "watching") == 0)
            track(k, ev.pid, 0);
        else
            k->write_failed |= psum_write_state(k->w, &ev.state) != 0;
        break;
    case PSUM_WIRE_PASS:
        track(k, ev.pid, ev.pass.pages_checked);
        add_pass(k, &ev.pass);
        break;
    }
}

/* Every datagram waiting now. */
static void drain(collector *k)
{
    static char buf[PSUM_WIRE_MAX + 1];
    for (;;) {
        ssize_t n = recv(k->sock, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return;
        take_event(k, buf, (size_t)n);
    }
}

/* The metrics' pass record: the processes still there, what their passes did since the last one. */
static void write_pass(collector *k)
{
    if (k->outside) {
        procsum_stats now;
        if (procsum_get_stats(k->outside, &now) == 0) {
            track(k, k->cmd, now.pages_tracked);
            add_pass(k, &(psum_pass){.passes = now.passes - k->outside_last.passes,
                                     .bytes_hashed = now.bytes_hashed - k->outside_last.bytes_hashed,
                                     .duration_ns = now.last_pass_ns});
            k->outside_last = now;
        }
    }
    if (!k->have_pending)
        return;
    size_t kept = 0;
    k->pending.pages_checked = 0;
    for (size_t i = 0; i < k->tracked_count; i++) {
        if (kill((pid_t)k->tracked[i].pid, 0) != 0 && errno == ESRCH)
            continue; /* ended */
        k->pending.pages_checked += k->tracked[i].pages;
        k->tracked[kept++] = k->tracked[i];
    }
    k->tracked_count = kept;
    k->pending.processes = kept;
    k->write_failed |= psum_write_pass(k->w, &k->pending) != 0;
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
        pid_t done = waitpid(k->cmd, &status, WNOHANG);
        if (done == k->cmd || (done < 0 && errno == ECHILD))
            break;
        uint64_t t = now_ms();
        if (t >= next) {
            write_pass(k);
            next = t + period_ms;
        }
        struct pollfd fds[2] = {{.fd = k->sock, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
        int wait = (int)(next - t);
        if (pidfd < 0 && wait > 100)
            wait = 100;
        if (poll(fds, pidfd < 0 ? 1 : 2, wait) > 0 && (fds[0].revents & POLLIN))
            drain(k);
    }
    /* What was sent before CMD ended (and by a static CMD's checker until it stopped) is in the queue. */
    procsum_stop(k->outside);
    k->outside = NULL;
    drain(k);
    /* Always a last record: the processes left (none, once the tree has ended) are the metrics' final word. */
    k->have_pending = true;
    write_pass(k);
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
    pid_t pid = rc ? -1 : start(cmd, &rc);
    int status = 0;
    if (pid > 0) {
        k->cmd = pid;
        cmd_pid = pid;
        signal(SIGINT, SIG_IGN);
        signal(SIGQUIT, SIG_IGN);
        if (is_static_elf(file))
            watch_outside(k, c, file);
        status = collect(k, c->opts.check_period_ms);
        cmd_pid = 0;
        rc = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
        if (k->write_failed || psum_write_end(k->w))
            k->write_failed = true;
    }
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
