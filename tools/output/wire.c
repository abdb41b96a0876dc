/* Events as datagrams: see wire.h. */
#include "wire.h"

#include <stdint.h>
#include <string.h>

/* "psw" and the sizes of the structs copied whole: another build's layout is not mistaken for ours. */
#define WIRE_MAGIC \
    (0x70737700u ^ (uint32_t)sizeof(procsum_region) ^ ((uint32_t)sizeof(procsum_page_change) << 12) ^ \
     ((uint32_t)sizeof(psum_pass) << 24))
/* Each string is cut to this many bytes: seven of them and the fixed fields fit in PSUM_WIRE_MAX. */
#define STRING_MAX 3800

typedef struct wire_head {
    uint32_t magic, kind;
    int64_t pid, sec, nsec;
} wire_head;

typedef struct wire_state_fixed {
    int32_t error;
    uint64_t pages_checked;
} wire_state_fixed;

static size_t put(char *buf, size_t at, const void *p, size_t n)
{
    memcpy(buf + at, p, n);
    return at + n;
}

/* A string and its NUL; NULL is sent as "" (and read back as NULL where NULL is allowed). */
static size_t put_string(char *buf, size_t at, const char *s)
{
    size_t n = s ? strnlen(s, STRING_MAX) : 0;
    at = put(buf, at, s ? s : "", n);
    buf[at] = '\0';
    return at + 1;
}

static size_t put_head(char *buf, psum_wire_kind kind, long pid, const psum_event_origin *at)
{
    wire_head h = {.magic = WIRE_MAGIC, .kind = (uint32_t)kind, .pid = pid, .sec = at->sec, .nsec = at->nsec};
    return put_string(buf, put(buf, 0, &h, sizeof(h)), at->host);
}

size_t psum_wire_alert(char *buf, const psum_alert *a)
{
    procsum_region r = *a->region;
    r.source = NULL; /* the pointers are sent as strings below */
    procsum_page_change page = *a->page;
    page.symbol = page.old_insn = page.new_insn = NULL;
    size_t at = put_head(buf, PSUM_WIRE_ALERT, a->pid, &a->at);
    at = put(buf, at, &r, sizeof(r));
    at = put(buf, at, &page, sizeof(page));
    at = put_string(buf, at, a->action);
    at = put_string(buf, at, a->executable);
    at = put_string(buf, at, a->region->source);
    at = put_string(buf, at, a->page->symbol);
    at = put_string(buf, at, a->page->old_insn);
    return put_string(buf, at, a->page->new_insn);
}

size_t psum_wire_state(char *buf, const psum_state *s)
{
    wire_state_fixed f = {.error = s->error, .pages_checked = s->pages_checked};
    size_t at = put_head(buf, PSUM_WIRE_STATE, s->pid, &s->at);
    at = put(buf, at, &f, sizeof(f));
    at = put_string(buf, at, s->action);
    at = put_string(buf, at, s->executable);
    at = put_string(buf, at, s->status);
    return put_string(buf, at, s->detail);
}

size_t psum_wire_pass(char *buf, long pid, const psum_event_origin *at, const psum_pass *p)
{
    return put(buf, put_head(buf, PSUM_WIRE_PASS, pid, at), p, sizeof(*p));
}

size_t psum_wire_watch_me(char *buf, long pid)
{
    wire_head h = {.magic = WIRE_MAGIC, .kind = PSUM_WIRE_WATCH_ME, .pid = pid};
    return put_string(buf, put(buf, 0, &h, sizeof(h)), NULL); /* no time, no host name */
}

typedef struct reader {
    char *buf;
    size_t len, at;
    bool bad;
} reader;

static void take(reader *r, void *p, size_t n)
{
    if (r->bad || r->len - r->at < n) {
        r->bad = true;
        return;
    }
    memcpy(p, r->buf + r->at, n);
    r->at += n;
}

/* The next NUL-terminated string, in place; NULL (and bad) when there is none. */
static const char *take_string(reader *r)
{
    if (r->bad)
        return NULL;
    char *s = r->buf + r->at;
    char *nul = memchr(s, '\0', r->len - r->at);
    if (!nul) {
        r->bad = true;
        return NULL;
    }
    r->at = (size_t)(nul - r->buf) + 1;
    return s;
}

