/*
 * Public API tests: defaults, names, version, and misuse that must give
 * PROCSUM_EINVAL instead of a crash. Only include/procsum.h is used.
 */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procsum.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const procsum_algorithm ALGOS[] = {PROCSUM_ALGO_BLAKE3, PROCSUM_ALGO_CRC64, PROCSUM_ALGO_XXH3};
#define BAD_ALGO ((procsum_algorithm)99)

/* ---- options ---------------------------------------------------------- */

Test(options, init_sets_documented_defaults)
{
    procsum_options o;
    /* Garbage first, so that every default must really be written. */
    memset(&o, 0xA5, sizeof o);
    procsum_options_init(&o);
    cr_assert_eq(o.check_period_ms, 1000u);
    cr_assert_eq(o.skip_libs, false);
    cr_assert_eq(o.search_once, false);
    cr_assert_eq(o.include_writable_code, false);
    cr_assert_eq(o.algorithm, PROCSUM_ALGO_BLAKE3);
    cr_assert_eq(o.keyed_digests, false);
    cr_assert_eq(o.max_cpu_percent, 0u);
    cr_assert_eq(o.low_priority, true);
    cr_assert_eq(o.include_nonresident, false);
    cr_assert_eq(o.follow_fork, false);
    cr_assert_eq(o.verify_file, true);
    cr_assert_eq(o.repair, false);
    cr_assert_eq(o.pid, 0);
}

Test(options, verdict_and_file_status_names)
{
    cr_assert_str_eq(procsum_verdict_name(PROCSUM_VERDICT_BITFLIP), "bitflip");
    cr_assert_str_eq(procsum_verdict_name(PROCSUM_VERDICT_MULTI_BIT), "multi-bit");
    cr_assert_str_eq(procsum_verdict_name(PROCSUM_VERDICT_PATCH), "patch");
    cr_assert_str_eq(procsum_verdict_name(PROCSUM_VERDICT_RESTORED), "restored");
    cr_assert_str_eq(procsum_verdict_name((procsum_verdict)77), "unknown");
    cr_assert_str_eq(procsum_file_status_name(PROCSUM_FILE_COMPARED), "compared");
    cr_assert_str_eq(procsum_file_status_name(PROCSUM_FILE_RELOCATED), "relocated");
    cr_assert_str_eq(procsum_file_status_name((procsum_file_status)77), "unknown");
}

Test(options, init_null_is_harmless)
{
    procsum_options_init(NULL);
    /* Still usable afterwards. */
    procsum_options o;
    procsum_options_init(&o);
    cr_assert_eq(o.check_period_ms, 1000u);
}

/* ---- error texts ------------------------------------------------------ */

typedef struct code_name {
    int code;
    const char *name;
} code_name;

static const code_name CODES[] = {
    {PROCSUM_EPERM, "PROCSUM_EPERM"},     {PROCSUM_ENOENT, "PROCSUM_ENOENT"},
    {PROCSUM_ESRCH, "PROCSUM_ESRCH"},     {PROCSUM_EIO, "PROCSUM_EIO"},
    {PROCSUM_EAGAIN, "PROCSUM_EAGAIN"},   {PROCSUM_ENOMEM, "PROCSUM_ENOMEM"},
    {PROCSUM_EACCES, "PROCSUM_EACCES"},   {PROCSUM_EFAULT, "PROCSUM_EFAULT"},
    {PROCSUM_EBUSY, "PROCSUM_EBUSY"},     {PROCSUM_EINVAL, "PROCSUM_EINVAL"},
    {PROCSUM_ERANGE, "PROCSUM_ERANGE"},   {PROCSUM_ENOSYS, "PROCSUM_ENOSYS"},
    {PROCSUM_EBADMSG, "PROCSUM_EBADMSG"}, {PROCSUM_ECANCELED, "PROCSUM_ECANCELED"},
    {PROCSUM_ENFILE, "PROCSUM_ENFILE"},   {PROCSUM_EMFILE, "PROCSUM_EMFILE"},
};

Test(errors, documented_values)
{
    /* The header promises Linux errno numbering everywhere. */
    cr_assert_eq(PROCSUM_EPERM, -1);
    cr_assert_eq(PROCSUM_ENOENT, -2);
    cr_assert_eq(PROCSUM_ESRCH, -3);
    cr_assert_eq(PROCSUM_EIO, -5);
    cr_assert_eq(PROCSUM_EAGAIN, -11);
    cr_assert_eq(PROCSUM_ENOMEM, -12);
    cr_assert_eq(PROCSUM_EACCES, -13);
    cr_assert_eq(PROCSUM_EFAULT, -14);
    cr_assert_eq(PROCSUM_EBUSY, -16);
    cr_assert_eq(PROCSUM_EINVAL, -22);
    cr_assert_eq(PROCSUM_ENFILE, -23);
    cr_assert_eq(PROCSUM_EMFILE, -24);
    cr_assert_eq(PROCSUM_ERANGE, -34);
    cr_assert_eq(PROCSUM_ENOSYS, -38);
    cr_assert_eq(PROCSUM_EBADMSG, -74);
    cr_assert_eq(PROCSUM_ECANCELED, -125);
}

