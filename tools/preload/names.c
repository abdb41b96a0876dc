/*
 * The names the JSON lines writer asks libprocsum for, answered inside the
 * preload library: it must not link libprocsum (loading it is what the
 * lazy delay saves), and a refused setting is reported before libprocsum
 * is loaded. The lists are procsum.h's own X-macros, so the names cannot
 * drift from the library's. preload.map keeps every symbol here local, so
 * these never stand in for libprocsum's in the program.
 */
#include "preload.h"

#include "errors.h"
#include "names.h"
#include "writer.h"

PSUM_NAME_FUNCTION(procsum_region_kind_name, procsum_region_kind, PROCSUM_REGION_KIND_MAP)
PSUM_NAME_FUNCTION(procsum_verdict_name, procsum_verdict, PROCSUM_VERDICT_MAP)
PSUM_NAME_FUNCTION(procsum_file_status_name, procsum_file_status, PROCSUM_FILE_STATUS_MAP)
PSUM_NAME_FUNCTION(procsum_cause_name, procsum_cause, PROCSUM_CAUSE_MAP)
PSUM_NAME_FUNCTION(procsum_copy_name, procsum_copy, PROCSUM_COPY_MAP)
PSUM_NAME_FUNCTION(procsum_reference_name, procsum_reference, PROCSUM_REFERENCE_MAP)

/* The library's own words for its codes (src/errors.c, compiled in). */
const char *procsum_strerror(int err)
{
    return psum_error_text(err);
}

const char *procsum_err_name(int err)
{
    return psum_error_name(err);
}

/* Algorithms have no list in procsum.h: asked of libprocsum once it is loaded (only region records need them). */
const char *procsum_algorithm_name(procsum_algorithm a)
{
    return psum_preload_lib.algorithm_name ? psum_preload_lib.algorithm_name(a) : NULL;
}

size_t procsum_digest_len(procsum_algorithm a)
{
    return psum_preload_lib.digest_len ? psum_preload_lib.digest_len(a) : 0;
}

/* The preload library writes no benchmark records; jsonl.c's table still names this. */
double psum_bench_gb_per_s(const psum_bench_row *row)
{
    (void)row;
    return 0;
}
