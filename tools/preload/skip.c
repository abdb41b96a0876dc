/* PROCSUM_SKIP_FILES into a NULL-terminated list (skip.h). */
#include "skip.h"

#include <stdio.h>
#include <string.h>

bool psum_skip_parse(psum_skip_list *l, const char *value, char *why, size_t cap)
{
    l->count = 0;
    l->patterns[0] = NULL;
    if (!value || !value[0])
        return true;
    size_t len = strlen(value);
    if (len > PSUM_SKIP_TEXT_MAX) {
        snprintf(why, cap, "PROCSUM_SKIP_FILES: longer than %u bytes", PSUM_SKIP_TEXT_MAX);
        return false;
    }
    memcpy(l->text, value, len + 1);
    for (char *line = l->text;;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (!line[0] || l->count == PROCSUM_MAX_SKIP_FILES) {
            if (line[0])
                snprintf(why, cap, "PROCSUM_SKIP_FILES: more than %u globs", PROCSUM_MAX_SKIP_FILES);
            else
                snprintf(why, cap, "PROCSUM_SKIP_FILES: glob %zu is empty (one glob per line)", l->count + 1);
            l->count = 0;
            l->patterns[0] = NULL;
            return false;
        }
        l->patterns[l->count++] = line;
        if (!nl)
            break;
        line = nl + 1;
    }
    l->patterns[l->count] = NULL;
    return true;
}
