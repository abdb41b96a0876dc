/*
 * follow_fork: a forked child's checker never calls the program's
 * allocator. Another thread of the parent may have been inside the
 * allocator at the instant of the fork, and an allocator that is not
 * fork-safe (AddressSanitizer's) stays locked in the child. Allocations
 * and frees are counted (through AddressSanitizer's hooks, or by wrapping
 * the C library's allocator):
 * - the forking thread's in the child, up to the end of the fork handlers,
 *   must be no more than one pthread_create makes: it allocates its new
 *   thread's table of TLS blocks itself, unless it reuses the stack of a
 *   thread that ended (in a child, any of the parent's other threads);
 * - every thread's in the child from then on, through the checker's first
 *   passes, a procsum_check_now and procsum_stop of the child's checker
 *   (and of the parent's, there), must be none;
 * - in any process, passes over code that did not change allocate nothing.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procsum.h"

static _Thread_local bool counting; /* this thread's allocations are counted */
static pid_t not_in;                /* ... except in this process (0: none) */
static atomic_int allocations;
static atomic_bool counting_all;    /* every thread's allocations and frees are counted */
static atomic_int all_allocations, all_frees;

static void count_one(void)
{
    if (counting && (not_in == 0 || getpid() != not_in))
        atomic_fetch_add(&allocations, 1);
    if (atomic_load(&counting_all)) {
        atomic_fetch_add(&all_allocations, 1);
    }
}

static void count_free(const volatile void *p)
{
    if (p && atomic_load(&counting_all)) {
        atomic_fetch_add(&all_frees, 1);
    }
}

#if defined(__SANITIZE_ADDRESS__)
int __sanitizer_install_malloc_and_free_hooks(void (*on_malloc)(const volatile void *, size_t),
                                              void (*on_free)(const volatile void *));

static void on_malloc(const volatile void *p, size_t n)
{
    (void)p;
    (void)n;
    count_one();
}

static void on_free(const volatile void *p)
{
    count_free(p);
}

static void install_counter(void)
{
    cr_assert_neq(__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free), 0);
}
#else
/* The C library's allocator under its public names, each call counted: the loader's calloc comes here too. */
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t count, size_t n);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

void *malloc(size_t n)
{
    count_one();
    return __libc_malloc(n);
}

void *calloc(size_t count, size_t n)
{
    count_one();
    return __libc_calloc(count, n);
}

void *realloc(void *p, size_t n)
{
    count_one();
    return __libc_realloc(p, n);
}

void free(void *p)
{
    count_free(p);
    __libc_free(p);
}

static void install_counter(void)
{
}
#endif

static void *idle(void *arg)
{
    return arg;
}

/* What one pthread_create allocates, as the checker's thread is created (512 KiB of stack). */
static int allocations_of_pthread_create(void)
{
    pthread_attr_t attr;
    cr_assert_eq(pthread_attr_init(&attr), 0);
    cr_assert_eq(pthread_attr_setstacksize(&attr, (size_t)512 << 10), 0);
    pthread_t t;
    atomic_store(&allocations, 0);
    not_in = 0;
    counting = true;
    int rc = pthread_create(&t, &attr, idle, NULL);
    counting = false;
    cr_assert_eq(rc, 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&attr);
    return atomic_load(&allocations);
}

/* Registered after procsum's: runs before its prepare handler, and after its child handler. */
static void count_from_here(void)
{
    atomic_store(&allocations, 0);
    not_in = getpid();
    counting = true;
}

static void stop_counting(void)
{
    counting = false;
}

static int in_child_at_fork = -1;

static void child_stop_counting(void)
{
    counting = false;
    in_child_at_fork = atomic_load(&allocations);
}

Test(fork_alloc, the_child_handler_allocates_no_more_than_pthread_create, .timeout = 120)
{
    install_counter();
    int reference = allocations_of_pthread_create();
    procsum_options o;
    procsum_options_init(&o);
    o.follow_fork = true;
    o.check_period_ms = 1;
    procsum_checker *c = NULL;
    cr_assert_eq(procsum_start(&o, NULL, NULL, &c), 0);
    cr_assert_eq(pthread_atfork(count_from_here, stop_counting, child_stop_counting), 0);
    /* The first fork makes the child's checker (in the parent), the next ones reuse it. */
    for (int round = 0; round < 3; round++) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            alarm(20);
            procsum_checker *child = procsum_forked(c);
            int rc = !child ? 2 : in_child_at_fork > reference ? 3 : procsum_check_now(child) < 0 ? 4 : 0;
            if (child && procsum_stop(child) != 0)
                rc = 5;
            _exit(rc ? rc * 16 + (in_child_at_fork & 15) : 0);
        }
        int status = 0;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status), "round %d: the child died (status %#x)", round, status);
        int code = WEXITSTATUS(status);
        cr_assert_eq(code, 0,
                     "round %d: child exit %d (2: no checker, 3: %d allocations in the fork handlers against %d of "
                     "pthread_create, 4: no pass, 5: stop failed)",
                     round, code >> 4, code & 15, reference);
    }
    cr_assert_eq(procsum_stop(c), 0);
}

