/*
 * Windows has no counterpart of the kernel's process connector that a
 * console program may subscribe to without a driver or WMI: watch --all
 * lists the processes again every period there.
 */
#include "procevents.h"

#include <errno.h>
#include <stddef.h>

int psum_procevents_open(psum_procevents **out)
{
    *out = NULL;
    return ENOSYS;
}

int psum_procevents_fd(const psum_procevents *e)
{
    (void)e;
    return -1;
}

int psum_procevents_read(psum_procevents *e, void (*on)(void *ctx, psum_procevent event, long pid), void *ctx)
{
    (void)e;
    (void)on;
    (void)ctx;
    return ENOSYS;
}

void psum_procevents_close(psum_procevents *e)
{
    (void)e;
}
