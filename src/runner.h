/*
 * A runner (procsum_runner, options.runner): one thread on which the
 * checkers given it take turns, a pass at a time. The runner only chooses
 * whose pass comes next and runs it (psum_checker_run_due); requests,
 * pacing and reports stay the checker's (checker.c).
 */
#ifndef PSUM_RUNNER_H
#define PSUM_RUNNER_H

#include <stdbool.h>
#include <stdint.h>

#include "procsum.h"

int psum_runner_new(const procsum_options *o, procsum_runner **out);
int psum_runner_free(procsum_runner *r);
/* Takes c in turn: its first pass first_ns from now, then one a period_ns after each pass began. */
int psum_runner_add(procsum_runner *r, procsum_checker *c, uint64_t first_ns, uint64_t period_ns);
/* Takes c out of turn; returns once a pass of c under way is over (c is stopping: pace() cuts it short). */
void psum_runner_remove(procsum_runner *r, const procsum_checker *c);
/* c was asked for a pass: it goes next. */
void psum_runner_ask(procsum_runner *r, const procsum_checker *c);
/* Whether the calling thread is r's: a callback there must not wait for a pass. */
bool psum_runner_is_current(const procsum_runner *r);
/* Whether r's thread is in this process (not a runner inherited through fork). */
bool psum_runner_is_here(const procsum_runner *r);

#endif
