/*
 * A start made a while from now, with no thread waiting meanwhile.
 *
 * Most processes of a script end within milliseconds. A thread that only
 * sleeps costs each of them its creation and, at exit or exec, its end:
 * on this kind of VM a fork/exec-heavy bash script runs 40 % longer with
 * one sleeping thread per process (bench/preload/preload_cost.sh, the
 * floor library). So a late start arms a POSIX timer instead (two system
 * calls; a process that ends sooner has paid nothing else), and when it
 * expires the kernel sends PSUM_LATE_SIGNAL, whose handler starts the
 * thread.
 *
 * The handler interrupts whatever the process was doing, and creating a
 * thread takes locks: the allocator's (the C library allocates the new
 * thread's TLS table with calloc) and the list of thread stacks. If the
 * interrupted code held one, the start would wait for ever. So the
 * handler starts only at a safe point:
 *  - the interrupted instruction is outside the C library, the dynamic
 *    loader, the object that provides calloc and this object (found once,
 *    before any fork: psum_late_prepare); code elsewhere holds none of
 *    their locks; or
 *  - the thread was waiting in a system call, in one of those objects,
 *    that none of them makes while holding such a lock: a read, a poll, a
 *    sleep, a wait for a child, a futex wait of a condition variable, a
 *    join or a semaphore (FUTEX_WAIT_BITSET); not a lock's own futex wait
 *    (FUTEX_WAIT), not mmap or munmap (the allocator holds its lock across
 *    them). x86-64 tells which: the kernel leaves the instruction pointer
 *    on the `syscall` instruction with the call's number in rax when the
 *    call will be restarted, or just past it with -EINTR in rax.
 * Anywhere else it tries again a few milliseconds later, at a moment that
 * varies so as not to fall in step with the program.
 *
 * Why SIGURG: its default action is to ignore it, so a signal still
 * pending when the process runs a new program (exec keeps pending signals,
 * not handlers) does nothing; few programs use it (out-of-band socket
 * data). The handler is installed only where the program has left the
 * default or ignores the signal, with SA_RESTART; docs/limits.md says
 * what a program may notice. Elsewhere, and on other architectures, the
 * caller starts its own way (a thread that waits).
 *
 * fork: a child has none of its parent's timers, so a slot armed in the
 * parent is free in the child (its owner is another process).
 */
#include <errno.h>
#include <gnu/libc-version.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "late_start.h"
#include "procsum.h"

enum { SLOTS = 32, SLOT_BITS = 5, MAX_RANGES = 24 };

/* A slot's word: generation << STATE_BITS | state. An id: generation << SLOT_BITS | slot. */
enum { FREE, SETUP, ARMED, STARTING };
enum { STATE_BITS = 2, STATE_MASK = 3, GENERATION_MASK = 0xffffff };

typedef struct {
    atomic_uint word;
    atomic_int owner; /* the process that armed it */
    timer_t timer;
    psum_late_fn start;
    void *arg;
    unsigned tries;
} late_slot;

static late_slot slots[SLOTS];
static atomic_uint generation;

/* Executable ranges of the objects a start must not interrupt. */
static struct {
    uintptr_t lo, hi;
} unsafe[MAX_RANGES];
static size_t unsafe_count;
static atomic_bool prepared;
static pthread_once_t prepare_once = PTHREAD_ONCE_INIT;

static unsigned state_of(unsigned word)
{
    return word & STATE_MASK;
}

static unsigned generation_of(unsigned word)
{
    return word >> STATE_BITS;
}

#if defined(__x86_64__)
static void on_signal(int sig, siginfo_t *si, void *ctx);

/* One loaded object: its executable segments are unsafe when one of the anchors lies in them, or it is the loader. */
static int note_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    const uintptr_t *anchors = data;
    bool unsafe_object = info->dlpi_addr == getauxval(AT_BASE) && info->dlpi_addr != 0;
    for (int i = 0; i < info->dlpi_phnum && !unsafe_object; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        for (const uintptr_t *a = anchors; *a; a++)
            unsafe_object = unsafe_object || (*a >= lo && *a < hi);
    }
    for (int i = 0; i < info->dlpi_phnum && unsafe_object; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || unsafe_count == MAX_RANGES)
            continue;
        unsafe[unsafe_count].lo = info->dlpi_addr + ph->p_vaddr;
        unsafe[unsafe_count].hi = unsafe[unsafe_count].lo + ph->p_memsz;
        unsafe_count++;
    }
    return 0;
}

static void find_unsafe_code(void)
{
    /*
     * The C library (gnu_get_libc_version is never intercepted), whatever
     * provides calloc and pthread_create (an allocator of the program's,
     * a sanitizer's runtime), this object; the loader by its base address.
     */
    const uintptr_t anchors[] = {(uintptr_t)gnu_get_libc_version, (uintptr_t)calloc, (uintptr_t)pthread_create,
                                 (uintptr_t)on_signal, 0};
    (void)dl_iterate_phdr(note_object, (void *)anchors);
    atomic_store(&prepared, unsafe_count > 0 && unsafe_count < MAX_RANGES);
}