Test(errors, every_code_has_distinct_text_and_name)
{
    for (size_t i = 0; i < COUNT(CODES); i++) {
        const char *text = procsum_strerror(CODES[i].code);
        const char *name = procsum_err_name(CODES[i].code);
        cr_assert_not_null(text, "%s", CODES[i].name);
        cr_assert_not_null(name, "%s", CODES[i].name);
        cr_assert_gt(strlen(text), 0, "%s", CODES[i].name);
        cr_assert_str_neq(text, "unknown error", "%s has no text of its own", CODES[i].name);
        cr_assert_str_eq(name, CODES[i].name);
        for (size_t j = 0; j < i; j++) {
            cr_assert_str_neq(text, procsum_strerror(CODES[j].code), "%s and %s share their text",
                              CODES[i].name, CODES[j].name);
            cr_assert_str_neq(name, procsum_err_name(CODES[j].code), "%s and %s share their name",
                              CODES[i].name, CODES[j].name);
        }
    }
}

Test(errors, success_is_not_an_error_text)
{
    const char *text = procsum_strerror(0);
    cr_assert_not_null(text);
    cr_assert_gt(strlen(text), 0);
    cr_assert_str_neq(text, "unknown error");
    for (size_t i = 0; i < COUNT(CODES); i++)
        cr_assert_str_neq(text, procsum_strerror(CODES[i].code), "0 and %s share their text", CODES[i].name);
}

Test(errors, unknown_codes)
{
    /* -4 (EINTR) and -9999 are not procsum codes; neither are positive values. */
    static const int unknown[] = {-4, -9999, 1, 22, 74, INT_MIN, INT_MAX};
    for (size_t i = 0; i < COUNT(unknown); i++) {
        const char *text = procsum_strerror(unknown[i]);
        const char *name = procsum_err_name(unknown[i]);
        cr_assert_not_null(text, "code %d", unknown[i]);
        cr_assert_not_null(name, "code %d", unknown[i]);
        cr_assert_str_eq(text, "unknown error", "code %d", unknown[i]);
        cr_assert_gt(strlen(name), 0, "code %d", unknown[i]);
        for (size_t j = 0; j < COUNT(CODES); j++)
            cr_assert_str_neq(name, CODES[j].name, "unknown code %d named like %s", unknown[i], CODES[j].name);
    }
}

/* ---- algorithms ------------------------------------------------------- */

Test(algorithms, names)
{
    cr_assert_str_eq(procsum_algorithm_name(PROCSUM_ALGO_BLAKE3), "blake3");
    cr_assert_str_eq(procsum_algorithm_name(PROCSUM_ALGO_CRC64), "crc64");
    cr_assert_str_eq(procsum_algorithm_name(PROCSUM_ALGO_XXH3), "xxh3");
    cr_assert_null(procsum_algorithm_name(BAD_ALGO));
    cr_assert_null(procsum_algorithm_name((procsum_algorithm)3));
    cr_assert_null(procsum_algorithm_name((procsum_algorithm)-1));
}

Test(algorithms, parse_round_trip)
{
    for (size_t i = 0; i < COUNT(ALGOS); i++) {
        const char *name = procsum_algorithm_name(ALGOS[i]);
        cr_assert_not_null(name);
        /* Start from a different value so that the parse must write. */
        procsum_algorithm got = ALGOS[(i + 1) % COUNT(ALGOS)];
        cr_assert_eq(procsum_algorithm_parse(name, &got), 0, "%s", name);
        cr_assert_eq(got, ALGOS[i], "%s", name);
    }
}

Test(algorithms, parse_rejects)
{
    static const char *const bad[] = {"", "BLAKE3 ", " blake3", "blake3 ", "blake", "blake33", "md5", "crc", "xxh64"};
    for (size_t i = 0; i < COUNT(bad); i++) {
        procsum_algorithm got = PROCSUM_ALGO_XXH3;
        cr_assert_eq(procsum_algorithm_parse(bad[i], &got), PROCSUM_EINVAL, "'%s' accepted", bad[i]);
    }
    procsum_algorithm got = PROCSUM_ALGO_XXH3;
    cr_assert_eq(procsum_algorithm_parse(NULL, &got), PROCSUM_EINVAL);
    cr_assert_eq(procsum_algorithm_parse("blake3", NULL), PROCSUM_EINVAL);
}

