/*
 * The command line's options, the help text made from the same tables, and
 * the one place where a failure becomes a message and an exit code.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "escape.h"

typedef struct option_spec {
    const char *name;
    const char *alias; /* a short spelling, or NULL */
    const char *value; /* the value's name in the help text; NULL for a flag */
    unsigned bit;      /* PSUM_OPT_*; 0 for an option every command takes */
    const char *help;
    /* 0, or -1 with what is wrong with the value in why (the command line or the configuration file says where). */
    int (*apply)(psum_cli *c, const char *value, char *why, size_t cap);
} option_spec;

static int apply_algo(psum_cli *c, const char *value, char *why, size_t cap)
{
    char q[80];
    if (procsum_algorithm_parse(value, &c->opts.algorithm) == 0) {
        c->algorithm_given = true;
        return 0;
    }
    snprintf(why, cap, "unknown algorithm '%s': use blake3, crc64 or xxh3", psum_cli_quote(q, sizeof(q), value));
    return -1;
}

static int apply_skip_libs(psum_cli *c, const char *value, char *why, size_t cap)
{
    c->opts.skip_libs = true;
    return 0;
}

static int apply_writable(psum_cli *c, const char *value, char *why, size_t cap)
{
    c->opts.include_writable_code = true;
    return 0;
}

static int apply_format(psum_cli *c, const char *value, char *why, size_t cap)
{
    char q[80];
    const psum_writer_ops *f = psum_writer_find(value);
    if (!f) {
        snprintf(why, cap, "unknown format '%s'", psum_cli_quote(q, sizeof(q), value));
        return -1;
    }
    c->format = f;
    c->format_given = true;
    return 0;
}

static int apply_json(psum_cli *c, const char *value, char *why, size_t cap)
{
    return apply_format(c, "json", why, cap);
}

/* A path, not empty. */
static int path_value(const char **field, const char *value, char *why, size_t cap)
{
    if (!value[0]) {
        snprintf(why, cap, "needs a path");
        return -1;
    }
    *field = value;
    return 0;
}

static int apply_json_file(psum_cli *c, const char *value, char *why, size_t cap)
{
    return path_value(&c->outputs.json_file, value, why, cap);
}

static int apply_journal(psum_cli *c, const char *value, char *why, size_t cap)
{
    if (!psum_outputs_have_journal) {
        snprintf(why, cap, "this procsum was built without libsystemd, so it cannot write to the journal "
                           "(use --json-file, or --json to standard output)");
        return -1;
    }
    c->outputs.journal = true;
    return 0;
}

/*
 * The metrics file is written beside itself and renamed over: a path that
 * names anything but a regular file (a device, a directory) is refused
 * before anything runs rather than replaced, or failing at each write.
 */
static int apply_prometheus(psum_cli *c, const char *value, char *why, size_t cap)
{
    if (path_value(&c->outputs.prometheus, value, why, cap) != 0)
        return -1;
    struct stat there;
    if (stat(value, &there) == 0 && !S_ISREG(there.st_mode)) {
        char q[200];
        snprintf(why, cap, "%s is %s, not a regular file (the metrics file is replaced whole at each write)",
                 psum_cli_quote(q, sizeof(q), value), S_ISDIR(there.st_mode) ? "a directory" : "a device or special file");
        return -1;
    }
    return 0;
}

static int apply_all(psum_cli *c, const char *value, char *why, size_t cap)
{
    c->all = true;
    return 0;
}

