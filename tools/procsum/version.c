/* procsum version: the library's version, which is the command's. */
#include "cli.h"

int psum_cmd_version(const psum_cli *c, psum_writer *w)
{
    if (psum_write_begin(w, PSUM_LIST_VERSION, c->opts.algorithm) || psum_write_version(w, procsum_version_string()) ||
        psum_write_end(w))
        return PSUM_EXIT_FAILURE;
    return PSUM_EXIT_OK;
}
