/*
 * libprocsum-preload.so: a checker in programs that were not built with
 * procsum, started through LD_PRELOAD and set up by PROCSUM_* variables
 * (docs/operating.md, "Programs you cannot relink").
 *
 * Loading it must cost next to nothing: most processes of a script end
 * within milliseconds, and loading libprocsum with its dependencies costs
 * a fork/exec-heavy script about a third of its time. So this library
 * links only the C library. Its constructor reads the environment and
 * arms a timer (os/linux/late_start.c): when the lazy delay is over, its
 * signal starts one small thread, every signal blocked, which dlopens
 * libprocsum and calls procsum_start through dlsym. A process that ends
 * sooner never has the thread, nor libprocsum: even a thread that only
 * sleeps would cost a fork/exec-heavy script a third of its time here.
 * Before loading libprocsum the thread gives the signal back, for
 * libprocsum's own copy of the timers.
 *
 * Where the timer cannot be used (the program handles or blocks SIGURG,
 * another architecture, PROCSUM_LAZY_THREAD=1), the thread starts at once
 * and sleeps the delay, on the CPU it was started on: it is pinned there
 * until its delay is over. A thread the scheduler may place anywhere
 * starts on the other CPU when that one is idle, and a process that ends
 * within the delay then pays for a wake-up across CPUs at its start and
 * another one at its end, when exit or exec must kill the thread. When the
 * delay is over it takes back the CPUs its creator was allowed, before any
 * of procsum's work.
 *
 * fork: the timer and the thread do not survive fork, so a child forked
 * before the delay is over arms its own (its delay counts from the fork);
 * once the checker runs, follow_fork gives each child a checker, which
 * starts when the same delay is over (follow_fork_delay_ms).
 * A fork while the thread is inside dlopen would hand the child the
 * loader's half-done work, so fork waits for that dlopen to end, at most
 * FORK_WAIT_S seconds: a fork made from inside another dlopen (a library
 * constructor that forks) holds the loader's lock that our dlopen needs,
 * and must not hang. After such a wait the child starts no checker.
 *
 * Nothing reaches the program's standard output or error unless
 * PROCSUM_OUTPUT=stderr asks for it. A refused setting, or a checker that
 * cannot start, is reported to the chosen output, and the program runs on.
 *
 * Outputs: a JSON lines file or standard error, written here one line per
 * write; or, under `procsum run`, a socket (PROCSUM_OUTPUT=socket:PATH)
 * where each event is one datagram (wire.h) and `procsum run` writes every
 * output it was given (the journal, a Prometheus textfile, ...): this
 * library stays small, and one writer keeps one file for the whole tree.
 * With a socket, the checker sends after each pass what it did (for the
 * metrics; options.pass_callback), in a forked child too; the thread ends
 * once the checker runs.
 *
 * PROCSUM_CHECKER=outside (what `procsum run` sets, unless --inside): the
 * checker is not in the process at all. When the delay is over, the
 * timer's handler sends one datagram asking `procsum run` to check this
 * process from outside, and that is all: no thread, no libprocsum, nothing
 * of procsum in the program's memory for it to pay for (a process with a
 * second thread takes the C library's slower fork for good) or for code
 * running in it to switch off. No fork handler either: run finds every
 * process of its tree by itself (a forked child that never execs, one
 * whose parent never asked, an orphan, which run adopts as the tree's
 * subreaper), so that a shell's every fork writes nothing here; the
 * request only has a new program checked sooner. A program that exec's
 * another keeps its checker (the watcher follows the exec) and asks again,
 * which changes nothing.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "oneline.h"
#include "os/linux/cpu_pin.h"
#include "os/linux/late_start.h"
#include "preload.h"
#include "signals.h"
#include "skip.h"
#include "wire.h"

#ifndef PSUM_PRELOAD_LIBPROCSUM
#define PSUM_PRELOAD_LIBPROCSUM "libprocsum.so.0"
#endif

enum { FORK_WAIT_S = 2, SEND_WAIT_S = 2, THREAD_STACK = 256 * 1024, WHY_MAX = 640 };

psum_preload_functions psum_preload_lib;

/*
 * The settings, copied out of the environment (the program may change it
 * later). Every page of it the constructor writes is a page fault in every
 * process, most of which end within milliseconds: what is always written
 * comes first and shares a page with `procsum run`'s socket and the start
 * of the JSON file's path; a buffer is written only for a variable that is
 * set.
 */
