/*
 * The fuzz targets' one assertion. A broken promise must stop the run the
 * way a sanitizer does, so that libFuzzer saves the input: it prints what
 * was broken and aborts. Kept apart from assert(), which NDEBUG would remove.
 */
#ifndef PSUM_FUZZ_CHECK_H
#define PSUM_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, ...)                                                    \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: broken promise: ", __FILE__, __LINE__);      \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
            abort();                                                             \
        }                                                                        \
    } while (0)

#endif
