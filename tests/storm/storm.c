/*
 * storm: procsum inside a process that behaves like a hostile, busy one.
 *
 * A checker runs with follow_fork, verify_file and a 1 ms period while,
 * for --seconds N (default 120), threads at once:
 *  - dlopen and dlclose the small libraries built from tests/stress_lib.c,
 *    in turn and overlapping, so that each lands where another just was;
 *  - churn anonymous code: map pages RW or RWX, write code, make them RX,
 *    call it, unmap them, or map the same addresses again with MAP_FIXED;
 *  - fork children that check their own follow_fork checker once and stop
 *    it; fork children that exec /bin/true; posix_spawn /bin/true;
 *  - call procsum_check_now() on the parent's checker, watched by the main
 *    thread: a call that has not returned after 30 s is a hang.
 *
 * Nothing here changes code on purpose, so every report is false. Two
 * facts keep it so. Libraries are known by their files, so another library
 * at an old address is other content, not a change. Anonymous code has no
 * identity but its address (docs/limits.md), so the code written in a page
 * is a function of that page's address only: whatever is mapped at an
 * address is always the same code, or zeros while it is being written
 * (not executable then), or nothing.
 *
 * Children are reaped with a deadline (and carry an alarm() of their own):
 * a child past it is a hang (its stacks are shown with gdb when gdb is
 * there), a child killed by a signal is a crash. The last line sums it up;
 * the exit status is non-zero on any crash, hang, report or error, and when
 * a job never ran or the checker made fewer passes than seconds.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procsum.h"

extern char **environ;

#define PAGE ((uintptr_t)PROCSUM_PAGE_SIZE)
#define DEFAULT_SECONDS 120u
#define CHECK_HANG_S 30       /* the parent's procsum_check_now() must return within this */
#define CHILD_DEADLINE_S 45   /* a child not reaped by then is killed and counted as hung (procsum's own bound: 30 s) */
#define CHILD_ALARM_S 60      /* each child's own limit, should the parent not kill it */
#define SLOTS 8               /* fixed addresses that anonymous code is mapped at again and again */
#define SLOT_PAGES 2
#define CHILD_NO_CHECKER 10   /* exit codes of a forked child */
#define CHILD_CHECK_FAILED 11
#define CHILD_STOP_FAILED 12
#define CHILD_COULD_NOT_RUN 13 /* its checker could not make a pass: PROCSUM_EAGAIN */
#define CHILD_REPORTED 100   /* and up: 100 + the reports the child's checker made (at most 100) */

static procsum_checker *checker;
static atomic_bool stopping;
static atomic_ulong dl_cycles, anon_cycles, forks, execs, spawns, checks;
static atomic_ulong crashes, hangs, errors;
static atomic_ulong reports_here, child_reports; /* reports_here: in this process, whichever it is */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

/* One line to stderr in one write(), so that lines of threads and children do not mix. */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) - 1 ? (size_t)n : sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

static void error_at(const char *what, int err)
{
    atomic_fetch_add(&errors, 1);
    say("storm: error: %s: %s", what, strerror(err));
}

/* ---------------------------------------------------------------- reports */

