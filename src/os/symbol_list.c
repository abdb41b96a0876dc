/* The symbol list every backend fills: growth and freeing. Platform-neutral. */
#include <stdlib.h>
#include <string.h>

#include "os.h"

/* Names are kept below 4 GiB in all: an offset into them fits the 32 bits of psum_os_symbol.name. */
#define NAMES_MAX ((size_t)UINT32_MAX)

int psum_os_symbol_list_push(psum_os_symbol_list *l, uint64_t file_offset, uint64_t size, uint8_t rank,
                             const char *name, size_t len)
{
    if (len >= NAMES_MAX - l->names_len)
        return PROCSUM_ERANGE;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        psum_os_symbol *items = realloc(l->items, cap * sizeof(*items));
        if (!items)
            return PROCSUM_ENOMEM;
        l->items = items;
        l->cap = cap;
    }
    if (l->names_len + len + 1 > l->names_cap) {
        size_t cap = l->names_cap ? l->names_cap : 4096;
        while (cap < l->names_len + len + 1)
            cap *= 2;
        char *names = realloc(l->names, cap);
        if (!names)
            return PROCSUM_ENOMEM;
        l->names = names;
        l->names_cap = cap;
    }
    memcpy(l->names + l->names_len, name, len);
    l->names[l->names_len + len] = '\0';
    l->items[l->count++] = (psum_os_symbol){
        .file_offset = file_offset, .size = size, .name = (uint32_t)l->names_len, .rank = rank};
    l->names_len += len + 1;
    return 0;
}

void psum_os_symbol_list_free(psum_os_symbol_list *l)
{
    if (!l)
        return;
    free(l->items);
    free(l->names);
    memset(l, 0, sizeof(*l));
}
