/*
 * What the procsum command's files share: the parsed command line, the
 * shape of a command in main.c's table, the exit codes, and the one place
 * that turns a failure into a message and an exit code (cli.c).
 */
#ifndef PSUM_CLI_H
#define PSUM_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "procsum.h"
#include "outputs.h"
#include "sink.h"
#include "writer.h"

/* The command's exit codes. */
enum {
    PSUM_EXIT_OK = 0,
    PSUM_EXIT_FAILURE = 1,
    PSUM_EXIT_USAGE = 2,
    PSUM_EXIT_PERMISSION = 3,
    PSUM_EXIT_NO_PROCESS = 4,
    PSUM_EXIT_CHANGED = 5, /* verify: some page differs from its file */
};

/* Options that only some commands take; a command's table entry lists those it accepts. */
enum {
    PSUM_OPT_ALGO = 1u << 0,
    PSUM_OPT_SKIP_LIBS = 1u << 1,
    PSUM_OPT_WRITABLE = 1u << 2,
    PSUM_OPT_SELECT = PSUM_OPT_ALGO | PSUM_OPT_SKIP_LIBS | PSUM_OPT_WRITABLE, /* which regions, how digested */
    PSUM_OPT_ALL = 1u << 3,    /* --all: every process */
    PSUM_OPT_PERIOD = 1u << 4, /* --period MS */
    PSUM_OPT_CPU = 1u << 5,    /* --cpu PERCENT */
    PSUM_OPT_PIDS = 1u << 6,   /* process ids as arguments */
    PSUM_OPT_PROCESSES = PSUM_OPT_SELECT | PSUM_OPT_ALL | PSUM_OPT_PIDS, /* which processes */
    PSUM_OPT_JSON_FILE = 1u << 7,  /* --json-file PATH */
    PSUM_OPT_JOURNAL = 1u << 8,    /* --journal */
    PSUM_OPT_PROMETHEUS = 1u << 9, /* --prometheus PATH */
    PSUM_OPT_OUTPUTS = PSUM_OPT_JSON_FILE | PSUM_OPT_JOURNAL | PSUM_OPT_PROMETHEUS, /* events sent elsewhere too */
    PSUM_OPT_CONFIG = 1u << 10, /* --config PATH, --no-config */
};

/* The configuration file read when neither --config nor --no-config is given, if it exists. */
#ifndef PSUM_CONFIG_DEFAULT
#define PSUM_CONFIG_DEFAULT "/etc/procsum/procsum.conf"
#endif

/* What a configuration file gave that the options do not hold themselves (config.c owns it all). */
typedef struct psum_config {
    char **processes;     /* NULL-terminated globs over a process's name or program (`process`), or NULL */
    size_t process_count;
    char **modules;       /* NULL-terminated globs over mapped files (`module`): the options' skip_files */
    size_t module_count;
    psum_allow allow;     /* `change` and `state-cause`, judged by the outputs */
    char **values;        /* copies of the values the options point to (paths) */
    size_t value_count;
    unsigned given;       /* PSUM_OPT_* bits of the settings the file gave */
} psum_config;

typedef struct psum_cli {
    procsum_options opts;
    bool algorithm_given;          /* --algo: bench runs every algorithm without it */
    unsigned given;                /* PSUM_OPT_* bits of the options on the command line */
    const psum_writer_ops *format; /* --format, --json */
    bool format_given;
    psum_output_config outputs;    /* --json-file, --journal, --prometheus; std_format by psum_cli_outputs */
    bool help;                     /* -h, --help */
    bool all;                      /* --all */
    char **args;                   /* the arguments after the command's name (process ids) */
    size_t arg_count;
    const char *config_path;       /* --config */
    bool no_config;                /* --no-config */
    psum_config config;            /* what the configuration file gave (config.c) */
} psum_cli;

typedef struct psum_cli_command {
    const char *name;
    const char *summary; /* one line for --help */
    unsigned options;    /* PSUM_OPT_* bits it accepts; the output options go with every command */
    /* Writes through w; returns an exit code (after a failed write: PSUM_EXIT_FAILURE, main reports it). */
    int (*run)(const psum_cli *c, psum_writer *w);
} psum_cli_command;

/* One file per command. */
int psum_cmd_regions(const psum_cli *c, psum_writer *w);
int psum_cmd_bench(const psum_cli *c, psum_writer *w);
int psum_cmd_version(const psum_cli *c, psum_writer *w);
int psum_cmd_verify(const psum_cli *c, psum_writer *w);
int psum_cmd_watch(const psum_cli *c, psum_writer *w);
#ifndef _WIN32
int psum_cmd_run(const psum_cli *c, psum_writer *w);
/* procsum run parses its own command line (argv[0] is "run"): everything after its options is the program's. */
int psum_run_main(int argc, char **argv);
#endif

void psum_cli_init(psum_cli *c);
/*
 * Parses the option at argv[*i] (which starts with '-'), and its value if
 * it takes one (*i then moves past it). Returns 0 or, after a message,
 * PSUM_EXIT_USAGE.
 */
int psum_cli_option(psum_cli *c, int argc, char **argv, int *i);
/*
 * Sets the option --KEY (without its dashes) from a configuration file: a
 * flag with value NULL. 0, or -1 with what is wrong in why.
 */
int psum_cli_setting(psum_cli *c, const char *key, const char *value, char *why, size_t cap);
/* PSUM_EXIT_USAGE, after a message, when an option given does not apply to cmd; else 0. */
int psum_cli_check_options(const psum_cli *c, const psum_cli_command *cmd);
/*
 * What the command writes to: the outputs chosen, and standard output in
 * its format when --format or --json was given or no other output was.
 */
psum_output_config psum_cli_outputs(const psum_cli *c);
/* The help text, listing cmds and every option and format. Returns 0 or -1 (see the sink). */
int psum_cli_usage(psum_sink *out, const psum_cli_command *cmds, size_t n);

/*
 * An argument from the command line, for a message: escaped, and cut with
 * "..." when long. Points into buf.
 */
const char *psum_cli_quote(char *buf, size_t cap, const char *arg);
/* "procsum: MESSAGE (see procsum --help)" on stderr; returns PSUM_EXIT_USAGE. */
int psum_cli_usage_error(const char *fmt, ...) PSUM_PRINTF(1, 2);
/* "procsum: WHAT: words for err" on stderr; returns the exit code for the library's code err. */
int psum_cli_fail(const char *what, int err);
/* "procsum: writing output: words for errnum" on stderr; returns PSUM_EXIT_FAILURE. */
int psum_cli_output_failed(int errnum);
/* The same, naming the output (standard output, a file, the journal) when it is not standard output. */
int psum_cli_output_failed_to(const char *output, int errnum);

#endif
