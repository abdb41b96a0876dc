/*
 * procsum.conf, read with inih. inih reads a line at a time through our
 * reader, which counts the lines (so that every message names one),
 * refuses a line longer than inih's buffer instead of letting inih read
 * its rest as a line of its own, and checks each [section] as it passes
 * (inih says nothing of a section without keys). A setting is applied
 * through the same function as its long option (cli.c), so a value means
 * in the file what it means on the command line. The first error is the
 * one reported: ours, or a line inih could not parse, whichever comes
 * first.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The settings: the long options a file may set, by section. */
static const struct setting {
    const char *section;
    const char *key;
    bool flag;     /* a boolean: true applies the flag, false leaves the default */
    unsigned gate; /* PSUM_OPT_* bits a command takes for the setting to apply to it */
} SETTINGS[] = {
    {"check", "period", false, PSUM_OPT_PERIOD},
    {"check", "algo", false, PSUM_OPT_ALGO},
    {"check", "cpu", false, PSUM_OPT_CPU},
    {"check", "skip-libs", true, PSUM_OPT_SKIP_LIBS},
    {"check", "include-writable-code", true, PSUM_OPT_WRITABLE},
    /* Standard output in JSON for the commands that send events, not for regions or bench. */
    {"output", "json", true, PSUM_OPT_OUTPUTS},
    {"output", "json-file", false, PSUM_OPT_JSON_FILE},
    {"output", "journal", true, PSUM_OPT_JOURNAL},
    {"output", "prometheus", false, PSUM_OPT_PROMETHEUS},
};
#define SETTING_COUNT (sizeof(SETTINGS) / sizeof(SETTINGS[0]))

static const char *const SECTIONS[] = {"check", "output", "allow"};

/* The causes by name, from procsum.h's one list. */
static const struct {
    const char *name;
    procsum_cause cause;
} CAUSES[] = {
#define PSUM_CONFIG_CAUSE_(NAME, value, name, meaning) {name, PROCSUM_CAUSE_##NAME},
    PROCSUM_CAUSE_MAP(PSUM_CONFIG_CAUSE_)
#undef PSUM_CONFIG_CAUSE_
};

typedef struct reading {
    psum_cli *c;
    psum_cli scratch; /* settings the command does not take: checked here, then dropped */
    unsigned accepts;
    FILE *f;
    int line;          /* the line inih has now */
    int error_line;    /* the first error of ours, or 0 */
    char error[300];
    bool bad_section;  /* the section now is unknown: reported at its header, its keys are not */
    unsigned seen;     /* bit i: SETTINGS[i] was given (once only) */
    int read_errno;
    size_t bytes; /* read so far: a configuration file is small, and /dev/zero never ends */
} reading;

/* The most a configuration file may hold: far more than any real one, and an end to an endless one. */
#define MAX_FILE_BYTES (1u << 20)

static void error_at(reading *r, const char *fmt, ...) PSUM_PRINTF(2, 3);

static void error_at(reading *r, const char *fmt, ...)
{
    if (r->error_line)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof(r->error), fmt, ap);
    va_end(ap);
    r->error_line = r->line;
}

static bool known_section(const char *name)
{
    for (size_t i = 0; i < sizeof(SECTIONS) / sizeof(SECTIONS[0]); i++)
        if (strcmp(SECTIONS[i], name) == 0)
            return true;
    return false;
}

/* A [section] header: an unknown one is an error even when no key follows it. */
static void look_at_header(reading *r, const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    const char *close = line[0] == '[' ? strchr(line, ']') : NULL;
    if (!close)
        return; /* not a header, or one inih will refuse */
    char name[64], q[80];
    size_t len = (size_t)(close - line - 1);
    snprintf(name, sizeof(name), "%.*s", (int)(len < sizeof(name) ? len : sizeof(name) - 1), line + 1);
    r->bad_section = !known_section(name);
    if (r->bad_section) {
        error_at(r, "unknown section [%s] (use [check], [output], [allow])", psum_cli_quote(q, sizeof(q), name));
        return;
    }
    /* inih drops what follows the ']': a setting there ("[check] period = 5") would be lost without a word. */
    const char *rest = close + 1;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    if (*rest && *rest != '\n' && *rest != '#' && *rest != ';')
        error_at(r, "text after [%s]: put a setting on a line of its own", name);
}

