#include "text.h"

#include <stdlib.h>
#include <string.h>

#include "procsum.h"

char *psum_text_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

int psum_text_dup_list(const char *const *list, char ***out)
{
    *out = NULL;
    if (!list)
        return 0;
    size_t n = 0, bytes = 0;
    for (; list[n]; n++)
        bytes += strlen(list[n]) + 1;
    char **copy = malloc((n + 1) * sizeof(*copy) + bytes);
    if (!copy)
        return PROCSUM_ENOMEM;
    char *text = (char *)(copy + n + 1);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(list[i]) + 1;
        memcpy(text, list[i], len);
        copy[i] = text;
        text += len;
    }
    copy[n] = NULL;
    *out = copy;
    return 0;
}
