/* The small parts of the public API: defaults, names, version. */
#include <string.h>

#include "digest/digest.h"
#include "procsum.h"

#define STR2(x) #x
#define STR(x) STR2(x)

void procsum_options_init(procsum_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof(*o));
    o->check_period_ms = 1000;
    o->skip_libs = false;
    o->search_once = false;
    o->include_writable_code = false;
    o->algorithm = PROCSUM_ALGO_BLAKE3;
    o->low_priority = true;
    o->verify_file = true;
}

static const char *const ALGO_NAMES[] = {"blake3", "crc64", "xxh3"};

const char *procsum_algorithm_name(procsum_algorithm a)
{
    return psum_algorithm_valid(a) ? ALGO_NAMES[a] : NULL;
}

int procsum_algorithm_parse(const char *name, procsum_algorithm *out)
{
    if (!name || !out)
        return PROCSUM_EINVAL;
    for (size_t i = 0; i < sizeof(ALGO_NAMES) / sizeof(ALGO_NAMES[0]); i++) {
        if (strcmp(name, ALGO_NAMES[i]) == 0) {
            *out = (procsum_algorithm)i;
            return 0;
        }
    }
    return PROCSUM_EINVAL;
}

size_t procsum_digest_len(procsum_algorithm a)
{
    return psum_digest_len(a);
}

/* A name function for each list of named values in procsum.h. */
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

PSUM_NAME_FUNCTION(procsum_region_kind_name, procsum_region_kind, PROCSUM_REGION_KIND_MAP)
PSUM_NAME_FUNCTION(procsum_verdict_name, procsum_verdict, PROCSUM_VERDICT_MAP)
PSUM_NAME_FUNCTION(procsum_file_status_name, procsum_file_status, PROCSUM_FILE_STATUS_MAP)
PSUM_NAME_FUNCTION(procsum_report_kind_name, procsum_report_kind, PROCSUM_REPORT_KIND_MAP)

const char *procsum_version_string(void)
{
    return STR(PROCSUM_VERSION_MAJOR) "." STR(PROCSUM_VERSION_MINOR) "." STR(PROCSUM_VERSION_PATCH);
}
