/*
 * The name function of a list of named values in procsum.h, expanded from
 * the list itself. The library (api.c) and the preload library, which must
 * answer the same names before it loads libprocsum, share it.
 */
#ifndef PSUM_NAMES_H
#define PSUM_NAMES_H

#include "procsum.h"

#define PSUM_NAME_CASE(NAME, value, name, meaning) \
    case value: return name;
#define PSUM_NAME_FUNCTION(function, type, MAP) \
    const char *function(type v)                \
    {                                           \
        switch ((int)v) {                       \
            MAP(PSUM_NAME_CASE)                 \
        }                                       \
        return "unknown";                       \
    }

#endif