static struct {
    psum_oneline_dest dest;
    unsigned period_ms, cpu, lazy_ms, lazy_thread;
    bool outside; /* PROCSUM_CHECKER=outside: `procsum run` checks this process from outside */
    const char *library; /* PSUM_PRELOAD_LIBPROCSUM, or library_set */
    char algo[32];
    struct sockaddr_un socket; /* sun_path[0] == 0: no socket, lines to dest */
    char path[PATH_MAX];
    char library_set[PATH_MAX];
    psum_skip_list skip; /* PROCSUM_SKIP_FILES, split once: a forked child's waiter uses it as it is */
    char exe[PATH_MAX];  /* the program, read by the waiter: out of the small variables' page */
} cfg;

/* What the thread is doing; fork's handlers read it. */
enum { PHASE_IDLE, PHASE_WAITING, PHASE_LOADING, PHASE_STARTED };
static _Atomic int phase;
static pthread_mutex_t loading = PTHREAD_MUTEX_INITIALIZER; /* held across dlopen */
static bool fork_holds_loading;                             /* set by the prepare handler */
static cpu_set_t creator_cpus; /* what the waiter's creator was allowed; the waiter takes it back */
static bool pinned;             /* whether the waiter was started pinned */
static bool late;               /* the waiter was started by the timer: its delay is over */
static procsum_checker *checker;

/*
 * One datagram to `procsum run`; 0 or an errno. No descriptor is kept. A
 * full queue makes the sender wait, at most SEND_WAIT_S seconds: a
 * collector that stopped (SIGSTOP) must not hang the program for ever.
 */
static int send_event(const char *buf, size_t len)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    struct timeval wait = {.tv_sec = SEND_WAIT_S};
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof(wait));
    ssize_t n;
    do
        n = sendto(fd, buf, len, 0, (const struct sockaddr *)&cfg.socket, sizeof(cfg.socket));
    while (n < 0 && errno == EINTR);
    int err = n < 0 ? errno : 0;
    close(fd);
    return err;
}

/*
 * Outside: asks `procsum run` to check this process from now on. From the
 * timer's handler (late_start.h: system calls only) or the constructor.
 * A request that cannot be sent has nowhere to be reported; the process
 * runs on unchecked, as it would with no collector.
 */
static int ask_watcher(void *arg)
{
    (void)arg;
    char buf[PSUM_WIRE_WATCH_ME_MAX]; /* on the stack of whichever thread took the signal: small */
    (void)send_event(buf, psum_wire_watch_me(buf, getpid()));
    return 0;
}

/* Outside: the request when the delay is over; at once where no timer can wait for it (the watcher then starts at once). */
static void arm_watch_request(void)
{
    uint32_t id;
    if (cfg.lazy_ms == 0 || psum_late_arm(ask_watcher, NULL, (uint64_t)cfg.lazy_ms * 1000000u, &id) != 0)
        (void)ask_watcher(NULL);
}

static int emit_state(const psum_state *s)
{
    if (!cfg.socket.sun_path[0])
        return psum_oneline_state(&cfg.dest, s);
    char buf[PSUM_WIRE_MAX];
    return send_event(buf, psum_wire_state(buf, s));
}

static int emit_alert(const psum_alert *a)
{
    if (!cfg.socket.sun_path[0])
        return psum_oneline_alert(&cfg.dest, a);
    char buf[PSUM_WIRE_MAX];
    return send_event(buf, psum_wire_alert(buf, a));
}

/* A checker that did not start, and why; a failed write has nowhere to go. */
static void report_not_started(int err, const char *why)
{
    psum_state s = {.action = "not-watched", .pid = getpid(), .executable = cfg.exe[0] ? cfg.exe : NULL,
                    .status = "error", .error = err, .detail = why};
    psum_event_origin_now(&s.at);
    (void)emit_state(&s);
}

static void on_change(const procsum_mismatch *m, void *userdata)
{
    (void)userdata;
    psum_alert a = {.action = m->kind == PROCSUM_REPORT_CHANGED ? "code-changed" : "differs-from-file",
                    .pid = getpid(), /* a forked child's checker (follow_fork) calls this too */
                    .executable = cfg.exe[0] ? cfg.exe : NULL, .region = m->region};
    psum_event_origin_now(&a.at);
    for (size_t i = 0; i < m->changed_pages; i++) {
        a.page = &m->page_changes[i];
        if (emit_alert(&a) != 0)
            break;
    }
}