/* An unsigned decimal number in [min, max]. */
static int parse_number(const char *value, unsigned min, unsigned max, unsigned *out, char *why, size_t cap)
{
    char q[80];
    char *end;
    errno = 0;
    unsigned long n = strtoul(value, &end, 10);
    if (value[0] < '0' || value[0] > '9' || *end || errno || n < min || n > max) {
        snprintf(why, cap, "'%s' is not a number from %u to %u", psum_cli_quote(q, sizeof(q), value), min, max);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

static int apply_period(psum_cli *c, const char *value, char *why, size_t cap)
{
    return parse_number(value, 1, 86400000u, &c->opts.check_period_ms, why, cap);
}

static int apply_cpu(psum_cli *c, const char *value, char *why, size_t cap)
{
    return parse_number(value, 1, 100, &c->opts.max_cpu_percent, why, cap);
}

static int apply_config(psum_cli *c, const char *value, char *why, size_t cap)
{
    return path_value(&c->config_path, value, why, cap);
}

static int apply_no_config(psum_cli *c, const char *value, char *why, size_t cap)
{
    c->no_config = true;
    return 0;
}

static int apply_help(psum_cli *c, const char *value, char *why, size_t cap)
{
    c->help = true;
    return 0;
}

static const option_spec OPTIONS[] = {
    {"--algo", NULL, "NAME", PSUM_OPT_ALGO, "blake3 (default), crc64 or xxh3; bench runs all without it", apply_algo},
    {"--skip-libs", NULL, NULL, PSUM_OPT_SKIP_LIBS, "only the main executable", apply_skip_libs},
    {"--include-writable-code", NULL, NULL, PSUM_OPT_WRITABLE, "also rwx regions", apply_writable},
    {"--all", NULL, NULL, PSUM_OPT_ALL, "every process procsum may read (not itself, not kernel threads)", apply_all},
    {"--period", NULL, "MS", PSUM_OPT_PERIOD, "watch, run: milliseconds between passes (default 1000)", apply_period},
    {"--cpu", NULL, "PERCENT", PSUM_OPT_CPU, "watch, run: the share of one core checking may use (watch: all its processes together; run: each process)", apply_cpu},
    {"--format", NULL, "NAME", 0, "how to write the output: one of the formats below", apply_format},
    {"--json", NULL, NULL, 0, "the same as --format json", apply_json},
    {"--json-file", NULL, "PATH", PSUM_OPT_JSON_FILE, "verify, watch, run: also append JSON lines to PATH", apply_json_file},
    {"--journal", NULL, NULL, PSUM_OPT_JOURNAL, "verify, watch, run: also send each event to journald", apply_journal},
    {"--prometheus", NULL, "PATH", PSUM_OPT_PROMETHEUS,
     "verify, watch, run: also keep metrics in PATH, a node_exporter textfile (*.prom)", apply_prometheus},
    {"--config", NULL, "PATH", PSUM_OPT_CONFIG,
     "verify, watch, run: read settings and allow lists from PATH (default " PSUM_CONFIG_DEFAULT ")", apply_config},
    {"--no-config", NULL, NULL, PSUM_OPT_CONFIG, "verify, watch, run: read no configuration file", apply_no_config},
    {"--help", "-h", NULL, 0, "this text", apply_help},
};
#define OPTION_COUNT (sizeof(OPTIONS) / sizeof(OPTIONS[0]))

void psum_cli_init(psum_cli *c)
{
    memset(c, 0, sizeof(*c));
    procsum_options_init(&c->opts);
    c->format = &psum_text_writer;
}

static const option_spec *find_option(const char *arg, size_t len)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const option_spec *o = &OPTIONS[i];
        if ((strlen(o->name) == len && strncmp(arg, o->name, len) == 0) ||
            (o->alias && strlen(o->alias) == len && strncmp(arg, o->alias, len) == 0))
            return o;
    }
    return NULL;
}

int psum_cli_option(psum_cli *c, int argc, char **argv, int *i)
{
    const char *arg = argv[*i];
    char q[80];
    /* --name=value, for long options only */
    const char *eq = arg[1] == '-' ? strchr(arg, '=') : NULL;
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    const option_spec *o = find_option(arg, len);
    if (!o)
        return psum_cli_usage_error("unknown option '%s'", psum_cli_quote(q, sizeof(q), arg));
    const char *value = NULL;
    if (o->value && eq)
        value = eq + 1;
    else if (o->value && *i + 1 < argc)
        value = argv[++*i];
    else if (o->value)
        return psum_cli_usage_error("%s needs a value (%s)", o->name, o->value);
    else if (eq)
        return psum_cli_usage_error("%s takes no value", o->name);
    c->given |= o->bit;
    char why[200];
    return o->apply(c, value, why, sizeof(why)) ? psum_cli_usage_error("%s: %s", o->name, why) : 0;
}

int psum_cli_setting(psum_cli *c, const char *key, const char *value, char *why, size_t cap)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const option_spec *o = &OPTIONS[i];
        if (strncmp(o->name, "--", 2) != 0 || strcmp(o->name + 2, key) != 0)
            continue;
        return o->apply(c, value, why, cap);
    }
    snprintf(why, cap, "no option --%s", key);
    return -1;
}

