/*
 * Every function procsum exports. Each validates what the caller passed,
 * calls the engine (checker.c, oneshot.c, verify.c, errors.c) and lets out only the
 * codes procsum.h documents (psum_error_filter): nothing else in the
 * library is visible from outside.
 */
#include <string.h>

#include "checker.h"
#include "digest/digest.h"
#include "digestcache.h"
#include "errors.h"
#include "names.h"
#include "oneshot.h"
#include "procsum.h"
#include "runner.h"
#include "verify.h"

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
    o->verify_below_cache = true;
    o->lazy_start = false;
    o->lazy_start_delay_ms = 100;
    o->pid = 0;
    o->skip_files = NULL;
}

/* An empty pattern matches no file's path: a mistake, refused. */
static int validate_skip_files(const char *const *patterns)
{
    for (size_t i = 0; patterns && patterns[i]; i++)
        if (i == PROCSUM_MAX_SKIP_FILES || !patterns[i][0])
            return PROCSUM_EINVAL;
    return 0;
}

/* A period of 0 would make the checker spin on a core: it is refused rather than given a meaning. */
static int validate(const procsum_options *o)
{
    if (!o || !psum_algorithm_valid(o->algorithm) || o->max_cpu_percent > 100 || o->check_period_ms == 0 ||
        o->pid < 0)
        return PROCSUM_EINVAL;
    if (o->digest_cache && !psum_digestcache_fits(o->digest_cache, o))
        return PROCSUM_EINVAL;
    return validate_skip_files(o->skip_files);
}

/* A handle the caller may still use: not NULL, not stopped. */
static int usable(const procsum_checker *c)
{
    return c && psum_checker_alive(c) ? 0 : PROCSUM_EINVAL;
}

int procsum_start(const procsum_options *o, procsum_callback cb, void *userdata, procsum_checker **out)
{
    if (!out)
        return PROCSUM_EINVAL;
    *out = NULL;
    int err = validate(o);
    if (!err)
        err = psum_checker_start(o, cb, userdata, out);
    return psum_error_filter(err);
}

int procsum_stop(procsum_checker *c)
{
    if (!c)
        return 0;
    int err = usable(c);
    if (!err)
        err = psum_checker_stop(c);
    return psum_error_filter(err);
}

int procsum_check_now(procsum_checker *c)
{
    int err = usable(c);
    return psum_error_filter(err ? err : psum_checker_request(c, false));
}

int procsum_rebaseline(procsum_checker *c)
{
    int err = usable(c);
    return psum_error_filter(err ? err : psum_checker_request(c, true));
}

procsum_checker *procsum_forked(const procsum_checker *parent)
{
    return usable(parent) == 0 ? psum_checker_forked(parent) : NULL;
}

uint64_t procsum_mismatch_count(const procsum_checker *c)
{
    procsum_stats stats;
    return procsum_get_stats(c, &stats) == 0 ? stats.mismatches : 0;
}

int procsum_get_stats(const procsum_checker *c, procsum_stats *out)
{
    if (!out || usable(c) != 0)
        return PROCSUM_EINVAL;
    psum_checker_stats(c, out);
    return 0;
}

int procsum_run(const procsum_options *o, procsum_callback cb, void *userdata)
{
    int err = validate(o);
    if (!err && o->runner)
        err = PROCSUM_EINVAL; /* it runs on the caller's thread */
    return psum_error_filter(err ? err : psum_checker_run(o, cb, userdata));
}

/* One listing and hashing pass, for the benchmark and the listing; *r is zeroed on failure. */
static int oneshot(const procsum_options *o, psum_oneshot_result *r)
{
    memset(r, 0, sizeof(*r));
    int err = validate(o);
    return err ? err : psum_oneshot(o, r);
}

int procsum_benchmark(const procsum_options *o, procsum_benchmark_result *out)
{
    if (!out)
        return PROCSUM_EINVAL;
    psum_oneshot_result r;
    int err = oneshot(o, &r);
    *out = (procsum_benchmark_result){.scan_ns = r.scan_ns,
                                      .hash_ns = r.hash_ns,
                                      .hashed_bytes = r.hashed_bytes,
                                      .regions = r.regions,
                                      .region_count = r.region_count};
    return psum_error_filter(err);
}