/* Every report is false here: count it, and show all that it says. */
static void on_report(const procsum_mismatch *m, void *userdata)
{
    (void)userdata;
    atomic_fetch_add(&reports_here, 1);
    const procsum_region *r = m->region;
    say("storm: FALSE REPORT in process %ld: %s, region %s (%s) [%#lx, %#lx) offset %#llx, %zu page(s) from %#lx, "
        "digest_is_page %d",
        (long)getpid(), procsum_report_kind_name(m->kind), r->source, procsum_region_kind_name(r->kind),
        (unsigned long)r->start, (unsigned long)r->end, (unsigned long long)r->file_offset, m->changed_pages,
        (unsigned long)m->first_changed_page, m->digest_is_page);
    for (size_t i = 0; i < m->changed_pages && m->page_changes; i++) {
        const procsum_page_change *pc = &m->page_changes[i];
        say("storm:   page %#lx (file offset %#llx): verdict %s, file %s, %zu byte(s) / %zu bit(s) in %zu run(s)%s",
            (unsigned long)pc->addr, (unsigned long long)pc->file_offset, procsum_verdict_name(pc->verdict),
            procsum_file_status_name(pc->file_status), pc->changed_bytes, pc->changed_bits, pc->total_runs,
            pc->run_count ? "; first run:" : "");
        if (pc->run_count) {
            const procsum_byte_run *run = &pc->runs[0];
            char old_hex[2 * PROCSUM_RUN_BYTES + 1] = "", new_hex[2 * PROCSUM_RUN_BYTES + 1] = "";
            for (size_t b = 0; b < run->len && b < PROCSUM_RUN_BYTES; b++) {
                snprintf(old_hex + 2 * b, 3, "%02x", run->old_bytes[b]);
                snprintf(new_hex + 2 * b, 3, "%02x", run->new_bytes[b]);
            }
            say("storm:     %zu byte(s) at %#lx: file %s, memory %s", run->len, (unsigned long)run->addr, old_hex,
                new_hex);
        }
    }
}

/* ---------------------------------------------------------------- libraries */

/* The libraries built from tests/stress_lib.c: tests/storm/meson.build passes their paths. */
static const char *const libs[] = {STORM_LIBS};
#define LIB_COUNT (sizeof(libs) / sizeof(libs[0]))

/* Opens library i and runs its code; its answer says that the right code ran. */
static void *open_lib(size_t i)
{
    void *h = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        atomic_fetch_add(&errors, 1);
        const char *e = dlerror();
        say("storm: error: dlopen %s: %s", libs[i], e ? e : "?");
        return NULL;
    }
    void *id_sym = dlsym(h, "stress_lib_id"), *run_sym = dlsym(h, "stress_lib_run");
    int (*id_fn)(void) = NULL, (*run_fn)(int) = NULL;
    memcpy(&id_fn, &id_sym, sizeof(id_fn));
    memcpy(&run_fn, &run_sym, sizeof(run_fn));
    if (!id_fn || !run_fn || id_fn() != (int)i + 1 || run_fn(1) < 0) {
        atomic_fetch_add(&errors, 1);
        say("storm: error: %s answered wrongly", libs[i]);
    }
    return h;
}

static void close_lib(void *h, size_t i)
{
    if (h && dlclose(h) != 0) {
        atomic_fetch_add(&errors, 1);
        const char *e = dlerror();
        say("storm: error: dlclose %s: %s", libs[i], e ? e : "?");
    }
}

/* Forwards one at a time, then backwards two at a time, so that the addresses each lands at keep changing. */
static void *dl_thread(void *arg)
{
    (void)arg;
    while (!atomic_load(&stopping)) {
        for (size_t i = 0; i < LIB_COUNT; i++) {
            close_lib(open_lib(i), i);
            atomic_fetch_add(&dl_cycles, 1);
        }
        void *held = NULL;
        size_t held_i = 0;
        for (size_t k = 0; k < LIB_COUNT; k++) {
            size_t i = LIB_COUNT - 1 - k;
            void *h = open_lib(i);
            close_lib(held, held_i);
            held = h;
            held_i = i;
            atomic_fetch_add(&dl_cycles, 1);
        }
        close_lib(held, held_i);
    }
    return NULL;
}

/* ------------------------------------------------------------ anonymous code */

/* The value the code at page `p` returns: a function of the address only. */
static uint32_t page_value(uintptr_t p)
{
    return (uint32_t)((p / PAGE) & 0xffffu);
}

/* Writes, at the start of each page, a function returning page_value(page). */
static void write_code(uint8_t *p, size_t pages)
{
    for (size_t i = 0; i < pages; i++) {
        uint8_t *at = p + i * PAGE;
        uint32_t v = page_value((uintptr_t)at);
#if defined(__x86_64__) || defined(__i386__)
        uint8_t code[] = {0xb8, (uint8_t)v, (uint8_t)(v >> 8), 0, 0, 0xc3}; /* mov eax, v; ret */
#elif defined(__aarch64__)
        uint32_t insn[] = {0x52800000u | (v << 5), 0xd65f03c0u}; /* movz w0, v; ret */
        uint8_t code[sizeof(insn)];
        memcpy(code, insn, sizeof(insn));
#else
        uint8_t code[] = {(uint8_t)v, (uint8_t)(v >> 8)}; /* not run: only its bytes matter */
#endif
        memcpy(at, code, sizeof(code));
    }
}

