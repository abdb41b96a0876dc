/*
 * The fork gate. fork() copies one thread; any lock another thread held at
 * that instant stays held in the child for ever. The C library makes its
 * own malloc safe around fork, but not every allocator is (the
 * AddressSanitizer one is not), and the loader's lock is taken by
 * dl_iterate_phdr. So procsum's threads hold the gate while they work (a
 * slice, a listing of mappings), and fork takes it first: a fork waits until
 * the checker is between two steps, so the child never inherits a lock the
 * checker held. The checker runs at the lowest priority, so on a busy
 * machine the wait may last as long as it takes the checker to be scheduled
 * again.
 *
 * The wait is bounded (10 s) for one case: a thread that forks while itself
 * holding the loader's lock (from a library constructor), which the checker
 * may be waiting for inside the gate; that thread's own lock is then the
 * only one held, and it lives on in the child.
 *
 * What fork writes costs. After a fork every page both processes share is
 * copied on its first write, in either of them, and a page fault is dear
 * (a fork/exec-heavy script pays one per page in every fork:
 * bench/preload/preload_cost.sh). So the gate's lock and the cached
 * process id live on one page the kernel leaves out of a child
 * (MADV_WIPEONFORK): the parent writes it after a fork without a copy, and
 * a child finds it zeroed, which is an unlocked gate and no process id, as
 * a child needs them, without a write. procsum's other handlers run from
 * this file's one registration, inside the gate (psum_os_at_fork).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../os.h"
#include "fork_gate.h"
#include "procsum.h"
#include "fork_path.h"

/* All zeroes is the state of a new process: a PTHREAD_MUTEX_INITIALIZER lock, no fork under way, no pid. */
typedef struct {
    pthread_mutex_t gate;
    atomic_uint fork_serial;         /* bumped by each fork that holds the gate, before and after it */
    _Atomic(pthread_t) fork_owner;   /* the thread of that fork */
    atomic_int pid;                  /* 0 until asked for in this process (where wiped) */
} private_state;

/* One page of private_state, wiped in a child by the kernel (wiped) or, failing that, by the child's handler. */
static private_state fallback_state;
static private_state *state = &fallback_state;
static atomic_bool wiped; /* set (release) after state points at the wiped page */

/* Who holds the gate from inside (its entries nest); written only by the holder, read in a child. */
static pthread_t inside_holder;
static bool inside_held;

/*
 * This thread's entries, and its fork. A fork that holds the gate takes a
 * ticket, the serial it bumped; the ticket is live while the serial and
 * the owner are still its own: the parent bumps the serial after the fork,
 * and a child's state starts at zero, so nothing is written to end it
 * after the fork. A fork that waited for the gate in vain (10 s) marks
 * itself instead. Initial-exec: read from a signal handler (a late start),
 * where a first access must not allocate.
 */
#define PSUM_TLS __thread __attribute__((tls_model("initial-exec")))
static PSUM_TLS unsigned depth;
static PSUM_TLS bool entered_in_fork; /* its outermost entry was made inside its own fork */
static PSUM_TLS unsigned fork_ticket;
static PSUM_TLS bool fork_locked;          /* its fork took the gate's lock */
static PSUM_TLS bool forking_without_gate; /* its fork gave up waiting for the gate */

enum { MAX_HANDLERS = 4 };
typedef struct {
    void (*prepare)(void), (*parent)(void), (*child)(void);
} fork_handlers;
static fork_handlers handlers[MAX_HANDLERS];
static size_t handler_count;

static pthread_once_t gate_once = PTHREAD_ONCE_INIT;
static bool gate_ready;

/* Whether the calling thread is in its fork's handlers (prepare: before the fork returns). */
PSUM_FORK_PATH static bool in_own_fork(void)
{
    if (forking_without_gate)
        return true;
    return fork_ticket != 0 && atomic_load_explicit(&state->fork_serial, memory_order_acquire) == fork_ticket &&
           pthread_equal(atomic_load_explicit(&state->fork_owner, memory_order_relaxed), pthread_self());
}

