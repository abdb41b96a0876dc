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

const char *procsum_region_kind_name(procsum_region_kind k)
{
    switch (k) {
    case PROCSUM_REGION_FILE: return "file";
    case PROCSUM_REGION_ANON: return "anon";
    case PROCSUM_REGION_VDSO: return "vdso";
    case PROCSUM_REGION_OTHER: return "other";
    }
    return "unknown";
}

const char *procsum_verdict_name(procsum_verdict v)
{
    switch (v) {
    case PROCSUM_VERDICT_UNKNOWN: return "unknown";
    case PROCSUM_VERDICT_BITFLIP: return "bitflip";
    case PROCSUM_VERDICT_MULTI_BIT: return "multi-bit";
    case PROCSUM_VERDICT_PATCH: return "patch";
    case PROCSUM_VERDICT_RESTORED: return "restored";
    }
    return "unknown";
}

const char *procsum_file_status_name(procsum_file_status s)
{
    switch (s) {
    case PROCSUM_FILE_COMPARED: return "compared";
    case PROCSUM_FILE_NONE: return "none";
    case PROCSUM_FILE_REPLACED: return "replaced";
    case PROCSUM_FILE_UNREADABLE: return "unreadable";
    case PROCSUM_FILE_RELOCATED: return "relocated";
    }
    return "unknown";
}

const char *procsum_version_string(void)
{
    return STR(PROCSUM_VERSION_MAJOR) "." STR(PROCSUM_VERSION_MINOR) "." STR(PROCSUM_VERSION_PATCH);
}