/* Runs the code of each page (where this architecture's code is written) and checks its answer. */
static void call_code(uint8_t *p, size_t pages)
{
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
    for (size_t i = 0; i < pages; i++) {
        uint8_t *at = p + i * PAGE;
        __builtin___clear_cache((char *)at, (char *)at + 16);
        int (*fn)(void);
        memcpy(&fn, &at, sizeof(fn));
        if ((uint32_t)fn() != page_value((uintptr_t)at)) {
            atomic_fetch_add(&errors, 1);
            say("storm: error: anonymous code at %p answered wrongly", (void *)at);
        }
    }
#else
    (void)p;
    (void)pages;
#endif
}

/* Code in fresh pages at an address the kernel picks: written RW (or RWX), made RX, run, unmapped. */
static void anon_fresh(size_t pages, bool rwx)
{
    size_t len = pages * PAGE;
    int prot = PROT_READ | PROT_WRITE | (rwx ? PROT_EXEC : 0);
    uint8_t *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        error_at("mmap", errno);
        return;
    }
    write_code(p, pages);
    if (mprotect(p, len, PROT_READ | PROT_EXEC) != 0)
        error_at("mprotect", errno);
    else
        call_code(p, pages);
    if (munmap(p, len) != 0)
        error_at("munmap", errno);
}

/* Code mapped again at a slot of the reserved area, over whatever was there. */
static void anon_fixed(uint8_t *slot, bool rwx)
{
    size_t len = SLOT_PAGES * PAGE;
    int prot = PROT_READ | PROT_WRITE | (rwx ? PROT_EXEC : 0);
    if (mmap(slot, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
        error_at("mmap MAP_FIXED", errno);
        return;
    }
    write_code(slot, SLOT_PAGES);
    if (mprotect(slot, len, PROT_READ | PROT_EXEC) != 0)
        error_at("mprotect", errno);
    else
        call_code(slot, SLOT_PAGES);
}

/* A slot back to an unreadable placeholder: unmapped, without a hole that another mapping could take. */
static void anon_release(uint8_t *slot)
{
    if (mmap(slot, SLOT_PAGES * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) ==
        MAP_FAILED)
        error_at("mmap PROT_NONE", errno);
}

static void *anon_thread(void *arg)
{
    uint8_t *area = arg;
    for (unsigned long i = 0; !atomic_load(&stopping); i++) {
        uint8_t *slot = area + (i / 4 % SLOTS) * SLOT_PAGES * PAGE;
        switch (i % 4) {
        case 0:
            anon_fresh(1 + i / 4 % 3, (i / 4) & 1);
            break;
        case 1: /* stays mapped until this slot's next turn, long enough to get baselines */
            anon_fixed(slot, (i / 4) & 1);
            break;
        case 2: /* the same code mapped again over itself */
            if ((i / 4) % 3 == 0)
                anon_fixed(slot, false);
            break;
        case 3:
            if ((i / 4) % 5 == 0)
                anon_release(slot);
            break;
        }
        atomic_fetch_add(&anon_cycles, 1);
    }
    return NULL;
}

/* ---------------------------------------------------------------- children */

/* Shows a hung child's stacks (when gdb is there) before it is killed. */
static void show_stacks(pid_t pid)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "gdb -p %ld -batch -nx -ex 'thread apply all bt' </dev/null 1>&2 2>/dev/null",
             (long)pid);
    if (access("/usr/bin/gdb", X_OK) == 0 && system(cmd) != 0)
        say("storm: gdb could not show the stacks of %ld", (long)pid);
}