Test(algorithms, digest_len)
{
    cr_assert_eq(procsum_digest_len(PROCSUM_ALGO_BLAKE3), 32u);
    cr_assert_eq(procsum_digest_len(PROCSUM_ALGO_CRC64), 8u);
    cr_assert_eq(procsum_digest_len(PROCSUM_ALGO_XXH3), 8u);
    cr_assert_eq(procsum_digest_len(BAD_ALGO), 0u);
    cr_assert_eq(procsum_digest_len((procsum_algorithm)3), 0u);
    for (size_t i = 0; i < COUNT(ALGOS); i++)
        cr_assert_leq(procsum_digest_len(ALGOS[i]), PROCSUM_MAX_DIGEST);
}

Test(regions, kind_names)
{
    cr_assert_str_eq(procsum_region_kind_name(PROCSUM_REGION_FILE), "file");
    cr_assert_str_eq(procsum_region_kind_name(PROCSUM_REGION_ANON), "anon");
    cr_assert_str_eq(procsum_region_kind_name(PROCSUM_REGION_VDSO), "vdso");
    cr_assert_str_eq(procsum_region_kind_name(PROCSUM_REGION_OTHER), "other");
    /* Not documented for unknown values, but it must stay printable (the CLI prints it). */
    cr_assert_not_null(procsum_region_kind_name((procsum_region_kind)42));
}

Test(version, string_matches_macros)
{
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", PROCSUM_VERSION_MAJOR, PROCSUM_VERSION_MINOR, PROCSUM_VERSION_PATCH);
    const char *v = procsum_version_string();
    cr_assert_not_null(v);
    cr_assert_str_eq(v, want);
}

/* ---- misuse ----------------------------------------------------------- */

static void count_cb(const procsum_mismatch *m, void *userdata)
{
    (void)m;
    ++*(int *)userdata;
}

/* A value no successful call could return, to see whether *out is written. */
#define SENTINEL ((procsum_checker *)(uintptr_t)0x1)

Test(misuse, start_null_options)
{
    procsum_checker *c = SENTINEL;
    int calls = 0;
    cr_assert_eq(procsum_start(NULL, count_cb, &calls, &c), PROCSUM_EINVAL);
    cr_assert_null(c, "*out must not be left dangling after a failed start");
    cr_assert_eq(calls, 0);
}

Test(misuse, start_null_out)
{
    procsum_options o;
    procsum_options_init(&o);
    cr_assert_eq(procsum_start(&o, NULL, NULL, NULL), PROCSUM_EINVAL);
}

Test(misuse, start_invalid_algorithm)
{
    procsum_options o;
    procsum_options_init(&o);
    o.algorithm = BAD_ALGO;
    procsum_checker *c = SENTINEL;
    cr_assert_eq(procsum_start(&o, NULL, NULL, &c), PROCSUM_EINVAL);
    cr_assert_null(c);
}

/* The counterpart of the misuse tests: the same calls with valid arguments work. */
Test(misuse, start_stop_valid_for_contrast)
{
    for (size_t i = 0; i < COUNT(ALGOS); i++) {
        procsum_options o;
        procsum_options_init(&o);
        o.algorithm = ALGOS[i];
        procsum_checker *c = NULL;
        cr_assert_eq(procsum_start(&o, NULL, NULL, &c), 0, "%s", procsum_algorithm_name(ALGOS[i]));
        cr_assert_not_null(c);
        cr_assert_eq(procsum_stop(c), 0);
    }
}

Test(misuse, benchmark_null_out)
{
    procsum_options o;
    procsum_options_init(&o);
    cr_assert_eq(procsum_benchmark(&o, NULL), PROCSUM_EINVAL);
}

Test(misuse, benchmark_null_options)
{
    procsum_benchmark_result r;
    memset(&r, 0, sizeof r);
    cr_assert_eq(procsum_benchmark(NULL, &r), PROCSUM_EINVAL);
    cr_assert_eq(r.region_count, 0u);
    procsum_benchmark_result_free(&r);
}

Test(misuse, benchmark_invalid_algorithm)
{
    procsum_options o;
    procsum_options_init(&o);
    o.algorithm = BAD_ALGO;
    procsum_benchmark_result r;
    memset(&r, 0, sizeof r);
    cr_assert_eq(procsum_benchmark(&o, &r), PROCSUM_EINVAL);
    cr_assert_eq(r.region_count, 0u);
    cr_assert_null(r.regions);
    procsum_benchmark_result_free(&r);
}

