/* procsum regions: the executable regions of this process, with their digests. */
#include "cli.h"

int psum_cmd_regions(const psum_cli *c, psum_writer *w)
{
    procsum_options o = c->opts;
    /* A listing wants every region's digest: read pages not yet in memory too. */
    o.include_nonresident = true;
    procsum_region_list list;
    int err = procsum_list_regions(&o, &list);
    if (err)
        return psum_cli_fail("cannot list regions", err);
    int rc = psum_write_begin(w, PSUM_LIST_REGIONS, o.algorithm);
    for (size_t i = 0; !rc && i < list.count; i++)
        rc = psum_write_region(w, &list.regions[i]);
    if (!rc)
        rc = psum_write_end(w);
    procsum_region_list_free(&list);
    return rc ? PSUM_EXIT_FAILURE : PSUM_EXIT_OK;
}
