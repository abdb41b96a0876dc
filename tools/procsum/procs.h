/*
 * What verify and watch share: which processes to check (the ids given, or
 * every process the system lists), the program each runs, and the time and
 * host every event carries. The system's part is in procs_linux.c (/proc)
 * and procs_win.c (EnumProcesses).
 */
#ifndef PSUM_PROCS_H
#define PSUM_PROCS_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "oneline.h"

typedef struct psum_pid_list {
    long *pids;
    size_t count, cap;
} psum_pid_list;

/* Bad usage (2, said on stderr) unless the command names processes one way: --all, or PIDs. */
int psum_procs_check_named(const psum_cli *c);
/*
 * The processes the command line names: its ids, or with --all every
 * process that the system lists now (psum_procs_scan). A process named by
 * its id is checked even when a `process` glob matches it: it was asked
 * for. 0 or, after a message, an exit code (bad usage: neither or both).
 */
int psum_procs_select(const psum_cli *c, psum_pid_list *out);
/*
 * Every process but this one (on Linux: and kernel threads; on Windows: and
 * the idle and system processes) and those the configuration's `process`
 * globs match (psum_proc_skipped), ascending; 0 or an errno.
 */
int psum_procs_scan(const psum_config *cfg, psum_pid_list *out);
#ifndef _WIN32
/*
 * Whether a `process` glob of cfg matches pid: a glob holding '/' its
 * program (/proc/PID/exe), any other its name (/proc/PID/comm, at most 15
 * bytes), with fnmatch(3) without flags. A process whose program or name
 * cannot be read is not skipped.
 */
bool psum_proc_skipped(const psum_config *cfg, long pid);
#endif
/* Whether pid is one of the kernel's own threads, which have no user code to check (false on Windows). */
bool psum_proc_kernel_thread(long pid);
/* The process a thread id belongs to (its thread group: pid itself for a process), or 0 when unknown. */
long psum_proc_thread_group(long pid);
/*
 * The id to read pid's memory and files through: pid, or, once its first
 * thread has ended (pthread_exit in main) while others run on, one of
 * those (Linux: pid's own /proc files then show a zombie with no memory).
 */
long psum_proc_reader(long pid);
/* procsum's own process id. */
long psum_procs_self(void);
void psum_pid_list_free(psum_pid_list *l);
/* 0 or ENOMEM. */
int psum_pid_list_push(psum_pid_list *l, long pid);
/* Ascending, as psum_pid_list_has needs. */
void psum_pid_list_sort(psum_pid_list *l);
/* Whether pid is in the (ascending) list. */
bool psum_pid_list_has(const psum_pid_list *l, long pid);

/* The program pid runs, as /proc/PID/exe or the Windows image name gives it (malloc'ed, UTF-8), or NULL when it cannot be read. */
char *psum_proc_executable(long pid);
/*
 * The process's short name, shown where its program's path cannot be read
 * (Linux: /proc/PID/comm, which anyone may read; Windows: the image's file
 * name), malloc'ed, or NULL.
 */
char *psum_proc_name(long pid);

/* The library's code for a process that could not be checked, as the exit code verify and watch give for it. */
int psum_procs_exit_code(int err);

#endif
