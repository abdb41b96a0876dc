/*
 * The procsum command.
 *   procsum regions   list the executable regions of this process
 *   procsum bench     one discovery and one hashing pass per algorithm
 * Exit codes: 0 success, 1 failure, 2 bad usage, 3 permission denied,
 * 4 no such process.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procsum.h"

enum { EXIT_USAGE = 2, EXIT_PERMISSION = 3, EXIT_NO_PROCESS = 4 };

typedef struct cli {
    const char *command;
    procsum_options opts;
    bool json;
    bool all_algorithms; /* bench without --algo runs every algorithm */
    bool help;
} cli;

static void usage(FILE *to)
{
    fputs("usage: procsum COMMAND [OPTIONS]\n"
          "\n"
          "commands:\n"
          "  regions   list the executable regions of this process, with their digests\n"
          "  bench     time one discovery and one hashing pass over those regions\n"
          "  version   print the version\n"
          "\n"
          "options:\n"
          "  --algo NAME              blake3 (default), crc64 or xxh3; bench runs all without it\n"
          "  --json                   print JSON instead of a table\n"
          "  --skip-libs              only the main executable\n"
          "  --include-writable-code  also rwx regions\n"
          "  -h, --help               this text\n",
          to);
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int fail_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("procsum: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see procsum --help)\n", stderr);
    va_end(ap);
    return EXIT_USAGE;
}

static int exit_code_for(int err)
{
    switch (err) {
    case PROCSUM_EPERM:
    case PROCSUM_EACCES: return EXIT_PERMISSION;
    case PROCSUM_ESRCH: return EXIT_NO_PROCESS;
    case PROCSUM_EINVAL: return EXIT_USAGE;
    default: return EXIT_FAILURE;
    }
}

static int fail(const char *what, int err)
{
    fprintf(stderr, "procsum: %s: %s\n", what, procsum_strerror(err));
    return exit_code_for(err);
}

static int parse_args(int argc, char **argv, cli *c)
{
    procsum_options_init(&c->opts);
    c->all_algorithms = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            c->help = true;
        } else if (strcmp(a, "--json") == 0) {
            c->json = true;
        } else if (strcmp(a, "--skip-libs") == 0) {
            c->opts.skip_libs = true;
        } else if (strcmp(a, "--include-writable-code") == 0) {
            c->opts.include_writable_code = true;
        } else if (strcmp(a, "--algo") == 0 || strncmp(a, "--algo=", 7) == 0) {
            const char *v = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v)
                return fail_usage("%s needs a value: blake3, crc64 or xxh3", "--algo");
            if (procsum_algorithm_parse(v, &c->opts.algorithm) != 0)
                return fail_usage("unknown algorithm '%s': use blake3, crc64 or xxh3", v);
            c->all_algorithms = false;
        } else if (a[0] == '-') {
            return fail_usage("unknown option '%s'", a);
        } else if (!c->command) {
            c->command = a;
        } else {
            return fail_usage("unexpected argument '%s'", a);
        }
    }
    if (!c->command && !c->help)
        return fail_usage("no command given");
    return 0;
}

static void print_hex(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", d[i]);
}

/* Length of the valid UTF-8 sequence at p, or 0 if the bytes there are not one. */
static size_t utf8_sequence(const unsigned char *p)
{
    size_t n = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 && p[0] < 0xe0 ? 2 : 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/*
 * File names are bytes, JSON is Unicode: bytes that are not valid UTF-8 are
 * written as the code points of the same value (\u0080-\u00ff), so the
 * output always parses.
 */
static void print_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = *p >= 0x80 ? utf8_sequence(p) : 1;
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20 || n == 0)
            printf("\\u%04x", *p);
        else
            fwrite(p, 1, n, stdout);
        p += n ? n : 1;
    }
    putchar('"');
}

static const char *region_kind_label(const procsum_region *r)
{
    if (r->main_executable)
        return "exe";
    return procsum_region_kind_name(r->kind);
}

static void print_regions_table(const procsum_benchmark_result *b, procsum_algorithm algo)
{
    size_t dlen = procsum_digest_len(algo);
    printf("%-33s %10s %-5s %-*s  %s\n", "range", "size", "kind", (int)(dlen * 2), procsum_algorithm_name(algo),
           "source");
    for (size_t i = 0; i < b->region_count; i++) {
        const procsum_region *r = &b->regions[i];
        printf("%016" PRIxPTR "-%016" PRIxPTR " %9zuK %-5s ", r->start, r->end, (size_t)((r->end - r->start) / 1024),
               region_kind_label(r));
        print_hex(r->digest, dlen);
        printf("  %s%s%s\n", r->source, r->writable ? " [rwx]" : "", r->file_deleted ? " (deleted)" : "");
    }
}

