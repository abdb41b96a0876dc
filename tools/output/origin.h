/* When and where an event happened: the origin every event record carries, and a clock for durations (origin.c). */
#ifndef PSUM_OUTPUT_ORIGIN_H
#define PSUM_OUTPUT_ORIGIN_H

#include <stdint.h>

#include "writer.h"

/* Now, and this host's name (looked up once). */
void psum_event_origin_now(psum_event_origin *at);
/* A clock that only moves forward, in nanoseconds: for how long something took. */
uint64_t psum_monotonic_ns(void);

#endif