static const char *or_null(const char *s)
{
    return s && *s ? s : NULL;
}

/*
 * The words an event may carry: the writers print an action and a status
 * as they are, as the names they are in this program, so a word from a
 * datagram must be one of them (a process of the tree is not trusted to
 * send only names).
 */
static const char *const ALERT_ACTIONS[] = {"code-changed", "differs-from-file", NULL};
static const char *const STATE_ACTIONS[] = {"verified", "watching", "not-watched", "new-program", "exited", NULL};
static const char *const STATUSES[] = {"clean", "changed", "error", NULL};

static bool one_of(const char *s, const char *const *words)
{
    for (; s && *words; words++)
        if (strcmp(s, *words) == 0)
            return true;
    return false;
}

/* A time the writers can print: from 1970 to the end of year 9999, nanoseconds under a second. */
#define LAST_SECOND 253402300799
static bool printable_time(int64_t sec, int64_t nsec)
{
    return sec >= 0 && sec <= LAST_SECOND && nsec >= 0 && nsec < 1000000000;
}

int psum_wire_decode(char *buf, size_t len, psum_wire_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    reader r = {.buf = buf, .len = len};
    wire_head h;
    take(&r, &h, sizeof(h));
    if (r.bad || h.magic != WIRE_MAGIC || (h.kind != PSUM_WIRE_WATCH_ME && !printable_time(h.sec, h.nsec)))
        return -1;
    psum_event_origin at = {.sec = h.sec, .nsec = (long)h.nsec, .host = take_string(&r)};
    ev->kind = (psum_wire_kind)h.kind;
    ev->pid = (long)h.pid;
    switch (h.kind) {
    case PSUM_WIRE_ALERT:
        take(&r, &ev->region, sizeof(ev->region));
        take(&r, &ev->page, sizeof(ev->page));
        ev->alert = (psum_alert){.at = at, .action = take_string(&r), .pid = ev->pid,
                                 .region = &ev->region, .page = &ev->page};
        ev->alert.executable = or_null(take_string(&r));
        ev->region.source = take_string(&r);
        ev->page.symbol = or_null(take_string(&r));
        ev->page.old_insn = or_null(take_string(&r));
        ev->page.new_insn = or_null(take_string(&r));
        /* A count past the array would send the writer beyond it. */
        if (ev->page.run_count > PROCSUM_MAX_RUNS || !one_of(ev->alert.action, ALERT_ACTIONS))
            r.bad = true;
        break;
    case PSUM_WIRE_STATE: {
        wire_state_fixed f;
        take(&r, &f, sizeof(f));
        ev->state = (psum_state){.at = at, .action = take_string(&r), .pid = ev->pid,
                                 .error = f.error, .pages_checked = f.pages_checked};
        ev->state.executable = or_null(take_string(&r));
        ev->state.status = take_string(&r);
        ev->state.detail = or_null(take_string(&r));
        /* And they agree: an error status carries its code, no other status one. */
        if (!one_of(ev->state.action, STATE_ACTIONS) || !one_of(ev->state.status, STATUSES) ||
            (strcmp(ev->state.status, "error") == 0) != (ev->state.error != 0))
            r.bad = true;
        break;
    }
    case PSUM_WIRE_PASS:
        take(&r, &ev->pass, sizeof(ev->pass));
        ev->pass.processes = 0;
        break;
    case PSUM_WIRE_WATCH_ME:
        break;
    default:
        return -1;
    }
    return r.bad || r.at != r.len ? -1 : 0;
}

_Static_assert(sizeof(wire_head) + 1 <= PSUM_WIRE_WATCH_ME_MAX, "a request fits its buffer");

/* The largest alert: its fixed fields and seven strings cut to STRING_MAX. */
_Static_assert(sizeof(wire_head) + sizeof(procsum_region) + sizeof(procsum_page_change) + 7 * (STRING_MAX + 1) <=
                   PSUM_WIRE_MAX,
               "an alert fits in one datagram");
