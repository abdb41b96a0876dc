/*
 * The big libraries that make the process realistic: loaded with
 * RTLD_LAZY | RTLD_LOCAL and never called (their constructors run, as in
 * any program that loads them). A missing one is named and left out.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker_bench.h"

void libs_load(result *r, void *handles[N_LIBS])
{
    for (int i = 0; i < N_LIBS; i++) {
        lib_info *li = &r->libs[i];
        handles[i] = dlopen(BENCH_LIBS[i].path, RTLD_LAZY | RTLD_LOCAL);
        if (!handles[i]) {
            const char *e = dlerror();
            snprintf(li->error, sizeof li->error, "%s", e ? e : "dlopen failed");
            continue;
        }
        li->loaded = true;
        if (!realpath(BENCH_LIBS[i].path, li->real))
            snprintf(li->real, sizeof li->real, "%s", BENCH_LIBS[i].path);
    }
}

/* Adds a mapping of `size` bytes at `path` to the process's total and to its library's. */
static void count_mapping(result *r, const char *path, uint64_t size)
{
    r->process_exec_bytes += size;
    for (int i = 0; i < N_LIBS; i++) {
        if (r->libs[i].loaded && strcmp(path, r->libs[i].real) == 0) {
            r->libs[i].exec_bytes += size;
            r->libs_exec_bytes += size;
        }
    }
}

/* Sums the r-x mappings of the process, and those of each loaded library. */
int libs_count_exec_bytes(result *r)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return -1;
    r->process_exec_bytes = r->libs_exec_bytes = 0;
    for (int i = 0; i < N_LIBS; i++)
        r->libs[i].exec_bytes = 0;
    char line[PATH_MAX + 256];
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        int path_at = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &path_at) < 3)
            continue;
        if (perms[0] != 'r' || perms[2] != 'x' || hi <= lo)
            continue;
        char *path = line + path_at;
        path[strcspn(path, "\n")] = '\0';
        count_mapping(r, path, hi - lo);
    }
    if (fclose(f) != 0)
        return -1;
    return 0;
}

/* Unloads what is still loaded; says on stderr when dlclose fails, unless quietly (a cleanup after a failure). */
void libs_unload(void *handles[N_LIBS], bool quietly)
{
    for (int i = 0; i < N_LIBS; i++) {
        if (handles[i] && dlclose(handles[i]) != 0 && !quietly)
            fprintf(stderr, "  dlclose(%s): %s\n", BENCH_LIBS[i].name, dlerror());
        handles[i] = NULL;
    }
}

int libs_loaded_count(const result *r)
{
    int n = 0;
    for (int i = 0; i < N_LIBS; i++)
        n += r->libs[i].loaded;
    return n;
}

/* The libraries as the reports show them: from the first run that got that far. */
const result *libs_first_listing(const run_set *s)
{
    for (int i = 0; i < s->n; i++)
        if (s->rs[i].ok)
            return &s->rs[i];
    return NULL;
}
