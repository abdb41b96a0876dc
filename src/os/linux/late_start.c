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
 *    before any fork: psum_late_prepare), so it holds none of their locks,
 *    and the thread is not inside a handler of the program's (which may
 *    have interrupted malloc): no signal that has a handler is blocked in
 *    the interrupted context, as one is while its handler runs; or
 *  - the thread was waiting in a system call, made by one of those
 *    objects, that none of them makes while holding such a lock: a read, a
 *    poll, a sleep, a wait for a child, a futex wait of a condition
 *    variable, a join or a semaphore (FUTEX_WAIT_BITSET); not a lock's own
 *    futex wait (FUTEX_WAIT), not mmap or munmap (the allocator holds its
 *    lock across them). x86-64 tells which: the kernel leaves the
 *    instruction pointer on the `syscall` instruction with the call's
 *    number in rax when the call will be restarted; when it returns EINTR
 *    instead, the number is read from the `mov $nr, %eax` just before the
 *    `syscall` (most of the C library's call sites, its waits among them:
 *    `objdump -d` of libc.so.6 shows them), and any other site is not
 *    taken as safe.
 * Anywhere else it tries again later. Interrupting code that runs costs it
 * a few microseconds: the next try comes 2 to 9 ms later, at a moment that
 * varies so as not to fall in step with the program, up to RUNNING_TRIES
 * times. A thread that waits in a call where no start can be made (writing
 * to a full pipe, a mutex) is woken by each signal, and a write may return
 * short: there the tries thin out, 1 ms after the first and twice as long
 * each time, up to a second, at most WAITING_TRIES times (about 12 s). When
 * either runs out, the start is given up: the process is then not checked
 * until a pass is asked for (procsum_check_now makes the start on the
 * caller's thread).
 *
 * Why SIGURG: its default action is to ignore it, so a signal still
 * pending when the process runs a new program (exec keeps pending signals,
 * not handlers) does nothing; few programs use it (out-of-band socket
 * data). The handler is installed only where the program has left the
 * default, with SA_RESTART; docs/limits.md says what a program may notice.
 * Elsewhere, and on other architectures, the caller starts its own way (a
 * thread that waits). The handler takes only its own timers' signals (the
 * kernel's timer id is checked: a signal pending from before an exec does
 * not match), and stays installed (libprocsum is never unloaded: -z nodelete).
 *
 * A program that installs its own SIGURG handler while a start is armed
 * (postgres's postmaster does, for its latches, after the preload
 * library's constructor has run) would take the timer's signal, and the
 * start would never be made. Where its calls can be intercepted (the
 * preload library interposes sigaction and signal), its handler is kept
 * aside while this copy's is installed: the program reads it back as
 * installed, every SIGURG that is not one of our timers' is passed to it
 * as the kernel would pass it, and it (or the default) is installed for
 * real as soon as nothing here is armed any more: ours, left in place, would
 * keep aside a handler set later, and wake the program's sleeps for a
 * SIGURG it ignores.
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

#include "fork_path.h"
#include "late_start.h"
#include "procsum.h"

enum { SLOTS = 32, SLOT_BITS = 5, MAX_RANGES = 24, RUNNING_TRIES = 5000, WAITING_TRIES = 20, LONGEST_WAIT_MS = 1000 };

/* A slot's word: generation << STATE_BITS | state. An id: generation << SLOT_BITS | slot. */
enum { FREE, SETUP, ARMED, STARTING, GAVE_UP };
enum { STATE_BITS = 3, STATE_MASK = 7, GENERATION_MASK = 0xffffff };

/* How long a caller waits for a handler that is making a start on another thread. */
#define HANDLER_WAIT_NS 5000000000u

typedef struct {
    atomic_uint word;
    atomic_int owner;  /* the process that armed it */
    atomic_bool missed; /* a signal came while the handler was trying: try again soon */
    timer_t timer;
    psum_late_fn start;
    void *arg;
    unsigned running_tries, waiting_tries;
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

/* The C library's sigaction: the preload library's own stands in front of it. */
static psum_late_sigaction_fn real_sigaction = sigaction;
/* The program's SIGURG handler, kept aside while ours is installed (psum_late_keep_handler). */
static struct {
    atomic_bool allowed; /* the calls are intercepted: psum_late_keep_program_handlers */
    atomic_bool set;     /* the program asked for a handler of its own */
    atomic_int holder;   /* the process whose thread holds it, every signal blocked (by a handler too); 0: free */
    struct sigaction act;
} kept;

static unsigned state_of(unsigned word)
{
    return word & STATE_MASK;
}

static unsigned generation_of(unsigned word)
{
    return word >> STATE_BITS;
}

static unsigned word_of(unsigned gen, unsigned state)
{
    return gen << STATE_BITS | state;
}

/* While a handler on another thread makes a start; false once HANDLER_WAIT_NS have passed since *waited_ns was 0. */
static bool pause_briefly(uint64_t *waited_ns)
{
    if (*waited_ns >= HANDLER_WAIT_NS)
        return false;
    struct timespec a_while = {.tv_sec = 0, .tv_nsec = 100000};
    (void)nanosleep(&a_while, NULL);
    *waited_ns += 100000;
    return true;
}

#if defined(__x86_64__)
static void on_signal(int sig, siginfo_t *si, void *ctx);

/* Whether addr lies in a segment of the object. */
static bool in_object(const struct dl_phdr_info *info, uintptr_t addr)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && addr >= lo && addr < lo + ph->p_memsz)
            return true;
    }
    return false;
}