static void start_counting_all(void)
{
    atomic_store(&all_allocations, 0);
    atomic_store(&all_frees, 0);
    atomic_store(&counting_all, true);
}

/* Allocations and frees counted since start_counting_all. */
static int stop_counting_all(void)
{
    atomic_store(&counting_all, false);
    return atomic_load(&all_allocations) + atomic_load(&all_frees);
}

static void nap_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Waits (up to 20 s) until the checker has made `passes` passes in all. */
static bool passes_reach(procsum_checker *c, uint64_t passes)
{
    for (int i = 0; i < 20000; i++) {
        procsum_stats st;
        procsum_get_stats(c, &st);
        if (st.passes >= passes)
            return true;
        nap_ms(1);
    }
    return false;
}

/* A checker that makes a pass every millisecond, at the ordinary priority. */
static procsum_checker *start_fast(bool follow_fork)
{
    procsum_options o;
    procsum_options_init(&o);
    o.follow_fork = follow_fork;
    o.check_period_ms = 1;
    o.low_priority = false;
    procsum_checker *c = NULL;
    cr_assert_eq(procsum_start(&o, NULL, NULL, &c), 0);
    return c;
}

/*
 * The child's exit: 0, or 1 (no checker) / 2 (too few passes) / 3 (no
 * answer from procsum_check_now) / 4 (a stop failed) / 5 (a report, where
 * nothing changed), or 8 + the count of
 * allocations and frees (capped) made from the end of the fork handlers on,
 * its checker thread's start and end included (AddressSanitizer's start of
 * a thread allocates: procsum starts this one past it).
 */
static int child_allocates_nothing(procsum_checker *c)
{
    procsum_checker *child = procsum_forked(c);
    if (!child)
        return 1;
    start_counting_all();
    procsum_stats st;
    procsum_get_stats(child, &st);
    bool passed = passes_reach(child, st.passes + 8);
    int found = procsum_check_now(child);
    int stopped = procsum_stop(child);
    int stopped_parent = procsum_stop(c);
    int made = stop_counting_all();
    if (made > 0)
        return 8 + (made < 100 ? made : 100);
    return !passed ? 2 : found < 0 ? 3 : stopped != 0 || stopped_parent != 0 ? 4 : found > 0 ? 5 : 0;
}

Test(fork_alloc, the_childs_passes_check_now_and_stop_allocate_nothing, .timeout = 120)
{
    install_counter();
    procsum_checker *c = start_fast(true);
    /* A few passes first: the pages the test has just run settle in the baseline the child goes on from. */
    for (int i = 0; i < 3; i++)
        cr_assert_geq(procsum_check_now(c), 0);
    for (int round = 0; round < 3; round++) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            alarm(60);
            _exit(child_allocates_nothing(c));
        }
        int status = 0;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status), "round %d: the child died (status %#x)", round, status);
        int code = WEXITSTATUS(status);
        cr_assert_lt(code, 8, "round %d: the child's checker made %d allocations and frees", round, code - 8);
        cr_assert_eq(code, 0, "round %d: child exit %d (1: no checker, 2: too few passes, 3: no answer, 4: stop "
                     "failed, 5: a report)", round, code);
    }
    cr_assert_eq(procsum_stop(c), 0);
}

Test(fork_alloc, passes_over_unchanged_code_allocate_nothing, .timeout = 120)
{
    install_counter();
    procsum_checker *c = start_fast(false);
    for (int i = 0; i < 3; i++)
        cr_assert_geq(procsum_check_now(c), 0);
    procsum_stats st;
    procsum_get_stats(c, &st);
    start_counting_all();
    bool passed = passes_reach(c, st.passes + 20);
    int found = procsum_check_now(c);
    int made = stop_counting_all();
    cr_assert(passed, "the checker made no 20 passes");
    cr_assert_eq(found, 0);
    cr_assert_eq(made, 0, "%d allocations and frees in 20 passes over unchanged code", made);
    cr_assert_eq(procsum_stop(c), 0);
}
