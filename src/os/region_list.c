/* The region list every backend fills: growth, clearing, freeing. Platform-neutral. */
#include <stdlib.h>

#include "os.h"

int psum_os_region_list_push(psum_os_region_list *list, const psum_os_region *r)
{
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 64;
        psum_os_region *items = realloc(list->items, cap * sizeof(*items));
        if (!items)
            return PROCSUM_ENOMEM;
        list->items = items;
        list->cap = cap;
    }
    list->items[list->count++] = *r;
    return 0;
}

void psum_os_region_list_clear(psum_os_region_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i].path);
    list->count = 0;
}

void psum_os_region_list_free(psum_os_region_list *list)
{
    if (!list)
        return;
    psum_os_region_list_clear(list);
    free(list->items);
    list->items = NULL;
    list->cap = 0;
}
