/*
 * procsum run [--json-file PATH] [--period MS] [--cpu PERCENT] [--algo A]
 *             [--config PATH | --no-config] -- CMD [ARGS]
 *
 * Runs CMD with libprocsum-preload.so in LD_PRELOAD and the PROCSUM_*
 * variables that set it up, so that CMD and every program it runs has a
 * checker. A dynamically linked CMD simply replaces procsum (exec): its
 * exit status, its signals and its standard streams are its own. A static
 * CMD has no loader to take the preload: procsum then starts it, watches
 * it from outside (procsum_start with its pid) until it ends, says so on
 * stderr, and exits as a shell would: CMD's status, or 128+N after signal N.
 * It parses its own options: everything after them belongs to CMD. From
 * the configuration file it takes what it has options for (period, cpu,
 * algo, json-file); a flag given wins.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "oneline.h"
#include "procs.h"

#ifndef PSUM_RUN_PRELOAD_INSTALLED
#define PSUM_RUN_PRELOAD_INSTALLED "/usr/local/lib/libprocsum-preload.so"
#endif

typedef struct run_args {
    const char *json_file; /* NULL: reports go to stderr */
    const char *period, *cpu, *algo;
    const char *config; /* --config */
    bool no_config;
    char **cmd;
} run_args;

static int usage(void)
{
    return psum_cli_usage_error("usage: procsum run [--json-file PATH] [--period MS] [--cpu PERCENT] [--algo NAME] "
                                "[--config PATH | --no-config] -- CMD [ARGS...]");
}

/* Strictly a decimal number in [min, max], as the preload library will read it. */
static int check_number(const char *option, const char *v, unsigned long min, unsigned long max)
{
    char q[80], *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (v[0] < '0' || v[0] > '9' || *end || errno || n < min || n > max)
        return psum_cli_usage_error("%s takes a number from %lu to %lu, not '%s'", option, min, max,
                                    psum_cli_quote(q, sizeof(q), v));
    return 0;
}

static int parse(int argc, char **argv, run_args *r)
{
    static const char *const NAMES[] = {"--json-file", "--period", "--cpu", "--algo", "--config"};
    const char **fields[] = {&r->json_file, &r->period, &r->cpu, &r->algo, &r->config};
    enum { FIELD_COUNT = sizeof(NAMES) / sizeof(NAMES[0]) };
    char q[80];
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "--no-config") == 0) {
            r->no_config = true;
            continue;
        }
        size_t k = 0;
        while (k < FIELD_COUNT && strcmp(argv[i], NAMES[k]) != 0)
            k++;
        if (k == FIELD_COUNT)
            return psum_cli_usage_error("run: unknown option '%s'", psum_cli_quote(q, sizeof(q), argv[i]));
        if (i + 1 >= argc)
            return psum_cli_usage_error("%s needs a value", NAMES[k]);
        *fields[k] = argv[++i];
    }
    if (i >= argc)
        return usage();
    if (r->config && r->no_config)
        return psum_cli_usage_error("--config and --no-config exclude each other");
    r->cmd = &argv[i];
    procsum_algorithm a;
    if (r->algo && procsum_algorithm_parse(r->algo, &a) != 0)
        return psum_cli_usage_error("unknown algorithm '%s': use blake3, crc64 or xxh3",
                                    psum_cli_quote(q, sizeof(q), r->algo));
    if ((r->period && check_number("--period", r->period, 1, 86400000ul)) ||
        (r->cpu && check_number("--cpu", r->cpu, 1, 100)))
        return PSUM_EXIT_USAGE;
    if (r->json_file && !r->json_file[0])
        return psum_cli_usage_error("--json-file needs a path");
    return 0;
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

/* The environment the preload library reads; 0 or, after a message, an exit code. */
static int set_environment(const run_args *r)
{
    const char *lib = preload_path();
    const char *old = getenv("LD_PRELOAD");
    size_t n = strlen(lib) + (old ? strlen(old) + 1 : 0) + 1;
    char *preload = malloc(n);
    char *out = NULL;
    if (!preload)
        return psum_cli_fail("run", PROCSUM_ENOMEM);
    snprintf(preload, n, "%s%s%s", lib, old && *old ? ":" : "", old ? old : "");
    if (r->json_file) {
        /* Absolute: every process of the tree writes to the same file, wherever it changes directory to. */
        char cwd[PATH_MAX];
        bool relative = r->json_file[0] != '/';
        if (relative && !getcwd(cwd, sizeof(cwd))) {
            free(preload);
            return psum_cli_fail("run: the current directory", PROCSUM_ENOENT);
        }
        size_t m = strlen("json-file:") + (relative ? strlen(cwd) + 1 : 0) + strlen(r->json_file) + 1;
        out = malloc(m);
        if (!out) {
            free(preload);
            return psum_cli_fail("run", PROCSUM_ENOMEM);
        }
        snprintf(out, m, "json-file:%s%s%s", relative ? cwd : "", relative ? "/" : "", r->json_file);
    }
    int bad = setenv("LD_PRELOAD", preload, 1) || setenv("PROCSUM_OUTPUT", out ? out : "stderr", 1) ||
              (r->period && setenv("PROCSUM_PERIOD_MS", r->period, 1)) ||
              (r->cpu && setenv("PROCSUM_CPU", r->cpu, 1)) || (r->algo && setenv("PROCSUM_ALGO", r->algo, 1));
    free(preload);
    free(out);
    return bad ? psum_cli_fail("run: setting the environment", PROCSUM_ENOMEM) : 0;
}