/* One loaded object: its executable segments are unsafe when one of the anchors lies in it. */
static int note_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    const uintptr_t *anchors = data;
    bool unsafe_object = info->dlpi_addr != 0 && info->dlpi_addr == getauxval(AT_BASE);
    for (const uintptr_t *a = anchors; *a && !unsafe_object; a++)
        unsafe_object = in_object(info, *a);
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
     * a sanitizer's runtime), this object, and the loader: by its base
     * address, and by _r_debug, which it defines (a program started as
     * `ld.so PROGRAM` has no base address in its auxiliary vector).
     */
    const uintptr_t anchors[] = {(uintptr_t)gnu_get_libc_version, (uintptr_t)calloc, (uintptr_t)pthread_create,
                                 (uintptr_t)on_signal, (uintptr_t)&_r_debug, 0};
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

/*
 * Whether the interrupted context blocks a signal that has a handler of the
 * program's: while a handler runs, its signal is blocked, and the code it
 * interrupted (malloc, say) may hold any lock.
 */
static bool maybe_in_a_handler(const ucontext_t *uc)
{
    for (int sig = 1; sig < 65; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP || sig == PSUM_LATE_SIGNAL || sigismember(&uc->uc_sigmask, sig) != 1)
            continue;
        struct sigaction now;
        if (real_sigaction(sig, NULL, &now) != 0)
            continue;
        if ((now.sa_flags & SA_SIGINFO) || (now.sa_handler != SIG_DFL && now.sa_handler != SIG_IGN))
            return true;
    }
    return false;
}

/* The system call the thread waits in (or is about to make), read from its context; -1 when not at one. */
static long waiting_call(const ucontext_t *uc, uintptr_t lo, uintptr_t hi)
{
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    const unsigned char *ip = (const unsigned char *)pc;
    long ax = (long)uc->uc_mcontext.gregs[REG_RAX];
    /* On a `syscall` instruction: about to make (or to restart) call number rax. */
    if (pc + 2 <= hi && ip[0] == 0x0f && ip[1] == 0x05)
        return ax;
    /* Just past one, returning EINTR: the number is the immediate of the `mov $nr, %eax` before it. */
    if (pc >= lo + 7 && ip[-2] == 0x0f && ip[-1] == 0x05 && ip[-7] == 0xb8 && ax == -EINTR) {
        uint32_t nr;
        memcpy(&nr, ip - 6, sizeof(nr));
        return (long)nr;
    }
    return -1;
}

/* Where the signal found the thread. */
typedef enum { SAFE, RUNNING, WAITING } found_at;

static found_at look_at(const void *ctx)
{
    const ucontext_t *uc = ctx;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP], lo, hi;
    bool in_unsafe_code = unsafe_range(pc, &lo, &hi);
    bool nested = maybe_in_a_handler(uc);
    if (!in_unsafe_code)
        return nested ? RUNNING : SAFE;
    long nr = waiting_call(uc, lo, hi);
    if (nr < 0)
        return RUNNING;
    return waits_without_locks(nr, (unsigned long)uc->uc_mcontext.gregs[REG_RSI]) ? SAFE : WAITING;
}