int psum_late_prepare(void)
{
    (void)pthread_once(&prepare_once, find_unsafe_code);
    return atomic_load(&prepared) ? 0 : PROCSUM_ENOSYS;
}

/* The unsafe range holding pc, if any. */
static bool unsafe_range(uintptr_t pc, uintptr_t *lo, uintptr_t *hi)
{
    for (size_t i = 0; i < unsafe_count; i++) {
        if (pc >= unsafe[i].lo && pc < unsafe[i].hi) {
            *lo = unsafe[i].lo;
            *hi = unsafe[i].hi;
            return true;
        }
    }
    return false;
}

/* Whether system call nr (futex operation op) is a wait that no lock of the C library, loader or allocator is held across. */
static bool waits_without_locks(long nr, unsigned long op)
{
    switch (nr) {
    case SYS_read:
    case SYS_readv:
    case SYS_pread64:
    case SYS_poll:
    case SYS_ppoll:
    case SYS_select:
    case SYS_pselect6:
    case SYS_epoll_wait:
    case SYS_epoll_pwait:
    case SYS_pause:
    case SYS_nanosleep:
    case SYS_clock_nanosleep:
    case SYS_wait4:
    case SYS_waitid:
    case SYS_accept:
    case SYS_accept4:
    case SYS_connect:
    case SYS_recvfrom:
    case SYS_recvmsg:
    case SYS_recvmmsg:
    case SYS_rt_sigsuspend:
    case SYS_rt_sigtimedwait:
    case SYS_msgrcv:
    case SYS_semtimedop:
    case SYS_io_getevents:
    case SYS_io_uring_enter:
        return true;
    case SYS_futex:
        /* Condition variables, joins and semaphores wait with BITSET; the C library's own locks with WAIT. */
        return (op & 127) == 9 /* FUTEX_WAIT_BITSET */;
    default:
        return false;
    }
}

static bool at_safe_point(const void *ctx)
{
    const ucontext_t *uc = ctx;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP], lo, hi;
    if (!unsafe_range(pc, &lo, &hi))
        return true;
    const unsigned char *ip = (const unsigned char *)pc;
    long ax = (long)uc->uc_mcontext.gregs[REG_RAX];
    /* A blocking call that was interrupted and returns EINTR: no call made with a lock held does. */
    if (pc >= lo + 2 && ip[-2] == 0x0f && ip[-1] == 0x05 && ax == -EINTR)
        return true;
    /* On a `syscall` instruction: about to make (or to restart) call number rax. */
    if (pc + 2 <= hi && ip[0] == 0x0f && ip[1] == 0x05)
        return waits_without_locks(ax, (unsigned long)uc->uc_mcontext.gregs[REG_RSI]);
    return false;
}

/* Tries again in 2 to 9 ms, varied from try to try. */
static void try_later(late_slot *s)
{
    s->tries++;
    long ms = 2 + (long)((s->tries * 5u) % 8u);
    struct itimerspec when = {.it_value = {.tv_sec = 0, .tv_nsec = ms * 1000000}};
    (void)timer_settime(s->timer, 0, &when, NULL);
}

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    if (si->si_code != SI_TIMER)
        return; /* not ours: the action the program left was the default or to ignore, so nothing */
    int saved = errno;
    unsigned id = (unsigned)si->si_value.sival_int;
    late_slot *s = &slots[id & (SLOTS - 1)];
    unsigned gen = id >> SLOT_BITS;
    unsigned armed = gen << STATE_BITS | ARMED;
    if (atomic_load(&s->owner) == (int)syscall(SYS_getpid) &&
        atomic_compare_exchange_strong(&s->word, &armed, gen << STATE_BITS | STARTING)) {
        if (at_safe_point(ctx) && s->start(s->arg) == 0) {
            (void)timer_delete(s->timer);
            atomic_store(&s->word, gen << STATE_BITS | FREE);
        } else {
            try_later(s);
            atomic_store(&s->word, gen << STATE_BITS | ARMED);
        }
    }
    errno = saved;
}

/* Installs the handler where the program left the default or ignores the signal; 0 or PROCSUM_EBUSY. */
static int take_signal(void)
{
    struct sigaction now;
    if (sigaction(PSUM_LATE_SIGNAL, NULL, &now) != 0)
        return PROCSUM_EBUSY;
    if ((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_signal)
        return 0;
    if ((now.sa_flags & SA_SIGINFO) || (now.sa_handler != SIG_DFL && now.sa_handler != SIG_IGN))
        return PROCSUM_EBUSY;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask); /* nothing else runs inside the handler */
    return sigaction(PSUM_LATE_SIGNAL, &sa, NULL) == 0 ? 0 : PROCSUM_EBUSY;
}

