/*
 * One pass without a checker: the benchmark and the listing. Both list the
 * regions, hash every page the options select once (no baseline, no
 * comparison with files) and hand back the regions in the public form.
 */
#include "oneshot.h"

#include <stdlib.h>
#include <string.h>

#include "os/os.h"
#include "report.h"
#include "pass/pass.h"
#include "text.h"

void psum_region_array_free(procsum_region *regions, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free((char *)regions[i].source);
    free(regions);
}

/* The regions the pass hashed, in the public form, with their digests. */
static int copy_regions(const psum_os_region_list *mapped, const procsum_options *o, const psum_snapshot *snap,
                        procsum_region **out, size_t *count)
{
    *count = 0;
    *out = calloc(snap->region_count ? snap->region_count : 1, sizeof(**out));
    if (!*out)
        return PROCSUM_ENOMEM;
    size_t j = 0;
    for (size_t i = 0; i < mapped->count && j < snap->region_count; i++) {
        const psum_os_region *r = &mapped->items[i];
        if (!psum_region_selected(r, o) || r->start != snap->regions[j].start)
            continue;
        procsum_region *pub = &(*out)[j];
        psum_region_view(r, pub);
        memcpy(pub->digest, snap->regions[j].digest, sizeof(pub->digest));
        pub->digest_valid = snap->regions[j].complete;
        pub->source = psum_text_dup(r->path);
        *count = ++j;
        if (!pub->source)
            return PROCSUM_ENOMEM;
    }
    return 0;
}

/* Between slices: a fork waiting for the gate goes through here. */
static int let_fork_through(void *ctx)
{
    (void)ctx;
    psum_os_fork_gate_leave();
    psum_os_fork_gate_enter();
    return 0;
}

int psum_oneshot(const procsum_options *o, psum_oneshot_result *out)
{
    memset(out, 0, sizeof(*out));
    psum_os_target *target = NULL;
    psum_os_region_list mapped = {0};
    psum_pass pass;
    memset(&pass, 0, sizeof(pass));
    int err = psum_os_target_open(o->pid, &target);
    /* Another process that exited (a zombie's maps are empty) is PROCSUM_ESRCH, as for a checker; an exec under way is waited for. */
    bool new_program;
    while (!err && (err = psum_os_target_refresh(target, &new_program)) == PROCSUM_EAGAIN)
        psum_os_sleep_ns(5000000u);
    if (!err)
        err = psum_pass_init(&pass, o, target, let_fork_through, NULL);
    if (err) {
        psum_os_target_close(target);
        return err;
    }
    /* One pass times and lists hashing: no file comparisons, and no file opened for its state (a report's). */
    pass.verify_new_pages = false;
    pass.note_file_state = false;
    psum_snapshot snap = {0};
    psum_os_fork_gate_enter();
    uint64_t t0 = psum_os_monotonic_ns();
    err = psum_os_list_regions(target, &mapped);
    uint64_t t1 = psum_os_monotonic_ns();
    if (!err)
        err = psum_snapshot_take(&pass, &mapped, NULL, &snap, NULL, NULL);
    uint64_t t2 = psum_os_monotonic_ns();
    psum_os_fork_gate_leave();
    if (!err) {
        out->scan_ns = t1 - t0;
        out->hash_ns = t2 - t1;
        out->hashed_bytes = pass.bytes_read;
        err = copy_regions(&mapped, o, &snap, &out->regions, &out->region_count);
        psum_snapshot_free(&snap);
        if (err) {
            psum_region_array_free(out->regions, out->region_count);
            memset(out, 0, sizeof(*out));
        }
    }
    psum_pass_free(&pass);
    psum_os_region_list_free(&mapped);
    psum_os_target_close(target);
    return err;
}
