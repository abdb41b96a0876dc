/*
 * The checker: a pass every period on its own thread (or the caller's, for
 * procsum_run), requests from other threads, pacing, and the follow_fork
 * restart. The API (api.c) validates options and handles before calling in.
 */
#ifndef PSUM_CHECKER_H
#define PSUM_CHECKER_H

#include <stdbool.h>
#include <stdint.h>

#include "procsum.h"

int psum_checker_start(const procsum_options *o, procsum_callback cb, void *userdata, procsum_checker **out);
/* Stops and frees c (in a forked child: only frees what is safe to free). */
int psum_checker_stop(procsum_checker *c);
/* One pass now (rebaseline: adopting everything); the pass's report count or a code. */
int psum_checker_request(procsum_checker *c, bool rebaseline);
void psum_checker_stats(const procsum_checker *c, procsum_stats *out);
/* Whether c is a live handle (not stopped yet): a stopped handle's memory is poisoned first. */
bool psum_checker_alive(const procsum_checker *c);
procsum_checker *psum_checker_forked(const procsum_checker *parent);
int psum_checker_run(const procsum_options *o, procsum_callback cb, void *userdata);
/* On a runner's thread (runner.c): c's pass, serving the request waiting if any; false once c is stopping. */
bool psum_checker_run_due(procsum_checker *c);

#endif
