/*
 * The configuration file, procsum.conf: settings under the long options'
 * names ([check], [output]) and allow lists ([allow]), read with inih.
 * docs/operating.md describes the format; procsum.conf(5) is its manual.
 */
#ifndef PSUM_CONFIG_H
#define PSUM_CONFIG_H

#include "cli.h"

/*
 * Reads the configuration into c, which holds no option yet: the file at
 * path (--config; missing is an error), or with path NULL the default file
 * when it exists. Settings are applied to c only where `accepts` (PSUM_OPT_*
 * bits of the command) takes them; the others are still checked. The
 * command line is applied over c afterwards, so its flags win. Returns 0,
 * or after one line on stderr naming the file (and line) an exit code:
 * PSUM_EXIT_USAGE for a bad file or a missing --config file,
 * PSUM_EXIT_PERMISSION when it may not be read, PSUM_EXIT_FAILURE when
 * reading it failed otherwise.
 */
int psum_config_load(psum_cli *c, const char *path, unsigned accepts);
void psum_config_free(psum_config *cfg);

/* `state-cause` names: the causes procsum.h lists. 0 and the cause, or -1. */
int psum_config_cause(const char *name, procsum_cause *out);

#endif