/* Waits for a child until the deadline; sorts out how it ended. `what` names it in messages. */
static void reap(pid_t pid, const char *what)
{
    double deadline = now_s() + CHILD_DEADLINE_S;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            error_at("waitpid", errno);
            return;
        }
        if (now_s() > deadline) {
            atomic_fetch_add(&hangs, 1);
            say("storm: HANG: %s child %ld still running after %d s; its stacks:", what, (long)pid, CHILD_DEADLINE_S);
            show_stacks(pid);
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            return;
        }
        sleep_ms(1);
    }
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        atomic_fetch_add(sig == SIGALRM ? &hangs : &crashes, 1);
        say("storm: %s: %s child %ld killed by signal %d (%s)", sig == SIGALRM ? "HANG" : "CRASH", what, (long)pid,
            sig, strsignal(sig));
        return;
    }
    int code = WEXITSTATUS(status);
    if (code >= CHILD_REPORTED) {
        atomic_fetch_add(&child_reports, (unsigned long)(code - CHILD_REPORTED)); /* the child showed them */
    } else if (code != 0) {
        /* Also in sanitizer builds, whose allocator a child may inherit locked: a child's pass never needs it. */
        atomic_fetch_add(&errors, 1);
        say("storm: error: %s child %ld exited with %d%s", what, (long)pid, code,
            code == CHILD_NO_CHECKER     ? " (procsum_forked gave no checker)"
            : code == CHILD_CHECK_FAILED ? " (procsum_check_now failed)"
            : code == CHILD_STOP_FAILED  ? " (procsum_stop failed)"
            : code == CHILD_COULD_NOT_RUN ? " (procsum_check_now: PROCSUM_EAGAIN, its checker made no pass)"
                                         : "");
    }
}

/* A forked child: a little work, one check by its own checker, which must answer and stop. */
static __attribute__((noreturn)) void child_main(void)
{
    alarm(CHILD_ALARM_S);
    /* No allocation of its own: a hang here can only be the checker's. */
    volatile unsigned acc = 1;
    for (unsigned i = 0; i < 100000; i++)
        acc = acc * 31u + i;
    volatile char buf[16 << 10];
    for (size_t i = 0; i < sizeof(buf); i += 64)
        buf[i] = (char)acc;
    procsum_checker *mine = procsum_forked(checker);
    if (!mine)
        _exit(CHILD_NO_CHECKER);
    int r = procsum_check_now(mine);
    if (r == PROCSUM_EAGAIN)
        _exit(CHILD_COULD_NOT_RUN);
    if (r < 0) {
        say("storm: child %ld: procsum_check_now: %s", (long)getpid(), procsum_strerror(r));
        _exit(CHILD_CHECK_FAILED);
    }
    uint64_t reports = procsum_mismatch_count(mine);
    if (procsum_stop(mine) != 0)
        _exit(CHILD_STOP_FAILED);
    _exit(reports ? CHILD_REPORTED + (int)(reports < 100 ? reports : 100) : 0);
}

/* A child that execs /bin/true, with its alarm still set there. */
static __attribute__((noreturn)) void exec_child(void)
{
    alarm(CHILD_ALARM_S); /* kept across execve */
    char *argv[] = {(char *)"/bin/true", NULL};
    execve(argv[0], argv, environ);
    _exit(127);
}

/* Forks children that run `in_child`, one at a time, until the end. */
static void fork_loop(void (*in_child)(void), atomic_ulong *count, const char *what)
{
    while (!atomic_load(&stopping)) {
        pid_t pid = fork();
        if (pid < 0) {
            error_at("fork", errno);
            sleep_ms(10);
            continue;
        }
        if (pid == 0)
            in_child();
        atomic_fetch_add(count, 1);
        reap(pid, what);
    }
}

static void *fork_thread(void *arg)
{
    (void)arg;
    fork_loop(child_main, &forks, "forked");
    return NULL;
}

static void *exec_thread(void *arg)
{
    (void)arg;
    fork_loop(exec_child, &execs, "exec");
    return NULL;
}