/* dlsym's object pointer into a function pointer, the way POSIX allows. */
#define RESOLVE(handle, field, name) resolve(handle, name, &psum_preload_lib.field, sizeof(psum_preload_lib.field))
static bool resolve(void *handle, const char *name, void *fn, size_t size)
{
    void *p = dlsym(handle, name);
    memcpy(fn, &p, size);
    return p != NULL;
}

static void sleep_ms(unsigned ms)
{
    struct timespec left = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&left, &left) != 0 && errno == EINTR)
        ;
}

/* The process whose checker was last said to run (emit_watching). */
static _Atomic pid_t announced;

/* The state line of a checker that runs: sent to `procsum run`, which counts it. */
static int emit_watching(void)
{
    atomic_store(&announced, getpid());
    psum_state s = {.action = "watching", .pid = getpid(), .executable = cfg.exe[0] ? cfg.exe : NULL, .status = "clean"};
    psum_event_origin_now(&s.at);
    return emit_state(&s);
}

/*
 * After each pass (options.pass_callback), what the checker did since the
 * last one, for `procsum run`'s metrics. A forked child's checker
 * (follow_fork) calls it too, with counters of its own: the first pass in
 * a process starts from zero and says first that the process is watched.
 */
static void on_pass(const procsum_stats *now, void *userdata)
{
    (void)userdata;
    static procsum_stats last;
    static pid_t last_pid;
    pid_t pid = getpid();
    if (pid != last_pid) {
        memset(&last, 0, sizeof(last));
        last_pid = pid;
    }
    if (atomic_load(&announced) != pid)
        (void)emit_watching();
    psum_pass p = {.passes = now->passes - last.passes, .pages_checked = now->pages_tracked,
                   .bytes_hashed = now->bytes_hashed - last.bytes_hashed, .duration_ns = now->last_pass_ns};
    last = *now;
    psum_event_origin at;
    psum_event_origin_now(&at);
    char buf[PSUM_WIRE_MAX];
    (void)send_event(buf, psum_wire_pass(buf, pid, &at, &p));
}

static void *waiter(void *arg)
{
    (void)arg;
    char why[WHY_MAX];
    if (!late)
        sleep_ms(cfg.lazy_ms);
    if (pinned)
        psum_linux_cpu_unpin(&creator_cpus);
    psum_late_release_signal();
    /*
     * From here on everything is procsum's work (loading libprocsum, the
     * first pass): at the lowest priority, so that it takes from the
     * program only what the program leaves. Not before: a process that
     * ends within the delay then exits with a thread of ordinary priority,
     * which the kernel finishes at once.
     */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);

    pthread_mutex_lock(&loading);
    atomic_store(&phase, PHASE_LOADING);
    void *h = dlopen(cfg.library, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(why, sizeof(why), "cannot load %.200s: %.300s", cfg.library, e ? e : "unknown error");
    }
    pthread_mutex_unlock(&loading);

    /* This thread's link: the first thread's shows nothing once it has ended (pthread_exit in main). */
    ssize_t n = readlink("/proc/thread-self/exe", cfg.exe, sizeof(cfg.exe) - 1);
    if (n <= 0)
        n = readlink("/proc/self/exe", cfg.exe, sizeof(cfg.exe) - 1);
    cfg.exe[n > 0 ? n : 0] = '\0';
    if (!h) {
        atomic_store(&phase, PHASE_IDLE);
        /* Not there (a path that does not exist, a name the loader did not find), or not a library it could load. */
        bool there = strchr(cfg.library, '/') && access(cfg.library, F_OK) == 0;
        report_not_started(there ? PROCSUM_EINVAL : PROCSUM_ENOENT, why);
        return NULL;
    }
    if (!RESOLVE(h, options_init, "procsum_options_init") || !RESOLVE(h, start, "procsum_start") ||
        !RESOLVE(h, algorithm_parse, "procsum_algorithm_parse") ||
        !RESOLVE(h, algorithm_name, "procsum_algorithm_name") || !RESOLVE(h, digest_len, "procsum_digest_len") ||
        !RESOLVE(h, get_stats, "procsum_get_stats")) {
        atomic_store(&phase, PHASE_IDLE);
        snprintf(why, sizeof(why), "%.200s lacks a procsum function this library needs (an older version?)",
                 cfg.library);
        report_not_started(PROCSUM_ENOSYS, why);
        return NULL;
    }
    procsum_options o;
    psum_preload_lib.options_init(&o);
    o.check_period_ms = cfg.period_ms ? cfg.period_ms : o.check_period_ms;
    o.max_cpu_percent = cfg.cpu;
    o.follow_fork = true;
    o.skip_files = cfg.skip.count ? cfg.skip.patterns : NULL; /* procsum_start copies it */
    /* The delay is over: the first pass runs at once, but on the checker's own thread, at its priority. */
    o.lazy_start = true;
    o.lazy_start_delay_ms = 0;
    o.follow_fork_delay_ms = cfg.lazy_ms;
    /* Under `procsum run`, every pass is counted, a forked child's too. */
    o.pass_callback = cfg.socket.sun_path[0] ? on_pass : NULL;
    o.lazy_start_thread = cfg.lazy_thread != 0;
    if (cfg.algo[0] && psum_preload_lib.algorithm_parse(cfg.algo, &o.algorithm) != 0) {
        atomic_store(&phase, PHASE_IDLE);
        snprintf(why, sizeof(why), "PROCSUM_ALGO='%s': use blake3, crc64 or xxh3", cfg.algo);
        report_not_started(PROCSUM_EINVAL, why);
        return NULL;
    }
    atomic_store(&phase, PHASE_STARTED);
    int err = psum_preload_lib.start(&o, on_change, NULL, &checker);
    if (err) {
        atomic_store(&phase, PHASE_IDLE);
        report_not_started(err, "procsum_start failed");
        return NULL;
    }
    if (cfg.socket.sun_path[0] && atomic_load(&announced) != getpid())
        (void)emit_watching();
    return NULL;
}