/* A slot for this process: free, or armed by another one (a parent: its timers are not here). */
static late_slot *claim_slot(int pid, unsigned gen)
{
    for (size_t i = 0; i < SLOTS; i++) {
        late_slot *s = &slots[i];
        unsigned w = atomic_load(&s->word);
        if (state_of(w) != FREE && atomic_load(&s->owner) == pid)
            continue;
        if (atomic_compare_exchange_strong(&s->word, &w, gen << STATE_BITS | SETUP))
            return s;
    }
    return NULL;
}

int psum_late_arm(psum_late_fn start, void *arg, uint64_t delay_ns, uint32_t *id)
{
    if (!atomic_load(&prepared))
        return PROCSUM_ENOSYS;
    sigset_t mask;
    if (pthread_sigmask(SIG_BLOCK, NULL, &mask) != 0 || sigismember(&mask, PSUM_LATE_SIGNAL))
        return PROCSUM_EBUSY; /* the calling thread would not take it; maybe no thread would */
    int err = take_signal();
    if (err)
        return err;
    unsigned gen = (atomic_fetch_add(&generation, 1) + 1) & GENERATION_MASK;
    int pid = (int)getpid();
    late_slot *s = claim_slot(pid, gen);
    if (!s)
        return PROCSUM_EAGAIN;
    s->start = start;
    s->arg = arg;
    s->tries = 0;
    atomic_store(&s->owner, pid);
    unsigned slot_id = gen << SLOT_BITS | (unsigned)(s - slots);
    struct sigevent ev;
    memset(&ev, 0, sizeof(ev));
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = PSUM_LATE_SIGNAL;
    ev.sigev_value.sival_int = (int)slot_id;
    if (timer_create(CLOCK_MONOTONIC, &ev, &s->timer) != 0) {
        atomic_store(&s->word, gen << STATE_BITS | FREE);
        return PROCSUM_EAGAIN;
    }
    atomic_store(&s->word, gen << STATE_BITS | ARMED);
    /* A zero it_value would disarm the timer: at least a nanosecond. */
    uint64_t ns = delay_ns ? delay_ns : 1;
    struct itimerspec when = {.it_value = {.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)}};
    if (timer_settime(s->timer, 0, &when, NULL) != 0) {
        unsigned w = gen << STATE_BITS | ARMED;
        if (atomic_compare_exchange_strong(&s->word, &w, gen << STATE_BITS | FREE))
            (void)timer_delete(s->timer);
        return PROCSUM_EAGAIN;
    }
    *id = slot_id;
    return 0;
}
#else
int psum_late_prepare(void)
{
    return PROCSUM_ENOSYS;
}

int psum_late_arm(psum_late_fn start, void *arg, uint64_t delay_ns, uint32_t *id)
{
    (void)start;
    (void)arg;
    (void)delay_ns;
    (void)id;
    return PROCSUM_ENOSYS;
}
#endif

/* While a handler on another thread makes a start. */
static void pause_briefly(void)
{
    struct timespec a_while = {.tv_sec = 0, .tv_nsec = 100000};
    (void)nanosleep(&a_while, NULL);
}

bool psum_late_cancel(uint32_t id)
{
    late_slot *s = &slots[id & (SLOTS - 1)];
    unsigned gen = id >> SLOT_BITS;
    for (;;) {
        unsigned w = atomic_load(&s->word);
        if (generation_of(w) != gen || state_of(w) == FREE)
            return false; /* the handler started it and let the slot go */
        if (state_of(w) == ARMED) {
            if (atomic_compare_exchange_strong(&s->word, &w, gen << STATE_BITS | FREE)) {
                (void)timer_delete(s->timer);
                return true;
            }
            continue;
        }
        pause_briefly(); /* STARTING: the handler, on another thread, is at it */
    }
}

/* Whether a slot of this process is armed (or being armed); waits out a start the handler is making. */
static bool armed_here(int pid)
{
    for (size_t i = 0; i < SLOTS; i++) {
        unsigned state;
        /* The thread a handler has just started may ask before that handler has let its slot go. */
        while ((state = state_of(atomic_load(&slots[i].word))) == STARTING && atomic_load(&slots[i].owner) == pid)
            pause_briefly();
        if (state != FREE && atomic_load(&slots[i].owner) == pid)
            return true;
    }
    return false;
}

void psum_late_release_signal(void)
{
#if defined(__x86_64__)
    if (armed_here((int)getpid()))
        return;
    struct sigaction now;
    if (sigaction(PSUM_LATE_SIGNAL, NULL, &now) != 0 || !(now.sa_flags & SA_SIGINFO) || now.sa_sigaction != on_signal)
        return;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    (void)sigaction(PSUM_LATE_SIGNAL, &dfl, NULL);
#endif
}