static void *spawn_thread(void *arg)
{
    (void)arg;
    while (!atomic_load(&stopping)) {
        pid_t pid;
        char *argv[] = {(char *)"/bin/true", NULL};
        int err = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
        if (err) {
            error_at("posix_spawn", err);
            sleep_ms(10);
            continue;
        }
        atomic_fetch_add(&spawns, 1);
        reap(pid, "spawned");
    }
    return NULL;
}

/* ------------------------------------------------------- the parent's checks */

/* The caller of procsum_check_now() and the watchdog share this. */
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cond;
static bool in_check;
static unsigned long checks_done;

static void *check_thread(void *arg)
{
    (void)arg;
    while (!atomic_load(&stopping)) {
        pthread_mutex_lock(&watch_lock);
        in_check = true;
        pthread_mutex_unlock(&watch_lock);
        int r = procsum_check_now(checker);
        pthread_mutex_lock(&watch_lock);
        in_check = false;
        checks_done++;
        pthread_cond_broadcast(&watch_cond);
        pthread_mutex_unlock(&watch_lock);
        if (r < 0) {
            atomic_fetch_add(&errors, 1);
            say("storm: error: procsum_check_now: %s", procsum_strerror(r));
        }
        atomic_fetch_add(&checks, 1);
        sleep_ms(5);
    }
    return NULL;
}

/*
 * Until `until` (monotonic seconds): if a check has been running for
 * CHECK_HANG_S with no call returning, shows this process's stacks and
 * exits: the hung thread cannot be joined.
 */
static void watch(double until)
{
    pthread_mutex_lock(&watch_lock);
    unsigned long seen = checks_done;
    double since = now_s();
    while (now_s() < until) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_nsec += 100 * 1000000L;
        if (t.tv_nsec >= 1000000000L) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000L;
        }
        int err = pthread_cond_timedwait(&watch_cond, &watch_lock, &t);
        if (err != 0 && err != ETIMEDOUT) {
            pthread_mutex_unlock(&watch_lock);
            error_at("pthread_cond_timedwait", err);
            return;
        }
        if (checks_done != seen || !in_check) {
            seen = checks_done;
            since = now_s();
        } else if (now_s() - since > CHECK_HANG_S) {
            pthread_mutex_unlock(&watch_lock);
            say("storm: HANG: the parent's procsum_check_now has not returned for %d s; stacks:", CHECK_HANG_S);
            show_stacks(getpid());
            say("storm: 1 hang");
            _exit(2);
        }
    }
    pthread_mutex_unlock(&watch_lock);
}

/* ------------------------------------------------------------------- main */


static unsigned parse_seconds(int argc, char **argv)
{
    unsigned seconds = DEFAULT_SECONDS;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        unsigned long v = 0;
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            errno = 0;
            v = strtoul(argv[++i], &end, 10);
        }
        if (!end || *end != '\0' || errno != 0 || v == 0 || v > 24ul * 3600) {
            fprintf(stderr, "usage: %s [--seconds N]   (default %u s)\n", argv[0],
                    DEFAULT_SECONDS);
            exit(2);
        }
        seconds = (unsigned)v;
    }
    return seconds;
}