int psum_cli_check_options(const psum_cli *c, const psum_cli_command *cmd)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (c->given & OPTIONS[i].bit & ~cmd->options)
            return psum_cli_usage_error("%s does not apply to %s", OPTIONS[i].name, cmd->name);
    char q[80];
    if (c->arg_count && !(cmd->options & PSUM_OPT_PIDS))
        return psum_cli_usage_error("unexpected argument '%s'", psum_cli_quote(q, sizeof(q), c->args[0]));
    return 0;
}

psum_output_config psum_cli_outputs(const psum_cli *c)
{
    psum_output_config cfg = c->outputs;
    bool elsewhere = cfg.json_file || cfg.journal || cfg.prometheus;
    cfg.std_format = c->format_given || !elsewhere ? c->format : NULL;
    return cfg;
}

int psum_cli_usage(psum_sink *out, const psum_cli_command *cmds, size_t n)
{
    if (psum_sink_puts(out, "usage: procsum COMMAND [OPTIONS] [PID...]\n\ncommands:\n"))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (psum_sink_printf(out, "  %-9s %s\n", cmds[i].name, cmds[i].summary))
            return -1;
    if (psum_sink_puts(out, "\noptions:\n"))
        return -1;
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const option_spec *o = &OPTIONS[i];
        char spelling[64];
        snprintf(spelling, sizeof(spelling), "%s%s%s%s%s", o->alias ? o->alias : "", o->alias ? ", " : "", o->name,
                 o->value ? " " : "", o->value ? o->value : "");
        if (psum_sink_printf(out, "  %-24s %s\n", spelling, o->help))
            return -1;
    }
    if (psum_sink_puts(out, "\nformats:\n"))
        return -1;
    for (size_t i = 0; i < psum_writer_format_count; i++)
        if (psum_sink_printf(out, "  %-9s %s\n", psum_writer_formats[i]->name, psum_writer_formats[i]->summary))
            return -1;
    return psum_sink_puts(out,
                          "\nexit codes: 0 success, 1 failure, 2 bad usage, 3 permission denied, 4 no such process,\n"
                          "5 some page differs from its file (verify)\n");
}

const char *psum_cli_quote(char *buf, size_t cap, const char *arg)
{
    /* Room for "..." after what fits. */
    if (psum_escape_text(buf, cap - 3, arg) >= cap - 3)
        strcat(buf, "...");
    return buf;
}

int psum_cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("procsum: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see procsum --help)\n", stderr);
    va_end(ap);
    return PSUM_EXIT_USAGE;
}

/* What each library code means for the command; codes not listed are plain failures. */
static const struct {
    int err;
    int exit_code;
    const char *hint; /* added to the library's words */
} FAILURES[] = {
    {PROCSUM_EPERM, PSUM_EXIT_PERMISSION, ""},
    {PROCSUM_EACCES, PSUM_EXIT_PERMISSION, ""},
    {PROCSUM_ESRCH, PSUM_EXIT_NO_PROCESS, ""},
    /* A missing file is not a missing process. */
    {PROCSUM_ENOENT, PSUM_EXIT_FAILURE, " (a file procsum reads is missing; on Linux, is /proc mounted?)"},
    {PROCSUM_EINVAL, PSUM_EXIT_USAGE, ""},
};

int psum_cli_fail(const char *what, int err)
{
    int exit_code = PSUM_EXIT_FAILURE;
    const char *hint = "";
    for (size_t i = 0; i < sizeof(FAILURES) / sizeof(FAILURES[0]); i++) {
        if (FAILURES[i].err == err) {
            exit_code = FAILURES[i].exit_code;
            hint = FAILURES[i].hint;
        }
    }
    fprintf(stderr, "procsum: %s: %s%s\n", what, procsum_strerror(err), hint);
    return exit_code;
}

int psum_cli_output_failed(int errnum)
{
    return psum_cli_output_failed_to(NULL, errnum);
}

int psum_cli_output_failed_to(const char *output, int errnum)
{
    char q[200];
    if (output && strcmp(output, "standard output") != 0)
        fprintf(stderr, "procsum: writing output (%s): %s\n", psum_cli_quote(q, sizeof(q), output), strerror(errnum));
    else
        fprintf(stderr, "procsum: writing output: %s\n", strerror(errnum));
    return PSUM_EXIT_FAILURE;
}
