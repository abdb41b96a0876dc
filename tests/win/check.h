/*
 * A tiny test harness for the Windows test programs (Criterion has no MinGW
 * build): CHECK counts and reports, check_summary() prints
 * "N passed, M failed" and gives the exit status.
 */
#ifndef PSUM_WIN_CHECK_H
#define PSUM_WIN_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int check_passed, check_failed;

#define CHECK(cond, ...)                                                          \
    do {                                                                          \
        if (cond) {                                                               \
            check_passed++;                                                       \
        } else {                                                                  \
            check_failed++;                                                       \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);       \
            fprintf(stderr, __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                  \
            fflush(stderr);                                                       \
        }                                                                         \
    } while (0)

/* Runs one test function, naming it first so that a crash shows where. */
#define RUN(fn)                                                                   \
    do {                                                                          \
        printf("- %s\n", #fn);                                                    \
        fflush(stdout);                                                           \
        fn();                                                                     \
    } while (0)

static int check_summary(const char *program)
{
    printf("%s: %d passed, %d failed\n", program, check_passed, check_failed);
    fflush(stdout);
    return check_failed == 0 && check_passed > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