/* 127 when there is no such program, 126 when it cannot be run: as a shell says it. */
static int exec_failed(const char *cmd, int err)
{
    char q[80];
    fprintf(stderr, "procsum: run: cannot run '%s': %s\n", psum_cli_quote(q, sizeof(q), cmd), strerror(err));
    return err == ENOENT ? 127 : 126;
}

typedef struct outside_run {
    psum_oneline_dest dest;
    long pid;
    const char *exe;
} outside_run;

static void on_change(const procsum_mismatch *m, void *userdata)
{
    const outside_run *o = userdata;
    psum_alert a = {.action = m->kind == PROCSUM_REPORT_CHANGED ? "code-changed" : "differs-from-file",
                    .pid = o->pid, .executable = o->exe, .region = m->region};
    psum_event_origin_now(&a.at);
    for (size_t i = 0; i < m->changed_pages; i++) {
        a.page = &m->page_changes[i];
        if (psum_oneline_alert(&o->dest, &a) != 0)
            break;
    }
}

/* A static CMD: started here, watched from outside until it ends. Returns its status as a shell gives it. */
static int run_outside(const run_args *r, const char *file)
{
    int ready[2]; /* closed by the exec; carries errno when it failed */
    if (pipe2(ready, O_CLOEXEC) != 0)
        return psum_cli_fail("run", PROCSUM_EMFILE);
    pid_t pid = fork();
    if (pid < 0)
        return psum_cli_fail("run: fork", PROCSUM_EAGAIN);
    if (pid == 0) {
        close(ready[0]);
        execv(file, r->cmd);
        int err = errno;
        (void)!write(ready[1], &err, sizeof(err));
        _exit(127);
    }
    close(ready[1]);
    /* The terminal's ^C and ^\ are for CMD; procsum waits for it to end, as a shell does. */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    int err = 0;
    ssize_t got;
    do
        got = read(ready[0], &err, sizeof(err));
    while (got < 0 && errno == EINTR);
    close(ready[0]);
    int status;
    if (got == (ssize_t)sizeof(err)) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        return exec_failed(r->cmd[0], err);
    }
    fprintf(stderr, "procsum: run: %s is statically linked and cannot take the preload library: "
                    "watching it from outside (pid %ld)\n", file, (long)pid);
    outside_run o = {.dest = {.path = r->json_file}, .pid = pid, .exe = file};
    procsum_options opts;
    procsum_options_init(&opts);
    opts.pid = pid;
    if (r->period)
        opts.check_period_ms = (unsigned)strtoul(r->period, NULL, 10);
    if (r->cpu)
        opts.max_cpu_percent = (unsigned)strtoul(r->cpu, NULL, 10);
    if (r->algo)
        (void)procsum_algorithm_parse(r->algo, &opts.algorithm);
    procsum_checker *c = NULL;
    int rc = procsum_start(&opts, on_change, &o, &c);
    if (rc) {
        psum_state s = {.action = "not-watched", .pid = pid, .executable = file, .status = "error", .error = rc};
        psum_event_origin_now(&s.at);
        (void)psum_oneline_state(&o.dest, &s);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    procsum_stop(c);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

/*
 * What the configuration file sets and the command line does not. The
 * values are checked as the options check them; they live in c.
 */
static int configure(run_args *r, psum_cli *c)
{
    static char period[16], cpu[16];
    psum_cli_init(c);
    if (r->no_config)
        return 0;
    int rc = psum_config_load(c, r->config, PSUM_OPT_PERIOD | PSUM_OPT_CPU | PSUM_OPT_ALGO | PSUM_OPT_JSON_FILE);
    if (rc)
        return rc;
    unsigned given = c->config.given;
    if (!r->period && (given & PSUM_OPT_PERIOD)) {
        snprintf(period, sizeof(period), "%u", c->opts.check_period_ms);
        r->period = period;
    }
    if (!r->cpu && (given & PSUM_OPT_CPU)) {
        snprintf(cpu, sizeof(cpu), "%u", c->opts.max_cpu_percent);
        r->cpu = cpu;
    }
    if (!r->algo && (given & PSUM_OPT_ALGO))
        r->algo = procsum_algorithm_name(c->opts.algorithm);
    if (!r->json_file && c->outputs.json_file)
        r->json_file = c->outputs.json_file;
    return 0;
}

int psum_run_main(int argc, char **argv)
{
    run_args r = {0};
    int rc = parse(argc, argv, &r);
    if (rc)
        return rc;
    /* Kept until exec or exit: the values the configuration gave live in it. */
    static psum_cli config;
    rc = configure(&r, &config);
    if (rc)
        return rc;
    rc = set_environment(&r);
    if (rc)
        return rc;
    char file[PATH_MAX];
    if (!find_program(r.cmd[0], file, sizeof(file)))
        return exec_failed(r.cmd[0], ENOENT);
    if (is_static_elf(file))
        return run_outside(&r, file);
    fflush(NULL);
    execvp(r.cmd[0], r.cmd);
    return exec_failed(r.cmd[0], errno);
}

int psum_cmd_run(const psum_cli *c, psum_writer *w)
{
    (void)c;
    (void)w;
    /* Reached only when options came before "run": run takes its own, after its name. */
    return usage();
}