static void print_regions_json(const procsum_benchmark_result *b, procsum_algorithm algo)
{
    printf("{\"algorithm\":\"%s\",\"regions\":[", procsum_algorithm_name(algo));
    for (size_t i = 0; i < b->region_count; i++) {
        const procsum_region *r = &b->regions[i];
        printf("%s{\"start\":\"0x%" PRIxPTR "\",\"end\":\"0x%" PRIxPTR "\",\"size\":%zu,\"kind\":\"%s\","
               "\"main_executable\":%s,\"writable\":%s,\"file_deleted\":%s,\"file_offset\":%" PRIu64
               ",\"source\":",
               i ? "," : "", r->start, r->end, (size_t)(r->end - r->start), procsum_region_kind_name(r->kind),
               r->main_executable ? "true" : "false", r->writable ? "true" : "false",
               r->file_deleted ? "true" : "false", r->file_offset);
        print_json_string(r->source);
        printf(",\"digest\":\"");
        print_hex(r->digest, procsum_digest_len(algo));
        printf("\"}");
    }
    printf("]}\n");
}

static int cmd_regions(const cli *c)
{
    procsum_benchmark_result b;
    /* A listing wants every region's digest: read pages not yet in memory too. */
    procsum_options o = c->opts;
    o.include_nonresident = true;
    int err = procsum_benchmark(&o, &b);
    if (err)
        return fail("cannot list regions", err);
    if (c->json)
        print_regions_json(&b, c->opts.algorithm);
    else
        print_regions_table(&b, c->opts.algorithm);
    procsum_benchmark_result_free(&b);
    return 0;
}

static double gb_per_s(uint64_t bytes, uint64_t ns)
{
    return ns ? (double)bytes / (double)ns : 0.0;
}

static int cmd_bench(const cli *c)
{
    procsum_algorithm algos[3] = {PROCSUM_ALGO_BLAKE3, PROCSUM_ALGO_CRC64, PROCSUM_ALGO_XXH3};
    size_t n = 3;
    if (!c->all_algorithms) {
        algos[0] = c->opts.algorithm;
        n = 1;
    }
    if (c->json)
        printf("{\"results\":[");
    else
        printf("%-8s %8s %12s %10s %10s %10s\n", "algo", "regions", "bytes", "scan ms", "hash ms", "GB/s");
    for (size_t i = 0; i < n; i++) {
        procsum_options o = c->opts;
        o.algorithm = algos[i];
        procsum_benchmark_result b;
        int err = procsum_benchmark(&o, &b);
        if (err) {
            if (c->json)
                printf("]}\n");
            return fail("benchmark failed", err);
        }
        const char *name = procsum_algorithm_name(algos[i]);
        double rate = gb_per_s(b.hashed_bytes, b.hash_ns);
        if (c->json)
            printf("%s{\"algorithm\":\"%s\",\"regions\":%zu,\"hashed_bytes\":%" PRIu64 ",\"scan_ns\":%" PRIu64
                   ",\"hash_ns\":%" PRIu64 ",\"gb_per_s\":%.3f}",
                   i ? "," : "", name, b.region_count, b.hashed_bytes, b.scan_ns, b.hash_ns, rate);
        else
            printf("%-8s %8zu %12" PRIu64 " %10.3f %10.3f %10.2f\n", name, b.region_count, b.hashed_bytes,
                   (double)b.scan_ns / 1e6, (double)b.hash_ns / 1e6, rate);
        procsum_benchmark_result_free(&b);
    }
    if (c->json)
        printf("]}\n");
    return 0;
}

int main(int argc, char **argv)
{
    cli c = {0};
    int rc = parse_args(argc, argv, &c);
    if (rc)
        return rc;
    if (c.help || strcmp(c.command, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(c.command, "version") == 0) {
        printf("procsum %s\n", procsum_version_string());
        return 0;
    }
    if (strcmp(c.command, "regions") == 0)
        return cmd_regions(&c);
    if (strcmp(c.command, "bench") == 0)
        return cmd_bench(&c);
    return fail_usage("unknown command '%s': use regions, bench or version", c.command);
}