/*
 * inih's reader: one line, counted, read a byte at a time so that nothing
 * is hidden from it: a NUL byte (which would end the line early for inih
 * and start another) and a line too long for inih are refused, the line
 * consumed whole; "\r\n" ends a line as "\n" does. A file past
 * MAX_FILE_BYTES is refused where it gets there.
 */
static char *read_line(char *str, int num, void *stream)
{
    reading *r = stream;
    size_t cap = (size_t)num - 2, len = 0; /* the line's characters; room is left for "\n" and the NUL */
    bool nul = false, too_long = false, too_big = false;
    int ch;
    errno = 0;
    for (;;) {
        ch = getc(r->f);
        if (ch == EOF)
            break;
        if (r->bytes++ == MAX_FILE_BYTES) { /* newlines count too: an endless stream of them ends here */
            too_big = true;
            break;
        }
        if (ch == '\n')
            break;
        if (ch == '\0')
            nul = true;
        else if (len <= cap) /* one more than fits: a final '\r' may go */
            str[len++] = (char)ch;
        else
            too_long = true;
    }
    if (ch == EOF && ferror(r->f)) {
        r->read_errno = errno ? errno : EIO;
        return NULL;
    }
    if (ch == EOF && len == 0 && !nul && !too_long)
        return NULL;
    r->line++;
    if (too_big) {
        error_at(r, "the file goes on past %u bytes", MAX_FILE_BYTES);
        return NULL;
    }
    if (len > 0 && str[len - 1] == '\r')
        len--;
    too_long = too_long || len > cap;
    if (nul || too_long) {
        if (nul)
            error_at(r, "a NUL byte in the line");
        else
            error_at(r, "line longer than %d characters", num - 2);
        str[0] = '\0';
        return str;
    }
    str[len] = '\n';
    str[len + 1] = '\0';
    look_at_header(r, str);
    return str;
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *const YES[] = {"yes", "true", "on", "1"}, *const NO[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, YES[i]) == 0)
            return *out = true, true;
        if (strcasecmp(v, NO[i]) == 0)
            return *out = false, true;
    }
    return false;
}

/* Adds a copy of s to the NULL-terminated list *list of *n; false when out of memory. */
static char *push_copy(char ***list, size_t *n, const char *s)
{
    char **grown = realloc(*list, (*n + 2) * sizeof(*grown));
    if (!grown)
        return NULL;
    *list = grown;
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    grown[(*n)++] = copy;
    grown[*n] = NULL;
    return copy;
}

int psum_config_cause(const char *name, procsum_cause *out)
{
    for (size_t i = 0; i < sizeof(CAUSES) / sizeof(CAUSES[0]); i++)
        if (strcmp(CAUSES[i].name, name) == 0) {
            *out = CAUSES[i].cause;
            return 0;
        }
    return -1;
}

/* PATH:OFFSET, the offset decimal or 0x hex; the path is everything before the last ':'. */
static bool parse_change(const char *v, psum_allow_change *out, char **path_out)
{
    const char *colon = strrchr(v, ':');
    if (!colon || v[0] != '/' || colon == v + 1 || !colon[1])
        return false;
    const char *num = colon + 1;
    int base = num[0] == '0' && (num[1] == 'x' || num[1] == 'X') ? 16 : 10;
    const char *digits = base == 16 ? num + 2 : num;
    if (!(base == 10 ? digits[0] >= '0' && digits[0] <= '9' : strchr("0123456789abcdefABCDEF", digits[0]) && digits[0]))
        return false;
    char *end;
    errno = 0;
    unsigned long long off = strtoull(digits, &end, base);
    if (*end || errno)
        return false;
    *path_out = strndup(v, (size_t)(colon - v));
    out->offset = off;
    return true;
}