/*
 * The next try, after the signal found the thread running or waiting
 * (see the top of this file); -1 when the tries have run out.
 */
static int try_later(late_slot *s, found_at where)
{
    long ms;
    if (where == WAITING) {
        if (s->waiting_tries >= WAITING_TRIES)
            return -1;
        unsigned shift = s->waiting_tries < 10 ? s->waiting_tries : 10;
        ms = (1L << shift) < LONGEST_WAIT_MS ? (1L << shift) : LONGEST_WAIT_MS;
        s->waiting_tries++;
    } else {
        if (s->running_tries >= RUNNING_TRIES)
            return -1;
        ms = 2 + (long)((s->running_tries * 5u) % 8u);
        s->running_tries++;
    }
    struct itimerspec when = {.it_value = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000}};
    return timer_settime(s->timer, 0, &when, NULL) == 0 ? 0 : -1;
}

/*
 * Blocks asynchronous cancellation while the start is made: the thread
 * the signal interrupted may use it, and a cancellation inside
 * pthread_create would leave its locks held.
 */
static int start_deferred(late_slot *s)
{
    int type;
    bool changed = pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &type) == 0;
    int err = s->start(s->arg);
    if (changed && type != PTHREAD_CANCEL_DEFERRED)
        (void)pthread_setcanceltype(type, &type);
    return err;
}

/* The kept handler changes with every signal blocked on this thread: a handler here may read it. */
static void lock_kept(sigset_t *was)
{
    sigset_t all;
    sigfillset(&all);
    (void)pthread_sigmask(SIG_BLOCK, &all, was);
    int me = (int)syscall(SYS_getpid), held = 0;
    while (!atomic_compare_exchange_weak_explicit(&kept.holder, &held, me, memory_order_acquire,
                                                  memory_order_relaxed)) {
        /*
         * Another thread here copies one struct sigaction: wait. Held by
         * another process, the lock was held when that one forked this
         * one, by a thread this one does not have: taken over.
         */
        if (held == me)
            held = 0;
    }
}

static void unlock_kept(const sigset_t *was)
{
    atomic_store_explicit(&kept.holder, 0, memory_order_release);
    (void)pthread_sigmask(SIG_SETMASK, was, NULL);
}

static bool is_ours(const struct sigaction *sa)
{
    return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == on_signal;
}

/* Whether this copy's handler is the one installed. */
static bool handler_is_ours(void)
{
    struct sigaction now;
    return real_sigaction(PSUM_LATE_SIGNAL, NULL, &now) == 0 && is_ours(&now);
}

/* Installs this copy's handler, SA_RESTART or not; nothing else runs inside it. 0 or -1, as sigaction. */
static int install_ours(int restart)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | restart;
    sigfillset(&sa.sa_mask);
    return real_sigaction(PSUM_LATE_SIGNAL, &sa, NULL);
}

void psum_late_keep_program_handlers(psum_late_sigaction_fn next)
{
    real_sigaction = next;
    atomic_store(&kept.allowed, true);
}

/*
 * Our handler again, with the kept handler's SA_RESTART (kept.lock held):
 * the kernel applies it before any handler runs, restarting the call a
 * SIGURG interrupted or not. An ignored signal interrupts nothing:
 * SA_RESTART then. Not SA_ONSTACK: a start made on a small alternate
 * stack would overflow it; pass_to_program switches stacks itself.
 */
static void follow_kept_flags_locked(void)
{
    bool handles = (kept.act.sa_flags & SA_SIGINFO) ||
                   (kept.act.sa_handler != SIG_DFL && kept.act.sa_handler != SIG_IGN);
    (void)install_ours(handles ? kept.act.sa_flags & SA_RESTART : SA_RESTART);
}

/* Installs the program's kept handler, or the default, in place of this copy's (kept.lock held). */
static void give_back_locked(void)
{
    if (!handler_is_ours())
        return;
    struct sigaction back;
    memset(&back, 0, sizeof(back)); /* SIG_DFL */
    if (atomic_load(&kept.set))
        back = kept.act;
    if (real_sigaction(PSUM_LATE_SIGNAL, &back, NULL) == 0)
        atomic_store(&kept.set, false);
}