PSUM_FORK_PATH static void before_fork(void)
{
    fork_locked = false;
    forking_without_gate = false;
    /* Forking from inside the gate: this thread already keeps everyone else out. */
    bool holds = depth > 0;
    if (!holds) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 10;
        fork_locked = holds = pthread_mutex_timedlock(&state->gate, &deadline) == 0;
    }
    if (holds) {
        atomic_store_explicit(&state->fork_owner, pthread_self(), memory_order_relaxed);
        fork_ticket = atomic_fetch_add_explicit(&state->fork_serial, 1, memory_order_release) + 1;
    } else {
        forking_without_gate = true;
    }
    /* Registered handlers never go away: read without the gate, which the fork may not have got. */
    for (size_t i = handler_count; i-- > 0;)
        if (handlers[i].prepare)
            handlers[i].prepare();
}

PSUM_FORK_PATH static void parent_after_fork(void)
{
    for (size_t i = 0; i < handler_count; i++)
        if (handlers[i].parent)
            handlers[i].parent();
    if (forking_without_gate)
        forking_without_gate = false;
    else
        atomic_fetch_add_explicit(&state->fork_serial, 1, memory_order_release); /* the ticket is spent */
    if (fork_locked)
        pthread_mutex_unlock(&state->gate);
}

PSUM_FORK_PATH static void child_after_fork(void)
{
    /* Nobody holds the gate here, unless the forking thread held it from inside. */
    if (!atomic_load_explicit(&wiped, memory_order_relaxed))
        memset(state, 0, sizeof(*state));
    if (forking_without_gate)
        forking_without_gate = false;
    if (inside_held && pthread_equal(inside_holder, pthread_self()))
        pthread_mutex_lock(&state->gate);
    for (size_t i = 0; i < handler_count; i++)
        if (handlers[i].child)
            handlers[i].child();
}

static void install(void)
{
    void *page = mmap(NULL, sizeof(private_state), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page != MAP_FAILED) {
        if (madvise(page, sizeof(private_state), MADV_WIPEONFORK) == 0) {
            state = page;
            atomic_store_explicit(&wiped, true, memory_order_release);
        } else {
            munmap(page, sizeof(private_state));
        }
    }
    gate_ready = pthread_atfork(before_fork, parent_after_fork, child_after_fork) == 0;
}

bool psum_linux_fork_gate_ready(void)
{
    pthread_once(&gate_once, install);
    return gate_ready;
}

/* Enters with lock(gate) or, when try, with a trylock; false when the trylock failed. */
static bool enter(bool try)
{
    if (depth != 0 || !psum_linux_fork_gate_ready()) {
        depth++;
        return true;
    }
    /* A prepare handler of this thread's fork: the fork holds the gate for it (or gave up on it). */
    if (in_own_fork()) {
        entered_in_fork = true;
        depth = 1;
        return true;
    }
    if (try ? pthread_mutex_trylock(&state->gate) != 0 : pthread_mutex_lock(&state->gate) != 0)
        return false;
    entered_in_fork = false;
    depth = 1;
    inside_holder = pthread_self();
    inside_held = true;
    return true;
}

void psum_os_fork_gate_enter(void)
{
    (void)enter(false);
}

bool psum_os_fork_gate_try_enter(void)
{
    return enter(true);
}

void psum_os_fork_gate_leave(void)
{
    if (depth == 0 || --depth != 0 || !gate_ready)
        return;
    if (entered_in_fork) {
        entered_in_fork = false;
        return;
    }
    inside_held = false;
    pthread_mutex_unlock(&state->gate);
}

int psum_os_at_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    if (!psum_linux_fork_gate_ready())
        return PROCSUM_ENOMEM;
    /* Inside the gate: a fork never sees a half-added entry, and registering threads take turns. */
    psum_os_fork_gate_enter();
    int err = handler_count < MAX_HANDLERS ? 0 : PROCSUM_ENOMEM;
    if (!err)
        handlers[handler_count] = (fork_handlers){prepare, parent, child};
    if (!err)
        handler_count++;
    psum_os_fork_gate_leave();
    return err;
}

/*
 * Cached where the kernel wipes the cache in every child, however it was
 * made (fork, _Fork, clone): otherwise, and before the gate is set up (most
 * lazy starts end with their process before any pass), a system call.
 */
uint64_t psum_os_process_id(void)
{
    if (!atomic_load_explicit(&wiped, memory_order_acquire))
        return (uint64_t)getpid();
    int pid = atomic_load_explicit(&state->pid, memory_order_relaxed);
    if (pid == 0) {
        pid = (int)getpid();
        atomic_store_explicit(&state->pid, pid, memory_order_relaxed);
    }
    return (uint64_t)pid;
}
