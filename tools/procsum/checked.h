/*
 * Processes checked from here, from outside (procsum_start with their
 * pid): what `procsum watch` and `procsum run` share. The checkers take
 * turns on one thread (a runner: one wake-up a period, not one per
 * process, and --cpu bounds them all together) and share one digest cache:
 * a page of a file's page cache, mapped by many processes, is hashed once
 * per period for all of them. Every write goes through the set's lock (the
 * runner's thread reports changes while the caller writes the rest), so
 * lines never interleave.
 */
#ifndef PSUM_CHECKED_H
#define PSUM_CHECKED_H

#include <stdbool.h>
#include <stdint.h>

#include "outputs.h"
#include "procs.h"
#include "procsum.h"
#include "watch_os.h"

typedef struct psum_checked_set psum_checked_set;

typedef struct psum_checked {
    psum_checked_set *set;
    long pid;
    long reader; /* the id its memory and program are read through (psum_proc_reader) */
    char *exe;  /* its program, replaced after an exec: under the set's lock */
    char *name; /* its short name (psum_proc_name), replaced with exe */
    procsum_checker *checker;
    bool started;          /* checker is set and new_programs counted: under the lock, for reports */
    uint64_t new_programs; /* programs run before the last review (under the lock) */
    uint64_t passes, quiet_passes, bytes_hashed; /* as counted at the last review */
    uint64_t pages;                /* pages tracked, at the last review */
    uint64_t alerts;               /* changes reported that the configuration does not allow (under the lock) */
    uintptr_t *as_state;           /* pages whose last change went out as state (state-cause): so does their restore */
    size_t as_state_count, as_state_cap;
} psum_checked;

struct psum_checked_set {
    procsum_options opts; /* each checker's, but for its pid */
    psum_writer *w;
    const psum_allow *allow; /* what the configuration allows (not counted in a process's standing), or NULL */
    bool quiet;              /* no line for a start, a new program or an exit (run: a script's every process) */
    procsum_digest_cache *shared;
    procsum_runner *runner;
    psum_watch_lock lock; /* every write, write_failed, a process's exe */
    bool write_failed;
    psum_checked **items;
    size_t count, cap;
};

/* Makes the runner and the cache; 0 or a PROCSUM_E* code. */
int psum_checked_open(psum_checked_set *s, const procsum_options *o, psum_writer *w, const psum_allow *allow, bool quiet);
/* Stops every checker, then frees the runner and the cache. */
void psum_checked_close(psum_checked_set *s);

/*
 * Starts a checker on pid; its first look (reports of pages already
 * differing) runs before it returns. 0, or the error, said as a
 * not-watched line unless quiet_gone and the process is gone already.
 */
int psum_checked_start(psum_checked_set *s, long pid, bool quiet_gone);
/* The index of pid's entry, or s->count. */
size_t psum_checked_find(const psum_checked_set *s, long pid);
/* The process at index i ended: said (unless quiet), its checker stopped and dropped. */
void psum_checked_ended(psum_checked_set *s, size_t i);
/*
 * After each period: what the checkers did since the last review is added
 * to pass; processes that ended are dropped; those that became unreadable
 * are said, dropped and added to refused (ascending); new programs noted.
 */
void psum_checked_review(psum_checked_set *s, psum_pass *pass, psum_pid_list *refused);

/* Writes through the set's lock. */
void psum_checked_write_alert(psum_checked_set *s, const psum_alert *a);
void psum_checked_write_state(psum_checked_set *s, const psum_state *st);
void psum_checked_write_pass(psum_checked_set *s, const psum_pass *p);

#endif