/* Whether a start of this process is armed in this copy, without waiting for one being made. */
static bool any_armed(int pid)
{
    for (size_t i = 0; i < SLOTS; i++) {
        unsigned state = state_of(atomic_load(&slots[i].word));
        if (state != FREE && state != GAVE_UP && atomic_load(&slots[i].owner) == pid)
            return true;
    }
    return false;
}

/*
 * From the handler, once its start is made or given up: the program's own
 * handler, or the default, takes over where its calls are intercepted.
 * Even with none set yet: one set later would stay aside for good where
 * nothing releases the signal (outside, no waiter does).
 */
static void hand_back(int pid)
{
    if (!atomic_load(&kept.allowed) || any_armed(pid))
        return;
    sigset_t was;
    lock_kept(&was);
    give_back_locked();
    unlock_kept(&was);
}

bool psum_late_keep_handler(const struct sigaction *act, struct sigaction *old)
{
    if (!atomic_load(&kept.allowed))
        return false;
    sigset_t was;
    lock_kept(&was);
    bool ours = handler_is_ours();
    /* Nothing armed here: a child forked during the delay, whose timer stayed in its parent. Given back for good. */
    if (ours && !any_armed((int)syscall(SYS_getpid))) {
        give_back_locked();
        ours = false;
    }
    if (ours && old)
        *old = kept.act; /* all zeros until the program sets one: SIG_DFL */
    if (ours && act) {
        kept.act = *act;
        atomic_store(&kept.set, true);
        follow_kept_flags_locked();
    }
    unlock_kept(&was);
    return ours;
}

/* fn(sig, si, ctx) with its stack below top: a handler of SA_ONSTACK on the alternate stack. */
void psum_late_call_on_stack(int sig, siginfo_t *si, void *ctx, void (*fn)(int, siginfo_t *, void *), void *top)
    __attribute__((visibility("hidden")));
__asm__(".text\n"
        ".globl psum_late_call_on_stack\n"
        ".hidden psum_late_call_on_stack\n"
        ".type psum_late_call_on_stack, @function\n"
        "psum_late_call_on_stack:\n"
        ".cfi_startproc\n"
        "push %rbp\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset %rbp, -16\n"
        "mov %rsp, %rbp\n"
        ".cfi_def_cfa_register %rbp\n"
        "and $-16, %r8\n"
        "mov %r8, %rsp\n"
        "call *%rcx\n"
        "mov %rbp, %rsp\n"
        "pop %rbp\n"
        ".cfi_def_cfa %rsp, 8\n"
        "ret\n"
        ".cfi_endproc\n"
        ".size psum_late_call_on_stack, .-psum_late_call_on_stack\n");

/* The top of the thread's alternate stack, where the kernel would run a handler of SA_ONSTACK; NULL for here. */
static void *alternate_stack(int flags)
{
    stack_t alt;
    if (!(flags & SA_ONSTACK) || sigaltstack(NULL, &alt) != 0 || (alt.ss_flags & (SS_DISABLE | SS_ONSTACK)))
        return NULL;
    return (char *)alt.ss_sp + alt.ss_size;
}

/*
 * A SIGURG that is not one of our timers': the program's kept handler gets
 * it as the kernel would give it (its mask added to the interrupted one's,
 * its signal blocked unless SA_NODEFER, reset first with SA_RESETHAND, on
 * the alternate stack with SA_ONSTACK).
 */
