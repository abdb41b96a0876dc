/*
 * Events as datagrams: how the processes of a program's tree (the preload
 * library) hand what they find to the one `procsum run` that writes every
 * output (tools/procsum/run.c says why one writer).
 *
 * One event is one datagram on a local (AF_UNIX) datagram socket: it
 * arrives whole or not at all, so a process killed while sending cannot
 * leave half an event, and events of many processes never interleave.
 * Both ends are built from the same source: the layout is the C structs
 * themselves, and a magic number that includes their sizes turns away a
 * datagram from another build. Decoding trusts nothing else: lengths,
 * terminating NULs and counts are checked, and the strings are escaped
 * later by the format, as every string from a process is.
 */
#ifndef PSUM_OUTPUT_WIRE_H
#define PSUM_OUTPUT_WIRE_H

#include <stddef.h>

#include "writer.h"

/* Room for one event: fixed fields, and strings cut to fit. */
#define PSUM_WIRE_MAX 32768

/*
 * PSUM_WIRE_WATCH_ME: a process asks to be checked from outside (the
 * preload library with PROCSUM_CHECKER=outside). Only the head: the
 * receiver takes the pid from the kernel's credentials of the datagram,
 * not from the head, so that no process can name another one.
 */
typedef enum psum_wire_kind {
    PSUM_WIRE_ALERT = 1,
    PSUM_WIRE_STATE = 2,
    PSUM_WIRE_PASS = 3,
    PSUM_WIRE_WATCH_ME = 4
} psum_wire_kind;

/* A decoded event; its pointers point into the event itself and into the datagram it came from. */
typedef struct psum_wire_event {
    psum_wire_kind kind;
    long pid; /* the sender's process (also in alert.pid or state.pid) */
    psum_alert alert;
    procsum_region region;
    procsum_page_change page;
    psum_state state;
    psum_pass pass; /* pass.processes is 0: the receiver counts processes */
} psum_wire_event;

/* Each encodes one event into buf[PSUM_WIRE_MAX]; returns its length. */
size_t psum_wire_alert(char *buf, const psum_alert *a);
size_t psum_wire_state(char *buf, const psum_state *s);
/* What one process's checker did since its last such record; `at` is when. */
size_t psum_wire_pass(char *buf, long pid, const psum_event_origin *at, const psum_pass *p);

/* A request to be checked from outside, into buf[PSUM_WIRE_WATCH_ME_MAX]; safe in a signal handler (stores only). */
#define PSUM_WIRE_WATCH_ME_MAX 64
size_t psum_wire_watch_me(char *buf, long pid);

/* Decodes buf[len] into *ev; 0, or -1 when it is not a whole event of this build. */
int psum_wire_decode(char *buf, size_t len, psum_wire_event *ev);

#endif