static int allow_entry(reading *r, const char *key, const char *v)
{
    psum_config *cfg = &r->c->config;
    char q[80];
    if (!v[0]) {
        error_at(r, "'%s' in [allow] needs a value", key);
        return 0;
    }
    if (strcmp(key, "process") == 0)
        return push_copy(&cfg->processes, &cfg->process_count, v) ? 1 : -1;
    if (strcmp(key, "module") == 0) {
        if (cfg->module_count == PROCSUM_MAX_SKIP_FILES) {
            error_at(r, "more than %u 'module' globs", PROCSUM_MAX_SKIP_FILES);
            return 0;
        }
        return push_copy(&cfg->modules, &cfg->module_count, v) ? 1 : -1;
    }
    if (strcmp(key, "change") == 0) {
        psum_allow_change ch = {0};
        char *path = NULL;
        if (!parse_change(v, &ch, &path)) {
            error_at(r, "bad value for 'change' in [allow]: '%s' is not /PATH:OFFSET (the offset decimal or 0x hex)",
                     psum_cli_quote(q, sizeof(q), v));
            return 0;
        }
        psum_allow *a = &cfg->allow;
        psum_allow_change *grown = path ? realloc(a->changes, (a->change_count + 1) * sizeof(*grown)) : NULL;
        if (!grown) {
            free(path);
            return -1;
        }
        a->changes = grown;
        ch.path = path;
        a->changes[a->change_count++] = ch;
        return 1;
    }
    if (strcmp(key, "state-cause") == 0) {
        procsum_cause cause;
        if (psum_config_cause(v, &cause) != 0) {
            char names[200] = "";
            for (size_t i = 0; i < sizeof(CAUSES) / sizeof(CAUSES[0]); i++)
                snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ", " : "", CAUSES[i].name);
            error_at(r, "bad value for 'state-cause' in [allow]: no cause '%s' (use one of %s)",
                     psum_cli_quote(q, sizeof(q), v), names);
            return 0;
        }
        r->c->config.allow.state_causes |= 1u << cause;
        return 1;
    }
    error_at(r, "unknown key '%s' in [allow] (use process, module, change, state-cause)", psum_cli_quote(q, sizeof(q), key));
    return 0;
}

static int setting(reading *r, const char *section, const char *key, const char *v)
{
    char q[80], q2[80], why[240];
    size_t i = 0;
    while (i < SETTING_COUNT && !(strcmp(SETTINGS[i].section, section) == 0 && strcmp(SETTINGS[i].key, key) == 0))
        i++;
    if (i == SETTING_COUNT) {
        error_at(r, "unknown key '%s' in [%s]", psum_cli_quote(q, sizeof(q), key), section);
        return 0;
    }
    const struct setting *s = &SETTINGS[i];
    if (r->seen & (1u << i)) {
        error_at(r, "'%s' is given twice in [%s]", key, section);
        return 0;
    }
    r->seen |= 1u << i;
    psum_cli *target = s->gate & r->accepts ? r->c : &r->scratch;
    bool on = false;
    if (s->flag && !parse_bool(v, &on)) {
        error_at(r, "bad value for '%s' in [%s]: '%s' is not yes/no, true/false, on/off or 1/0", key, section,
                 psum_cli_quote(q2, sizeof(q2), v));
        return 0;
    }
    if (s->flag && !on)
        return 1;
    /* The options keep pointers to path values: they live as long as the configuration. */
    const char *value = NULL;
    if (!s->flag && !(value = push_copy(&r->c->config.values, &r->c->config.value_count, v)))
        return -1;
    if (psum_cli_setting(target, key, value, why, sizeof(why)) != 0) {
        error_at(r, "bad value for '%s' in [%s]: %s", key, section, why);
        return 0;
    }
    if (target == r->c)
        r->c->config.given |= s->gate;
    return 1;
}

