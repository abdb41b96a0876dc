/*
 * The procsum command: parses the command line and hands it to one command
 * from the table below. Each command lives in its own file and writes only
 * through the writer it is given (tools/output/), so that every format
 * serves every command and a lost write is never hidden: standard output
 * is flushed and closed here and any failure is reported, exit code 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "procs.h"
#ifndef _WIN32
#include "config.h"
#endif

static int cmd_help(const psum_cli *c, psum_writer *w);

/* The configuration file is read with inih, which the Windows build does without. */
#ifdef _WIN32
#define CONFIG_OPTS 0u
#else
#define CONFIG_OPTS PSUM_OPT_CONFIG
#endif

static const psum_cli_command COMMANDS[] = {
    {"regions", "list the executable regions of this process, with their digests", PSUM_OPT_SELECT, psum_cmd_regions},
    {"bench", "time one discovery and one hashing pass over those regions", PSUM_OPT_SELECT, psum_cmd_bench},
    {"verify", "compare every resident code page of processes (--all, or PIDs) with their files, once",
     PSUM_OPT_PROCESSES | PSUM_OPT_OUTPUTS | CONFIG_OPTS, psum_cmd_verify},
    {"watch", "check processes (--all, or PIDs) every period until stopped, and report each change",
     PSUM_OPT_PROCESSES | PSUM_OPT_PERIOD | PSUM_OPT_CPU | PSUM_OPT_OUTPUTS | CONFIG_OPTS, psum_cmd_watch},
#ifndef _WIN32
    {"run", "run a program with a checker in it and in every program it runs: run [OUTPUT OPTIONS] "
            "[--period MS] [--cpu PERCENT] [--algo NAME] [--config PATH | --no-config] [--inside] -- CMD [ARGS...]",
     0, psum_cmd_run},
#endif
    {"version", "print the version", 0, psum_cmd_version},
    {"help", "this text", 0, cmd_help},
};
#define COMMAND_COUNT (sizeof(COMMANDS) / sizeof(COMMANDS[0]))

static int cmd_help(const psum_cli *c, psum_writer *w)
{
    return psum_cli_usage(w->out, COMMANDS, COMMAND_COUNT) ? PSUM_EXIT_FAILURE : PSUM_EXIT_OK;
}

static const psum_cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(COMMANDS[i].name, name) == 0)
            return &COMMANDS[i];
    return NULL;
}

/* The command to run, or NULL after a message (bad usage). */
static const psum_cli_command *parse(psum_cli *c, int argc, char **argv)
{
    const char *name = NULL;
    char q[80];
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') {
            if (psum_cli_option(c, argc, argv, &i))
                return NULL;
        } else if (!name) {
            name = argv[i];
        } else {
            c->args[c->arg_count++] = argv[i]; /* the command says whether it takes any */
        }
    }
    if (c->help)
        return find_command("help");
    if (!name) {
        psum_cli_usage_error("no command given");
        return NULL;
    }
    const psum_cli_command *cmd = find_command(name);
    if (!cmd) {
        psum_cli_usage_error("unknown command '%s'", psum_cli_quote(q, sizeof(q), name));
        return NULL;
    }
    return psum_cli_check_options(c, cmd) ? NULL : cmd;
}

#ifndef _WIN32
/*
 * The configuration file first, then the command line once more over what
 * it set: a flag given wins over the file. c holds the command line parsed
 * once (which file, if any); it is parsed again from scratch.
 */
static int configure(psum_cli *c, const psum_cli_command *cmd, int argc, char **argv)
{
    if (c->no_config && c->config_path)
        return psum_cli_usage_error("--config and --no-config exclude each other");
    const char *path = c->config_path;
    bool none = c->no_config;
    char **args = c->args;
    psum_cli_init(c);
    c->args = args;
    if (!none) {
        int rc = psum_config_load(c, path, cmd->options);
        if (rc)
            return rc;
    }
    return parse(c, argc, argv) ? 0 : PSUM_EXIT_USAGE;
}
#endif

/*
 * PROCSUM_SIMD caps libprocsum's BLAKE3 code path. The library leaves the
 * best path for a value it does not know (it cannot tell anyone); the
 * command refuses one, so that a typo is not taken for a measurement.
 */
static int check_simd_cap(void)
{
    static const char *const known[] = {"portable", "sse41", "avx2", "avx512"};
    const char *v = getenv("PROCSUM_SIMD");
    if (!v || !*v)
        return 0;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(v, known[i]) == 0)
            return 0;
    char q[80];
    return psum_cli_usage_error("PROCSUM_SIMD is '%s', not one of portable, sse41, avx2, avx512",
                                psum_cli_quote(q, sizeof(q), v));
}

int main(int argc, char **argv)
{
    if (check_simd_cap())
        return PSUM_EXIT_USAGE;
    int err = psum_sink_reserve_std_fds();
    if (err) {
        fprintf(stderr, "procsum: cannot open /dev/null: %s\n", strerror(err));
        return PSUM_EXIT_FAILURE;
    }
#ifndef _WIN32
    if (argc > 1 && strcmp(argv[1], "run") == 0)
        return psum_run_main(argc - 1, argv + 1);
#endif
    psum_cli c;
    psum_cli_init(&c);
    c.args = calloc((size_t)argc, sizeof(*c.args));
    if (!c.args) {
        fprintf(stderr, "procsum: out of memory\n");
        return PSUM_EXIT_FAILURE;
    }
    const psum_cli_command *cmd = parse(&c, argc, argv);
    if (!cmd) {
        free(c.args);
        return PSUM_EXIT_USAGE;
    }
#ifndef _WIN32
    if (!c.help && (cmd->options & PSUM_OPT_CONFIG)) {
        int rc = configure(&c, cmd, argc, argv);
        if (rc) {
            psum_config_free(&c.config);
            free(c.args);
            return rc;
        }
    }
#endif

    /* Before any output is opened: a usage error makes no file. */
    if (!c.help && (cmd->options & PSUM_OPT_ALL) && psum_procs_check_named(&c) != 0) {
        free(c.args);
#ifndef _WIN32
        psum_config_free(&c.config);
#endif
        return PSUM_EXIT_USAGE;
    }

    psum_outputs out;
    /* --help anywhere prints the help, and only that, to standard output. */
    psum_output_config cfg = c.help ? (psum_output_config){.std_format = c.format} : psum_cli_outputs(&c);
    const char *what = NULL;
    err = psum_outputs_open(&out, &cfg, stdout, &what);
    if (err) {
        char q[200];
        fprintf(stderr, "procsum: cannot open %s: %s\n", psum_cli_quote(q, sizeof(q), what), strerror(err));
        free(c.args);
#ifndef _WIN32
        psum_config_free(&c.config);
#endif
        return PSUM_EXIT_FAILURE;
    }
    int rc = cmd->run(&c, &out.fan);
    err = psum_outputs_close(&out, &what);
    if (err) {
        psum_cli_output_failed_to(what, err); /* `what` may be a path the configuration holds: freed below */
        if (rc == PSUM_EXIT_OK)
            rc = PSUM_EXIT_FAILURE;
    }
    free(c.args);
#ifndef _WIN32
    psum_config_free(&c.config);
#endif
    return rc;
}