static void pass_to_program(int sig, siginfo_t *si, void *ctx)
{
    if (!atomic_load(&kept.set))
        return; /* the default, which is to ignore it */
    sigset_t was;
    lock_kept(&was);
    struct sigaction h = kept.act;
    if (h.sa_flags & SA_RESETHAND) {
        memset(&kept.act, 0, sizeof(kept.act));
        follow_kept_flags_locked();
    }
    unlock_kept(&was);
    bool info = (h.sa_flags & SA_SIGINFO) != 0;
    if (!info && (h.sa_handler == SIG_DFL || h.sa_handler == SIG_IGN))
        return;
    const ucontext_t *uc = ctx;
    sigset_t interrupted = uc->uc_sigmask, mask;
    if (sigorset(&mask, &interrupted, &h.sa_mask) != 0)
        mask = interrupted;
    if (!(h.sa_flags & SA_NODEFER))
        sigaddset(&mask, sig);
    void *top = alternate_stack(h.sa_flags);
    (void)pthread_sigmask(SIG_SETMASK, &mask, NULL); /* the kernel puts back the interrupted mask on return */
    if (top)
        psum_late_call_on_stack(sig, si, ctx, h.sa_sigaction, top); /* the union's same pointer, either kind */
    else if (info)
        h.sa_sigaction(sig, si, ctx);
    else
        h.sa_handler(sig);
}

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
    int saved = errno;
    if (si->si_code != SI_TIMER) {
        pass_to_program(sig, si, ctx); /* another process's, or the kernel's (out-of-band data) */
        errno = saved;
        return;
    }
    unsigned id = (unsigned)si->si_value.sival_int;
    late_slot *s = &slots[id & (SLOTS - 1)];
    unsigned gen = id >> SLOT_BITS;
    unsigned armed = word_of(gen, ARMED);
    int pid = (int)syscall(SYS_getpid);
    if (atomic_load(&s->owner) != pid || (intptr_t)s->timer != si->si_timerid) {
        pass_to_program(sig, si, ctx); /* a timer of the program's, or one from before an exec */
        errno = saved;
        return;
    }
    if (!atomic_compare_exchange_strong(&s->word, &armed, word_of(gen, STARTING))) {
        /* Another thread's handler is at it: its try may have been the one this signal ends. */
        if (armed == word_of(gen, STARTING))
            atomic_store(&s->missed, true);
        errno = saved;
        return;
    }
    timer_t timer = s->timer;
    found_at where = look_at(ctx);
    /* A start that fails (no memory for a thread now) is tried again as if the thread ran. */
    if (where == SAFE && start_deferred(s) == 0) {
        atomic_store(&s->word, word_of(gen, FREE));
        (void)timer_delete(timer);
        hand_back(pid);
        errno = saved;
        return;
    }
    if (where == SAFE)
        where = RUNNING;
    atomic_store(&s->missed, false);
    if (try_later(s, where) != 0) {
        atomic_store(&s->word, word_of(gen, GAVE_UP));
        (void)timer_delete(timer);
        hand_back(pid);
        errno = saved;
        return;
    }
    atomic_store(&s->word, word_of(gen, ARMED));
    /* A signal that came meanwhile found the slot busy and was dropped: the timer may be spent. */
    if (atomic_exchange(&s->missed, false))
        (void)try_later(s, RUNNING);
    errno = saved;
}

/* Installs the handler where the program left the default; 0 or PROCSUM_EBUSY. */
PSUM_FORK_PATH static int take_signal(void)
{
    struct sigaction now;
    if (real_sigaction(PSUM_LATE_SIGNAL, NULL, &now) != 0)
        return PROCSUM_EBUSY;
    if (is_ours(&now))
        return 0;
    if ((now.sa_flags & SA_SIGINFO) || now.sa_handler != SIG_DFL)
        return PROCSUM_EBUSY; /* the program's own handler, or SIG_IGN, which exec would not give back */
    return install_ours(SA_RESTART) == 0 ? 0 : PROCSUM_EBUSY;
}

/* A slot for this process: free, or armed by another one (a parent: its timers are not here). */
PSUM_FORK_PATH static late_slot *claim_slot(int pid, unsigned gen)
{
    for (size_t i = 0; i < SLOTS; i++) {
        late_slot *s = &slots[i];
        unsigned w = atomic_load(&s->word);
        bool ours = atomic_load(&s->owner) == pid;
        if (ours && state_of(w) != FREE && state_of(w) != GAVE_UP)
            continue;
        if (atomic_compare_exchange_strong(&s->word, &w, word_of(gen, SETUP)))
            return s;
    }
    return NULL;
}