/*
 * Starts the waiting thread with every signal blocked, so that none meant
 * for the program lands on it. Also what the timer's signal handler calls
 * (late_start.c): nothing here but system calls and pthread_create.
 */
static int start_waiter(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    int err = pthread_attr_init(&attr);
    if (!err) {
        (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        (void)pthread_attr_setstacksize(&attr, THREAD_STACK);
        psum_late_ordinary_scheduling(&attr); /* a late start runs on whichever thread took the signal */
        pthread_t t;
        atomic_store(&phase, PHASE_WAITING);
        pinned = !late && psum_linux_cpu_pin(&creator_cpus); /* a waiter that waits inherits the pin (cpu_pin.c) */
        err = pthread_create(&t, &attr, waiter, NULL);
        if (pinned)
            psum_linux_cpu_unpin(&creator_cpus);
        if (err)
            atomic_store(&phase, PHASE_IDLE);
        pthread_attr_destroy(&attr);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

static int start_waiter_late(void *arg)
{
    (void)arg;
    late = true;
    int err = start_waiter();
    if (err)
        late = false;
    return err;
}

/* The waiter when the delay is over (the timer), or at once, sleeping the delay; 0 or an errno. */
static int arm_waiter(void)
{
    uint32_t id;
    late = false;
    if (!cfg.lazy_thread && cfg.lazy_ms > 0 && psum_late_arm(start_waiter_late, NULL, (uint64_t)cfg.lazy_ms * 1000000u, &id) == 0) {
        atomic_store(&phase, PHASE_WAITING);
        return 0;
    }
    return start_waiter();
}

/*
 * fork waits for a dlopen under way. Once the checker runs (or will never
 * load) there is nothing to wait for, and the handlers write nothing: a
 * page written in a fork is a page fault, in the parent and in the child.
 */
static bool loading_possible(void)
{
    int p = atomic_load(&phase);
    return p == PHASE_WAITING || p == PHASE_LOADING;
}

static void before_fork(void)
{
    if (!loading_possible()) {
        if (fork_holds_loading)
            fork_holds_loading = false;
        return;
    }
    fork_holds_loading = pthread_mutex_trylock(&loading) == 0;
    if (fork_holds_loading)
        return;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += FORK_WAIT_S;
    fork_holds_loading = pthread_mutex_timedlock(&loading, &until) == 0;
}

static void parent_after_fork(void)
{
    if (fork_holds_loading)
        pthread_mutex_unlock(&loading);
}

static void child_after_fork(void)
{
    if (fork_holds_loading) {
        pthread_mutex_unlock(&loading);
    } else if (loading_possible()) {
        /* Held by a thread the child does not have. */
        pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
        memcpy(&loading, &fresh, sizeof(loading));
    }
    int p = atomic_load(&phase);
    if (p == PHASE_WAITING)
        (void)arm_waiter(); /* a failure leaves the child without a checker; it was never promised one */
    else if (p == PHASE_LOADING)
        atomic_store(&phase, PHASE_IDLE);
}

/*
 * The PROCSUM_* variables, found in one walk of the environment: getenv
 * for each would walk it nine times, from a page of the C library that a
 * short program may not touch otherwise (a page fault in every process).
 */
enum { VAR_OUTPUT, VAR_JSON_FILE, VAR_LIBRARY, VAR_ALGO, VAR_SKIP_FILES, VAR_PERIOD_MS, VAR_CPU, VAR_LAZY_MS,
       VAR_LAZY_THREAD, VAR_CHECKER, VAR_COUNT };
/*
 * The words every process's constructor compares lie on the page of
 * relocated pointers that the loader has written already (.data.rel.ro),
 * not on a page of .rodata that nothing else of a short program reads: one
 * page fault less in every process.
 */
#define ON_LOADED_PAGE __attribute__((section(".data.rel.ro.psum_preload_words")))
static const char VAR_PREFIX[] ON_LOADED_PAGE = "PROCSUM_";
static const char OUTPUT_SOCKET[] ON_LOADED_PAGE = "socket:";
static const char CHECKER_INSIDE[] ON_LOADED_PAGE = "inside";
static const char CHECKER_OUTSIDE[] ON_LOADED_PAGE = "outside";
/* A name must stay under 32 characters: one of exactly 32 would be accepted without its terminating NUL. */
static const char var_names[VAR_COUNT][32] ON_LOADED_PAGE = {
    "PROCSUM_OUTPUT",    "PROCSUM_JSON_FILE", "PROCSUM_LIBRARY",     "PROCSUM_ALGO",   "PROCSUM_SKIP_FILES",
    "PROCSUM_PERIOD_MS", "PROCSUM_CPU",       "PROCSUM_LAZY_MS",     "PROCSUM_LAZY_THREAD", "PROCSUM_CHECKER"};

extern char **environ;

/* What follows prefix in s, or NULL when s does not start with it. */
static const char *after(const char *s, const char *prefix)
{
    for (; *prefix; prefix++, s++)
        if (*s != *prefix)
            return NULL;
    return s;
}

/* vars[i]: the value of var_names[i], or NULL; the first one set wins, as getenv's. */
static void read_environment(const char *vars[VAR_COUNT])
{
    for (size_t i = 0; i < VAR_COUNT; i++)
        vars[i] = NULL;
    for (char **e = environ; e && *e; e++) {
        bool ours = after(*e, VAR_PREFIX) != NULL;
        for (size_t i = 0; ours && i < VAR_COUNT; i++) {
            const char *v = after(*e, var_names[i]);
            if (v && *v == '=' && !vars[i])
                vars[i] = v + 1;
        }
    }
}

/* A decimal number in [min, max] from the variable var_names[var]; unset keeps *out. false (and why) when refused. */
static bool setting_number(const char *const vars[VAR_COUNT], int var, unsigned min, unsigned max, unsigned *out,
                           char *why, size_t cap)
{
    const char *v = vars[var];
    if (!v)
        return true;
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (v[0] < '0' || v[0] > '9' || *end || errno || n < min || n > max) {
        snprintf(why, cap, "%s='%.64s': a number from %u to %u", var_names[var], v, min, max);
        return false;
    }
    *out = (unsigned)n;
    return true;
}

/* Copies src into dst[cap]; false when it does not fit. A byte at a time: the paths are short, and a call to memcpy here would be the only one in many programs. */
static bool copy(char *dst, size_t cap, const char *src)
{
    for (size_t i = 0; i < cap; i++)
        if ((dst[i] = src[i]) == '\0')
            return true;
    if (cap)
        dst[0] = '\0';
    return false;
}

/* PROCSUM_CHECKER: inside (the default) or outside, which needs `procsum run`'s socket. false (and why) when refused. */
static bool setting_checker(const char *const vars[VAR_COUNT], char *why, size_t cap)
{
    const char *v = vars[VAR_CHECKER];
    if (!v || !*v || strcmp(v, CHECKER_INSIDE) == 0)
        return true;
    if (strcmp(v, CHECKER_OUTSIDE) == 0 && cfg.socket.sun_path[0]) {
        cfg.outside = true;
        return true;
    }
    snprintf(why, cap, "%s='%.64s': inside, or outside under procsum run (PROCSUM_OUTPUT=socket:PATH)",
             var_names[VAR_CHECKER], v);
    return false;
}

/* The chosen output; false when there is none (or none that could be used: nowhere to say so). */
static bool setting_output(const char *const vars[VAR_COUNT])
{
    const char *out = vars[VAR_OUTPUT], *file = vars[VAR_JSON_FILE];
    static const char PREFIX[] = "json-file:";
    const char *path = out ? after(out, OUTPUT_SOCKET) : NULL;
    if (path) {
        /* Set by procsum run, always absolute. */
        cfg.socket.sun_family = AF_UNIX;
        return path[0] == '/' && copy(cfg.socket.sun_path, sizeof(cfg.socket.sun_path), path);
    }
    if (!out || !*out) {
        if (!file || !*file)
            return false;
    } else if (strcmp(out, "stderr") == 0) {
        cfg.dest.path = NULL;
        return true;
    } else if ((path = after(out, PREFIX)) != NULL && *path) {
        file = path;
    } else {
        return false; /* "none", or a value that names no output */
    }
    /* Relative to where the process started, not to wherever it goes later. */
    size_t used = 0;
    if (file[0] != '/') {
        if (!getcwd(cfg.path, sizeof(cfg.path) - 1))
            return false;
        used = strlen(cfg.path);
        cfg.path[used++] = '/';
    }
    if (!copy(cfg.path + used, sizeof(cfg.path) - used, file))
        return false;
    cfg.dest.path = cfg.path;
    return true;
}

__attribute__((constructor)) static void psum_preload_init(void)
{
    const char *vars[VAR_COUNT];
    read_environment(vars);
    if (!setting_output(vars))
        return;
    char why[WHY_MAX];
    cfg.lazy_ms = 100;
    const char *lib = vars[VAR_LIBRARY];
    const char *algo = vars[VAR_ALGO];
    const char *skip = vars[VAR_SKIP_FILES]; /* the list in cfg is empty (zeroed) until parsed */
    if (!setting_number(vars, VAR_PERIOD_MS, 1, 86400000u, &cfg.period_ms, why, sizeof(why)) ||
        !setting_number(vars, VAR_CPU, 1, 100, &cfg.cpu, why, sizeof(why)) ||
        !setting_number(vars, VAR_LAZY_MS, 0, 86400000u, &cfg.lazy_ms, why, sizeof(why)) ||
        !setting_number(vars, VAR_LAZY_THREAD, 0, 1, &cfg.lazy_thread, why, sizeof(why)) ||
        !setting_checker(vars, why, sizeof(why)) ||
        (skip && *skip && !psum_skip_parse(&cfg.skip, skip, why, sizeof(why)))) {
        report_not_started(PROCSUM_EINVAL, why);
        return;
    }
    cfg.library = PSUM_PRELOAD_LIBPROCSUM;
    if (lib && *lib) {
        if (!copy(cfg.library_set, sizeof(cfg.library_set), lib)) {
            report_not_started(PROCSUM_EINVAL, "PROCSUM_LIBRARY: the path is too long");
            return;
        }
        cfg.library = cfg.library_set;
    }
    if (algo && !copy(cfg.algo, sizeof(cfg.algo), algo)) {
        snprintf(why, sizeof(why), "PROCSUM_ALGO='%.31s...': use blake3, crc64 or xxh3", algo);
        report_not_started(PROCSUM_EINVAL, why);
        return;
    }
    psum_preload_keep_signals();
    if (cfg.outside) {
        /* No fork handlers: run finds every process of its tree by itself, and a fork here writes nothing. */
        (void)psum_late_prepare();
        arm_watch_request();
        return;
    }
    if (pthread_atfork(before_fork, parent_after_fork, child_after_fork) != 0) {
        report_not_started(PROCSUM_ENOMEM, "cannot register the fork handlers");
        return;
    }
    if (!cfg.lazy_thread)
        (void)psum_late_prepare();
    int err = arm_waiter();
    if (err) {
        snprintf(why, sizeof(why), "cannot start a thread: %s", strerror(err));
        report_not_started(PROCSUM_EAGAIN, why);
    }
}
