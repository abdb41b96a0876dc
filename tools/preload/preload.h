/* What the preload library's files share: libprocsum's functions, once it is loaded. */
#ifndef PSUM_PRELOAD_H
#define PSUM_PRELOAD_H

#include "procsum.h"

typedef struct psum_preload_functions {
    void (*options_init)(procsum_options *o);
    int (*start)(const procsum_options *o, procsum_callback cb, void *userdata, procsum_checker **out);
    int (*algorithm_parse)(const char *name, procsum_algorithm *out);
    const char *(*algorithm_name)(procsum_algorithm a);
    size_t (*digest_len)(procsum_algorithm a);
    int (*get_stats)(const procsum_checker *c, procsum_stats *out);
} psum_preload_functions;

/* All NULL until libprocsum is loaded. */
extern psum_preload_functions psum_preload_lib;

#endif