PSUM_FORK_PATH int psum_late_arm(psum_late_fn start, void *arg, uint64_t delay_ns, uint32_t *id)
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
    s->running_tries = 0;
    s->waiting_tries = 0;
    atomic_store(&s->missed, false);
    atomic_store(&s->owner, pid);
    unsigned slot_id = gen << SLOT_BITS | (unsigned)(s - slots);
    struct sigevent ev;
    memset(&ev, 0, sizeof(ev));
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = PSUM_LATE_SIGNAL;
    ev.sigev_value.sival_int = (int)slot_id;
    if (timer_create(CLOCK_MONOTONIC, &ev, &s->timer) != 0) {
        atomic_store(&s->word, word_of(gen, FREE));
        return PROCSUM_EAGAIN;
    }
    timer_t timer = s->timer;
    atomic_store(&s->word, word_of(gen, ARMED));
    /* A zero it_value would disarm the timer: at least a nanosecond. */
    uint64_t ns = delay_ns ? delay_ns : 1;
    struct itimerspec when = {.it_value = {.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)}};
    if (timer_settime(timer, 0, &when, NULL) != 0) {
        unsigned w = word_of(gen, ARMED);
        if (atomic_compare_exchange_strong(&s->word, &w, word_of(gen, FREE)))
            (void)timer_delete(timer);
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

void psum_late_keep_program_handlers(psum_late_sigaction_fn next)
{
    real_sigaction = next;
}

bool psum_late_keep_handler(const struct sigaction *act, struct sigaction *old)
{
    (void)act;
    (void)old;
    return false;
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

void psum_late_ordinary_scheduling(pthread_attr_t *attr)
{
    struct sched_param none = {.sched_priority = 0};
    if (pthread_attr_setinheritsched(attr, PTHREAD_EXPLICIT_SCHED) == 0 &&
        (pthread_attr_setschedpolicy(attr, SCHED_OTHER) != 0 || pthread_attr_setschedparam(attr, &none) != 0))
        (void)pthread_attr_setinheritsched(attr, PTHREAD_INHERIT_SCHED);
}

bool psum_late_cancel(uint32_t id)
{
    late_slot *s = &slots[id & (SLOTS - 1)];
    unsigned gen = id >> SLOT_BITS;
    uint64_t waited = 0;
    for (;;) {
        unsigned w = atomic_load(&s->word);
        if (generation_of(w) != gen || state_of(w) == FREE)
            return false; /* the handler started it and let the slot go */
        timer_t timer = s->timer; /* read before the slot is let go: another arm may take it at once */
        if (state_of(w) == GAVE_UP)
            return atomic_compare_exchange_strong(&s->word, &w, word_of(gen, FREE));
        if (state_of(w) == ARMED) {
            if (atomic_compare_exchange_strong(&s->word, &w, word_of(gen, FREE))) {
                (void)timer_delete(timer);
                return true;
            }
            continue;
        }
        /* STARTING: the handler, on another thread, is at it. A start that hangs there is not waited for ever. */
        if (!pause_briefly(&waited))
            return false;
    }
}

bool psum_late_take_back(psum_late_fn start, void *arg)
{
    int pid = (int)getpid();
    for (size_t i = 0; i < SLOTS; i++) {
        late_slot *s = &slots[i];
        unsigned w = atomic_load(&s->word);
        unsigned state = state_of(w);
        if (state == FREE || state == SETUP || atomic_load(&s->owner) != pid)
            continue;
        bool same = s->start == start && s->arg == arg;
        /* Read while the slot stayed this arming's: an arm in between rewrites them. */
        if (!same || atomic_load(&s->word) != w)
            continue;
        return psum_late_cancel(generation_of(w) << SLOT_BITS | (unsigned)i);
    }
    return false;
}

/* Whether a slot of this process is armed (or being armed); waits out a start the handler is making. */
static bool armed_here(int pid)
{
    for (size_t i = 0; i < SLOTS; i++) {
        unsigned state;
        uint64_t waited = 0;
        /* The thread a handler has just started may ask before that handler has let its slot go. */
        while ((state = state_of(atomic_load(&slots[i].word))) == STARTING && atomic_load(&slots[i].owner) == pid &&
               pause_briefly(&waited))
            ;
        if (state != FREE && state != GAVE_UP && atomic_load(&slots[i].owner) == pid)
            return true;
    }
    return false;
}

void psum_late_release_signal(void)
{
#if defined(__x86_64__)
    if (armed_here((int)getpid()))
        return;
    sigset_t was;
    lock_kept(&was);
    give_back_locked();
    unlock_kept(&was);
#endif
}
