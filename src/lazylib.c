/* Loading a library on first need: one attempt per process, under a lock taken only until it is made. */
#include "lazylib.h"

#include <dlfcn.h>
#include <string.h>

/* dlsym's object pointer into a function pointer, the way POSIX allows. */
static bool resolve(void *lib, const psum_lazylib_fn *fn)
{
    void *p = dlsym(lib, fn->name);
    if (!p)
        return false;
    memcpy(fn->slot, &p, fn->size);
    return true;
}

static bool load(const psum_lazylib *l)
{
    void *lib = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return false;
    for (size_t i = 0; i < l->count; i++) {
        if (!resolve(lib, &l->fns[i])) {
            dlclose(lib);
            return false;
        }
    }
    return true;
}

bool psum_lazylib_tried(psum_lazylib *l)
{
    return atomic_load(&l->state) != 0;
}

bool psum_lazylib_ready(psum_lazylib *l, bool may_load)
{
    int state = atomic_load(&l->state);
    if (state != 0 || !may_load)
        return state > 0;
    pthread_mutex_lock(&l->loading);
    if (atomic_load(&l->state) == 0)
        atomic_store(&l->state, load(l) ? 1 : -1);
    pthread_mutex_unlock(&l->loading);
    return atomic_load(&l->state) > 0;
}
