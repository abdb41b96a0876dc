/*
 * What the benchmark programs share, so that each of them reads as what it
 * measures: clocks, statistics over samples, figures about this process and
 * the machine, a growing text buffer, and writing the generated part of a
 * docs page. One file per group: clock.c, stats.c, host.c, text.c, files.c.
 *
 * Linux only, like the benchmarks. Functions that read /proc return -1 (or
 * false) when a figure is not known rather than stopping the run: a
 * benchmark leaves the figure out and goes on.
 */
#ifndef PSUM_BENCH_UTIL_H
#define PSUM_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>

#define BENCH_MIB (1024.0 * 1024.0)

/* ------------------------------------------------------------------ libs.c */

/*
 * The libraries that make a process realistic: libLLVM-15, libz3, Mesa's
 * swrast_dri, libx265 and liblapack (about 177 MB of executable code with
 * their dependencies). Loaded with RTLD_LAZY | RTLD_LOCAL and never called.
 */
#define BENCH_N_LIBS 5

typedef struct bench_lib {
    const char *name;    /* short */
    const char *package; /* Debian */
    const char *path;
} bench_lib;

extern const bench_lib BENCH_LIBS[BENCH_N_LIBS];

/* ------------------------------------------------------------------ clock.c */

/* CLOCK_MONOTONIC in seconds (0 if the clock cannot be read). */
double bench_now_s(void);

/*
 * CPU time of the calling thread in seconds. Throughput figures use it
 * rather than wall time: the machine is shared, and time spent waiting for
 * a CPU is no part of a computation's cost.
 */
double bench_thread_cpu_s(void);

/* Sleeps s seconds (nothing if s <= 0), resuming after signals. */
void bench_sleep_s(double s);

/* s seconds as a timespec (a duration, or a point on a clock). */
struct timespec bench_timespec(double s);

/* A timeval (as in struct rusage) in seconds. */
double bench_timeval_s(struct timeval tv);

/* ------------------------------------------------------------------ stats.c */

/* Over v[0..n); each returns -1 when n <= 0 (median also if it cannot allocate its sorted copy). */
double bench_median(const double *v, int n);
double bench_min(const double *v, int n);
double bench_max(const double *v, int n);
double bench_mean(const double *v, int n);

/* ------------------------------------------------------------------ host.c */

typedef struct bench_cpu {
    char name[256]; /* "model name" from /proc/cpuinfo, or "unknown CPU" */
    bool avx2, avx512;
} bench_cpu;

void bench_cpu_info(bench_cpu *cpu);

/* The machine as a report's heading names it: cores online, kernel release, the date in UTC. */
typedef struct bench_host {
    bench_cpu cpu;
    long cores;
    char kernel[128];
    char date[64];
} bench_host;

void bench_host_info(bench_host *h);

/* VmRSS, RssFile, RssAnon and VmHWM of this process, in kB; -1: not known. */
typedef struct bench_mem_status {
    long rss_kb, file_kb, anon_kb, hwm_kb;
} bench_mem_status;

/* Fills m from /proc/self/status; 0, or -1 if VmRSS could not be read. */
int bench_read_mem_status(bench_mem_status *m);

/* Resets VmHWM to the current RSS (Linux >= 4.0: "5" to clear_refs); false if it could not. */
bool bench_reset_hwm(void);

/* The thread ids of this process, at most cap of them; how many, or -1. */
int bench_list_tasks(pid_t *tids, int cap);

/* The thread in `after` that is not in `before`: -1 if none, -2 if several. */
pid_t bench_new_task(const pid_t *before, int n_before, const pid_t *after, int n_after);

/* CPU time of one thread of this process in ns, from the kernel's schedstat; -1 if unknown. */
double bench_task_cpu_ns(pid_t tid);

/* ------------------------------------------------------------------ text.c */

/* A growing, NUL-terminated text; zero-initialise it, free it with bench_text_free. */
typedef struct bench_text {
    char *p;
    size_t len, cap;
} bench_text;

/* Appends; on allocation failure the text stays as it was. */
__attribute__((format(printf, 2, 3))) void bench_printf(bench_text *t, const char *fmt, ...);

/* The text so far ("" while empty). */
const char *bench_text_str(const bench_text *t);

void bench_text_free(bench_text *t);

/* ------------------------------------------------------------------ files.c */

/* Writes all of buf to fd, resuming after signals; 0 or -1. */
int bench_write_all(int fd, const void *buf, size_t n);

/* Reads until EOF or n bytes, resuming after signals; the count read, or -1. */
ssize_t bench_read_all(int fd, void *buf, size_t n);

/* Writes text as the whole of path; 0, or -1 after saying why on stderr. */
int bench_write_file(const char *path, const char *text);

/*
 * Puts `generated` (which starts with begin_mark and ends with end_mark and
 * a newline) in place of the part of the page at path between begin_mark
 * and the end of the line of end_mark, keeping the notes around it. A page
 * without the markers is written anew as `head` followed by `generated`.
 * 0, or -1 after saying why on stderr.
 */
int bench_write_section(const char *path, const char *begin_mark, const char *end_mark, const char *head,
                        const char *generated);

/* ------------------------------------------------------------------ procs.c */

/*
 * A host's many processes: starts `copies` processes of one program (sleep)
 * and `copies` python3 interpreters, alternating (pids[0] a sleep, pids[1] a
 * python3, ...), each living ten minutes; 2 * copies ids in pids. 0, or -1
 * after saying why on stderr (those started are stopped).
 */
int bench_start_sleepers(size_t copies, pid_t *pids);
/* Kills and reaps pids[0..n). */
void bench_stop_sleepers(const pid_t *pids, size_t n);

#endif