int main(int argc, char **argv)
{
    unsigned seconds = parse_seconds(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);

    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&watch_cond, &ca) != 0) {
        fprintf(stderr, "storm: cannot set up a monotonic condition variable\n");
        return 1;
    }
    uint8_t *area = mmap(NULL, SLOTS * SLOT_PAGES * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (area == MAP_FAILED) {
        perror("storm: mmap");
        return 1;
    }

    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = 1;
    o.follow_fork = true;
    o.verify_file = true;
    /* At the lowest priority the checker would hardly run beside six busy threads; at normal it races them. */
    o.low_priority = false;
    int err = procsum_start(&o, on_report, NULL, &checker);
    if (err) {
        fprintf(stderr, "storm: procsum_start: %s\n", procsum_strerror(err));
        return 1;
    }
    printf("storm: %u s, period 1 ms, follow_fork, verify_file, %zu libraries, pid %ld\n", seconds, LIB_COUNT,
           (long)getpid());

    void *(*jobs[])(void *) = {dl_thread, anon_thread, fork_thread, exec_thread, spawn_thread, check_thread};
    enum { JOBS = sizeof(jobs) / sizeof(jobs[0]) };
    pthread_t threads[JOBS];
    for (size_t i = 0; i < JOBS; i++) {
        err = pthread_create(&threads[i], NULL, jobs[i], area);
        if (err) {
            fprintf(stderr, "storm: pthread_create: %s\n", strerror(err));
            return 1;
        }
    }

    double start = now_s();
    watch(start + seconds);
    atomic_store(&stopping, true);
    for (size_t i = 0; i < JOBS; i++)
        pthread_join(threads[i], NULL);
    double elapsed = now_s() - start;

    /* A few more passes, so that anything read once before the threads stopped is settled: reported or not. */
    for (int i = 0; i < 5; i++) {
        err = procsum_check_now(checker);
        if (err < 0)
            error_at("procsum_check_now", -err);
    }
    procsum_stats s;
    if (procsum_get_stats(checker, &s) != 0)
        memset(&s, 0, sizeof(s));
    uint64_t counted = procsum_mismatch_count(checker);
    err = procsum_stop(checker);
    if (err) {
        atomic_fetch_add(&errors, 1);
        say("storm: error: procsum_stop: %s", procsum_strerror(err));
    }
    munmap(area, SLOTS * SLOT_PAGES * PAGE);

    printf("storm: checker: %llu passes (%llu slow), last pass %.2f ms, CPU %.1f s, %llu pages tracked, "
           "%llu reports counted, last error %s\n",
           (unsigned long long)s.passes, (unsigned long long)s.slow_passes, (double)s.last_pass_ns / 1e6,
           (double)s.cpu_ns / 1e9, (unsigned long long)s.pages_tracked, (unsigned long long)counted,
           s.last_error ? procsum_err_name(s.last_error) : "none");
    unsigned long parent_reports = atomic_load(&reports_here);
    if (counted != parent_reports) {
        atomic_fetch_add(&errors, 1);
        say("storm: error: the checker counted %llu reports, the callback saw %lu", (unsigned long long)counted,
            parent_reports);
    }
    /* A storm that did not blow proves nothing: every job, and the checker, must have run. */
    const struct {
        const char *what;
        unsigned long count;
    } ran[] = {{"dlopen cycles", atomic_load(&dl_cycles)}, {"anon cycles", atomic_load(&anon_cycles)},
               {"forks", atomic_load(&forks)},             {"execs", atomic_load(&execs)},
               {"spawns", atomic_load(&spawns)},           {"checks", atomic_load(&checks)}};
    for (size_t i = 0; i < sizeof(ran) / sizeof(ran[0]); i++) {
        if (ran[i].count == 0) {
            atomic_fetch_add(&errors, 1);
            say("storm: error: no %s in %u s", ran[i].what, seconds);
        }
    }
    /* At a 1 ms period: a pass a second is far below what a loaded machine still makes. */
    if (s.passes < seconds) {
        atomic_fetch_add(&errors, 1);
        say("storm: error: the checker made %llu passes in %u s", (unsigned long long)s.passes, seconds);
    }
    if (s.last_error != 0) {
        atomic_fetch_add(&errors, 1);
        say("storm: error: the checker's last pass failed: %s", procsum_err_name(s.last_error));
    }
    unsigned long bad_reports = parent_reports + atomic_load(&child_reports);
    printf("storm: %.0f s, %lu dlopen cycles, %lu anon cycles, %lu forks, %lu execs, %lu spawns, %lu checks, "
           "%lu crashes, %lu hangs, %lu false reports, %lu errors\n",
           elapsed, atomic_load(&dl_cycles), atomic_load(&anon_cycles), atomic_load(&forks), atomic_load(&execs),
           atomic_load(&spawns), atomic_load(&checks), atomic_load(&crashes), atomic_load(&hangs), bad_reports,
           atomic_load(&errors));
    bool failed = atomic_load(&crashes) || atomic_load(&hangs) || bad_reports || atomic_load(&errors);
    return failed ? 1 : 0;
}
