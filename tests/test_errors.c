/*
 * Only the codes procsum.h lists leave the library: the API's filter lets
 * them through unchanged and turns anything else into PROCSUM_EIO, and every
 * errno the platform can give maps to a listed code.
 */
#include <criterion/criterion.h>

#include <errno.h>

#include "errors.h"
#include "os/os.h"
#include "procsum.h"

static bool listed(int code)
{
    switch (code) {
#define LISTED(name, value, words) case PROCSUM_##name:
        PROCSUM_ERRNO_MAP(LISTED)
#undef LISTED
        return true;
    }
    return false;
}

Test(errors, filter_passes_listed_codes_and_counts)
{
    for (int code = -200; code <= 0; code++) {
        int out = psum_error_filter(code);
        if (code == 0 || listed(code))
            cr_assert_eq(out, code, "listed code %d changed", code);
        else
            cr_assert_eq(out, PROCSUM_EIO, "unlisted code %d let out as %d", code, out);
    }
    cr_assert_eq(psum_error_filter(7), 7, "a count is not an error");
    cr_assert_eq(psum_error_filter(-100000), PROCSUM_EIO);
}

Test(errors, every_errno_maps_to_a_listed_code)
{
    for (int e = 1; e < 200; e++) {
        errno = e;
        int code = psum_os_last_error();
        cr_assert(listed(code), "errno %d maps to unlisted %d", e, code);
    }
    errno = EMFILE;
    cr_assert_eq(psum_os_last_error(), PROCSUM_EMFILE);
    errno = ENFILE;
    cr_assert_eq(psum_os_last_error(), PROCSUM_ENFILE);
    errno = ENOENT;
    cr_assert_eq(psum_os_last_error(), PROCSUM_ENOENT);
}

Test(errors, words_and_names_come_from_the_list)
{
#define SAME(name, value, words)                                        \
    cr_assert_str_eq(procsum_strerror(PROCSUM_##name), words);          \
    cr_assert_str_eq(procsum_err_name(PROCSUM_##name), "PROCSUM_" #name);
    PROCSUM_ERRNO_MAP(SAME)
#undef SAME
}
