/* Turning a change found by a pass into the public report and handing it to the user. */
#ifndef PSUM_REPORT_H
#define PSUM_REPORT_H

#include "pass/pass.h"
#include "procsum.h"

/* Fills a public region view of r; `source` points into r. */
void psum_region_view(const psum_os_region *r, procsum_region *out);

/* Builds the procsum_mismatch for ch and calls cb (if any) with it. */
void psum_report_change(const psum_change *ch, procsum_algorithm algo, procsum_callback cb, void *userdata);

#endif