Test(misuse, benchmark_valid_for_contrast)
{
    procsum_options o;
    procsum_options_init(&o);
    procsum_benchmark_result r;
    cr_assert_eq(procsum_benchmark(&o, &r), 0);
    cr_assert_gt(r.region_count, 0u);
    cr_assert_not_null(r.regions);
    cr_assert_gt(r.hashed_bytes, 0u);
    size_t exe = 0;
    for (size_t i = 0; i < r.region_count; i++) {
        cr_assert_not_null(r.regions[i].source);
        cr_assert_lt(r.regions[i].start, r.regions[i].end);
        exe += r.regions[i].main_executable;
    }
    cr_assert_gt(exe, 0u, "the test program's own code is not listed as the main executable");
    procsum_benchmark_result_free(&r);
    cr_assert_eq(r.region_count, 0u);
    cr_assert_null(r.regions);
    /* Freeing twice is harmless once the struct was cleared. */
    procsum_benchmark_result_free(&r);
}

Test(misuse, stop_null)
{
    cr_assert_eq(procsum_stop(NULL), 0);
}

Test(misuse, benchmark_result_free_null_and_zeroed)
{
    procsum_benchmark_result_free(NULL);
    procsum_benchmark_result r;
    memset(&r, 0, sizeof r);
    procsum_benchmark_result_free(&r);
    cr_assert_eq(r.region_count, 0u);
    cr_assert_null(r.regions);
}

Test(misuse, mismatch_count_null)
{
    cr_assert_eq(procsum_mismatch_count(NULL), 0u);
}

/* A procsum_run that did not validate would never return: the timeout turns that into a failure. */
Test(misuse, run_invalid_algorithm, .timeout = 30)
{
    procsum_options o;
    procsum_options_init(&o);
    o.algorithm = BAD_ALGO;
    int calls = 0;
    cr_assert_eq(procsum_run(&o, count_cb, &calls), PROCSUM_EINVAL);
    cr_assert_eq(calls, 0);
}

Test(misuse, run_null_options, .timeout = 30)
{
    cr_assert_eq(procsum_run(NULL, NULL, NULL), PROCSUM_EINVAL);
}

Test(misuse, zero_period_is_refused)
{
    procsum_options o;
    procsum_options_init(&o);
    o.check_period_ms = 0;
    procsum_checker *c = (procsum_checker *)&o;
    cr_assert_eq(procsum_start(&o, NULL, NULL, &c), PROCSUM_EINVAL);
    cr_assert_null(c, "a failed start leaves no handle");
    cr_assert_eq(procsum_run(&o, NULL, NULL), PROCSUM_EINVAL);
}

/*
 * A second stop of the same handle is a use after free: AddressSanitizer
 * reports it (the handle's memory is freed), and without it the poisoned
 * handle is refused instead of being freed twice.
 */
Test(misuse, stop_twice_is_caught, .timeout = 30)
{
    procsum_options o;
    procsum_options_init(&o);
    procsum_checker *c;
    cr_assert_eq(procsum_start(&o, NULL, NULL, &c), 0);
    cr_assert_eq(procsum_stop(c), 0);
#if defined(__SANITIZE_ADDRESS__)
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(procsum_stop(c) == PROCSUM_EINVAL ? 0 : 3);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(!WIFEXITED(status) || WEXITSTATUS(status) == 1,
              "AddressSanitizer reports the second stop (status %#x)", status);
#else
    cr_assert_eq(procsum_stop(c), PROCSUM_EINVAL);
#endif
}

/* The listing the command prints: this program's own executable and libc, with digests. */
Test(listing, regions_of_this_process, .timeout = 60)
{
    procsum_options o;
    procsum_options_init(&o);
    procsum_region_list list;
    cr_assert_eq(procsum_list_regions(&o, &list), 0);
    cr_assert_gt(list.count, 1);
    size_t exe = 0, valid = 0;
    for (size_t i = 0; i < list.count; i++) {
        const procsum_region *r = &list.regions[i];
        cr_assert_lt(r->start, r->end);
        cr_assert_eq(r->start % PROCSUM_PAGE_SIZE, 0);
        cr_assert(i == 0 || list.regions[i - 1].end <= r->start, "ascending, not overlapping");
        cr_assert_not_null(r->source);
        exe += r->main_executable;
        valid += r->digest_valid;
    }
    cr_assert_gt(exe, 0, "the program itself is listed");
    cr_assert_gt(valid, 0, "some region was read whole");
    procsum_region_list_free(&list);
    cr_assert_null(list.regions);
    cr_assert_eq(list.count, 0);

    o.skip_libs = true;
    cr_assert_eq(procsum_list_regions(&o, &list), 0);
    for (size_t i = 0; i < list.count; i++)
        cr_assert(list.regions[i].main_executable, "skip_libs lists only the program: %s", list.regions[i].source);
    procsum_region_list_free(&list);
    procsum_region_list_free(NULL);
    cr_assert_eq(procsum_list_regions(&o, NULL), PROCSUM_EINVAL);
    o.algorithm = (procsum_algorithm)77;
    cr_assert_eq(procsum_list_regions(&o, &list), PROCSUM_EINVAL);
}
