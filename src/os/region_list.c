/*
 * The region list every backend fills: growth, clearing, freeing.
 * Platform-neutral. Items and the names copied into the list live in
 * mapped tables kept from listing to listing (os.h), so that refilling a
 * list as large as before allocates nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "os.h"

static bool owns_name(const psum_os_region_list *list, const char *path)
{
    uintptr_t p = (uintptr_t)path, base = (uintptr_t)list->names;
    return list->names && p >= base && p < base + list->names_cap;
}

int psum_os_region_list_push(psum_os_region_list *list, const psum_os_region *r)
{
    int err = psum_os_table_grow((void **)&list->items, &list->cap, list->count + 1, sizeof(*list->items));
    if (err)
        return err;
    list->items[list->count++] = *r;
    return 0;
}

int psum_os_region_list_rename(psum_os_region_list *list, size_t i, const char *name, size_t len)
{
    char *old = list->names;
    size_t old_cap = list->names_cap;
    if (len >= SIZE_MAX - list->names_len)
        return PROCSUM_ENOMEM;
    int err = psum_os_table_grow((void **)&list->names, &list->names_cap, list->names_len + len + 1, 1);
    if (err)
        return err;
    /* Names copied before moved with the table: their items follow. */
    for (size_t k = 0; old != list->names && k < list->count; k++) {
        uintptr_t p = (uintptr_t)list->items[k].path;
        if (p >= (uintptr_t)old && p < (uintptr_t)old + old_cap)
            list->items[k].path = list->names + (p - (uintptr_t)old);
    }
    char *copy = list->names + list->names_len;
    memcpy(copy, name, len);
    copy[len] = '\0';
    list->names_len += len + 1;
    if (!owns_name(list, list->items[i].path))
        free(list->items[i].path);
    list->items[i].path = copy;
    return 0;
}

int psum_os_region_list_push_named(psum_os_region_list *list, const psum_os_region *r, const char *name,
                                   size_t len)
{
    psum_os_region named = *r;
    named.path = NULL;
    int err = psum_os_region_list_push(list, &named);
    if (!err)
        err = psum_os_region_list_rename(list, list->count - 1, name, len);
    if (err && list->count > 0 && list->items[list->count - 1].path == NULL)
        list->count--;
    return err;
}

void psum_os_region_list_clear(psum_os_region_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        if (!owns_name(list, list->items[i].path))
            free(list->items[i].path);
    list->count = 0;
    list->names_len = 0;
}

void psum_os_region_list_free(psum_os_region_list *list)
{
    if (!list)
        return;
    psum_os_region_list_clear(list);
    psum_os_table_free((void **)&list->items, &list->cap, sizeof(*list->items));
    psum_os_table_free((void **)&list->names, &list->names_cap, 1);
}