/* " # words" after a value is a comment, as a line starting with '#' is (inih itself cuts " ; words"). */
static void cut_comment(char *v)
{
    for (char *p = v; (p = strchr(p, '#')) != NULL; p++)
        if (p > v && (p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            break;
        }
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        v[--n] = '\0';
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
    reading *r = user;
    char q[80];
    if (r->bad_section)
        return 1; /* reported at its header */
    char v[256];
    snprintf(v, sizeof(v), "%s", value);
    cut_comment(v);
    int rc;
    if (!section[0]) {
        error_at(r, "'%s' outside a section (put it under [check], [output] or [allow])", psum_cli_quote(q, sizeof(q), key));
        rc = 0;
    } else if (strcmp(section, "allow") == 0) {
        rc = allow_entry(r, key, v);
    } else if (!v[0]) {
        error_at(r, "'%s' in [%s] needs a value", psum_cli_quote(q, sizeof(q), key), section);
        rc = 0;
    } else {
        rc = setting(r, section, key, v);
    }
    if (rc < 0) {
        error_at(r, "out of memory");
        rc = 0;
    }
    return rc;
}

void psum_config_free(psum_config *cfg)
{
    for (size_t i = 0; i < cfg->process_count; i++)
        free(cfg->processes[i]);
    for (size_t i = 0; i < cfg->module_count; i++)
        free(cfg->modules[i]);
    for (size_t i = 0; i < cfg->value_count; i++)
        free(cfg->values[i]);
    for (size_t i = 0; i < cfg->allow.change_count; i++)
        free(cfg->allow.changes[i].path);
    free(cfg->processes);
    free(cfg->modules);
    free(cfg->values);
    free(cfg->allow.changes);
    memset(cfg, 0, sizeof(*cfg));
}

static int open_failed(const char *path, int err)
{
    char q[200];
    fprintf(stderr, "procsum: cannot read the configuration file %s: %s\n", psum_cli_quote(q, sizeof(q), path),
            strerror(err));
    if (err == EACCES || err == EPERM)
        return PSUM_EXIT_PERMISSION;
    return err == ENOENT || err == EISDIR ? PSUM_EXIT_USAGE : PSUM_EXIT_FAILURE;
}

/*
 * Opened without waiting: a named pipe nobody writes to would block open()
 * for good. Reads then wait as usual, so a pipe that is written (a shell's
 * <(...)) is read whole, and one nobody opens for writing reads as empty.
 */
static FILE *open_config(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return NULL;
    int flags = fcntl(fd, F_GETFL);
    FILE *f = flags >= 0 && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 ? fdopen(fd, "r") : NULL;
    if (!f) {
        int err = errno;
        close(fd);
        errno = err;
    }
    return f;
}

int psum_config_load(psum_cli *c, const char *path, unsigned accepts)
{
    bool named = path != NULL;
    if (!named)
        path = PSUM_CONFIG_DEFAULT;
    FILE *f = open_config(path);
    if (!f)
        return !named && errno == ENOENT ? 0 : open_failed(path, errno);
    reading *r = calloc(1, sizeof(*r));
    if (!r) {
        fclose(f);
        return psum_cli_fail("reading the configuration", PROCSUM_ENOMEM);
    }
    r->c = c;
    r->f = f;
    r->accepts = accepts;
    psum_cli_init(&r->scratch);
    int bad_line = ini_parse_stream(read_line, r, on_key, r);
    int err = r->read_errno;
    fclose(f);
    int rc = 0;
    char q[200];
    if (err) {
        rc = open_failed(path, err);
    } else if (r->error_line && (bad_line <= 0 || r->error_line <= bad_line)) {
        fprintf(stderr, "procsum: %s:%d: %s\n", psum_cli_quote(q, sizeof(q), path), r->error_line, r->error);
        rc = PSUM_EXIT_USAGE;
    } else if (bad_line > 0) {
        fprintf(stderr, "procsum: %s:%d: not a [section], a 'key = value' or a comment\n",
                psum_cli_quote(q, sizeof(q), path), bad_line);
        rc = PSUM_EXIT_USAGE;
    } else if (bad_line < 0) {
        rc = psum_cli_fail("reading the configuration", PROCSUM_ENOMEM);
    }
    free(r);
    if (rc)
        return rc;
    c->opts.skip_files = (const char *const *)c->config.modules;
    c->outputs.allow = &c->config.allow;
    return 0;
}