void procsum_benchmark_result_free(procsum_benchmark_result *r)
{
    if (!r)
        return;
    psum_region_array_free(r->regions, r->region_count);
    memset(r, 0, sizeof(*r));
}

int procsum_list_regions(const procsum_options *o, procsum_region_list *out)
{
    if (!out)
        return PROCSUM_EINVAL;
    psum_oneshot_result r;
    int err = oneshot(o, &r);
    *out = (procsum_region_list){.regions = r.regions, .count = r.region_count};
    return psum_error_filter(err);
}

void procsum_region_list_free(procsum_region_list *l)
{
    if (!l)
        return;
    psum_region_array_free(l->regions, l->count);
    memset(l, 0, sizeof(*l));
}

int procsum_verifier_new(const procsum_options *o, procsum_verifier **out)
{
    if (!out)
        return PROCSUM_EINVAL;
    *out = NULL;
    int err = validate(o);
    return psum_error_filter(err ? err : psum_verifier_new(o, out));
}

int procsum_verifier_check(procsum_verifier *v, long pid, procsum_verify_result *out)
{
    if (!out)
        return PROCSUM_EINVAL;
    memset(out, 0, sizeof(*out));
    if (!v || pid < 0)
        return PROCSUM_EINVAL;
    return psum_error_filter(psum_verifier_check(v, pid, out));
}

void procsum_verifier_free(procsum_verifier *v)
{
    psum_verifier_free(v);
}

int procsum_verify(const procsum_options *o, procsum_verify_result *out)
{
    procsum_verifier *v;
    int err = procsum_verifier_new(o, &v);
    if (err) {
        if (out)
            memset(out, 0, sizeof(*out));
        return err;
    }
    err = procsum_verifier_check(v, o->pid, out);
    procsum_verifier_free(v);
    return err;
}

void procsum_verify_result_free(procsum_verify_result *r)
{
    if (r)
        psum_verify_result_free(r);
}

const char *procsum_strerror(int err)
{
    return psum_error_text(err);
}

const char *procsum_err_name(int err)
{
    return psum_error_name(err);
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

/* A name function for each list of named values in procsum.h (names.h). */
PSUM_NAME_FUNCTION(procsum_region_kind_name, procsum_region_kind, PROCSUM_REGION_KIND_MAP)
PSUM_NAME_FUNCTION(procsum_verdict_name, procsum_verdict, PROCSUM_VERDICT_MAP)
PSUM_NAME_FUNCTION(procsum_file_status_name, procsum_file_status, PROCSUM_FILE_STATUS_MAP)
PSUM_NAME_FUNCTION(procsum_report_kind_name, procsum_report_kind, PROCSUM_REPORT_KIND_MAP)
PSUM_NAME_FUNCTION(procsum_cause_name, procsum_cause, PROCSUM_CAUSE_MAP)
PSUM_NAME_FUNCTION(procsum_copy_name, procsum_copy, PROCSUM_COPY_MAP)
PSUM_NAME_FUNCTION(procsum_reference_name, procsum_reference, PROCSUM_REFERENCE_MAP)
PSUM_NAME_FUNCTION(procsum_repair_name, procsum_repair, PROCSUM_REPAIR_MAP)

const char *procsum_version_string(void)
{
    return STR(PROCSUM_VERSION_MAJOR) "." STR(PROCSUM_VERSION_MINOR) "." STR(PROCSUM_VERSION_PATCH);
}

int procsum_digest_cache_new(const procsum_options *o, procsum_digest_cache **out)
{
    if (!out)
        return PROCSUM_EINVAL;
    *out = NULL;
    if (!o || !psum_algorithm_valid(o->algorithm) || o->check_period_ms == 0)
        return PROCSUM_EINVAL;
    return psum_error_filter(psum_digestcache_new(o, out));
}

void procsum_digest_cache_free(procsum_digest_cache *c)
{
    psum_digestcache_free(c);
}

int procsum_runner_new(const procsum_options *o, procsum_runner **out)
{
    if (!out)
        return PROCSUM_EINVAL;
    *out = NULL;
    if (!o)
        return PROCSUM_EINVAL;
    return psum_error_filter(psum_runner_new(o, out));
}

int procsum_runner_free(procsum_runner *r)
{
    return psum_error_filter(psum_runner_free(r));
}
