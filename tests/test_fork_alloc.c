/*
 * follow_fork: between fork() and the start of its thread, the child's
 * checker allocates nothing. Another thread of the parent may have been
 * inside the allocator at the instant of the fork, and an allocator that is
 * not fork-safe (AddressSanitizer's) stays locked in the child. So the
 * forking thread's allocations in the child, up to the end of the fork
 * handlers, are counted (through AddressSanitizer's hooks, or by wrapping
 * the C library's allocator) and must be no more than one pthread_create
 * makes: it allocates its new thread's table of TLS blocks itself, unless
 * it reuses the stack of a thread that ended (in a child, any of the
 * parent's other threads).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procsum.h"

static _Thread_local bool counting; /* this thread's allocations are counted */
static pid_t not_in;                /* ... except in this process (0: none) */
static atomic_int allocations;

static void count_one(void)
{
    if (counting && (not_in == 0 || getpid() != not_in))
        atomic_fetch_add(&allocations, 1);
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
    (void)p;
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
