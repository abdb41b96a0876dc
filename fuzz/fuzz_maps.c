/*
 * psum_maps_parse_line on arbitrary bytes. The input is one line as the
 * kernel might print it (or not). Beyond the sanitizers' own findings, a
 * parsed line must keep the promises that the region listing relies on:
 * start < end, the kind agrees with the path, a file's identity only for
 * files, nothing allocated on failure; and printing the region back in the
 * maps format and parsing that again gives the same region.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "fuzz_check.h"
#include "os/linux/maps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_region(const psum_os_region *r, const uint8_t *line, size_t len)
{
    FUZZ_CHECK(r->start < r->end, "start %" PRIxPTR " not below end %" PRIxPTR, r->start, r->end);
    FUZZ_CHECK((r->prot & ~(PSUM_PROT_R | PSUM_PROT_W | PSUM_PROT_X)) == 0, "protection bits %#x", r->prot);
    FUZZ_CHECK(r->path != NULL, "a parsed region always has a name");
    /* The kernel never prints a NUL; a line that holds one may cut the name to nothing. */
    if (memchr(line, '\0', len) == NULL)
        FUZZ_CHECK(r->path[0] != '\0', "a parsed region always has a name");
    FUZZ_CHECK(!r->main_executable && !r->relocated, "the caller decides main_executable and relocated");

    switch (r->kind) {
    case PROCSUM_REGION_FILE:
        FUZZ_CHECK(r->path[0] == '/', "file region with path '%s'", r->path);
        break;
    case PROCSUM_REGION_VDSO:
        FUZZ_CHECK(strcmp(r->path, "[vdso]") == 0, "vdso region named '%s'", r->path);
        break;
    case PROCSUM_REGION_ANON:
        FUZZ_CHECK(strcmp(r->path, "[anon]") == 0 || strncmp(r->path, "[anon:", 6) == 0, "anon region named '%s'",
                   r->path);
        break;
    case PROCSUM_REGION_OTHER:
        FUZZ_CHECK(r->path[0] != '/', "'%s' looks like a file but is not one", r->path);
        break;
    default:
        FUZZ_CHECK(0, "unknown kind %d", (int)r->kind);
    }
    if (r->kind != PROCSUM_REGION_FILE)
        FUZZ_CHECK(r->dev == 0 && r->ino == 0 && r->file_offset == 0 && !r->file_deleted,
                   "file identity on a region that is not a file");

    /* The name comes from the line itself, except the one given to anonymous memory. */
    size_t plen = strlen(r->path);
    if (r->kind != PROCSUM_REGION_ANON || strcmp(r->path, "[anon]") != 0)
        FUZZ_CHECK(memmem(line, len, r->path, plen) != NULL, "path '%s' is not in the line", r->path);
}

static int parse(const char *line, size_t len, psum_os_region *r)
{
    int err = psum_maps_parse_line(line, len, r);
    FUZZ_CHECK(err == 0 || err == PROCSUM_EBADMSG || err == PROCSUM_ENOMEM, "unexpected code %d", err);
    if (err)
        FUZZ_CHECK(r->path == NULL, "path allocated on failure (%d)", err);
    return err;
}

/* Prints r as the kernel would (private, so 'p'), then parses it again. */
static void check_round_trip(const psum_os_region *r)
{
    const char *name = r->path;
    if (r->kind == PROCSUM_REGION_ANON && strcmp(name, "[anon]") == 0)
        name = "";
    size_t cap = strlen(name) + 128;
    char *line = malloc(cap);
    FUZZ_CHECK(line != NULL, "out of memory");
    int n = snprintf(line, cap, "%" PRIxPTR "-%" PRIxPTR " %c%c%cp %08" PRIx64 " %02x:%02x %" PRIu64 "    %s%s\n",
                     r->start, r->end, (r->prot & PSUM_PROT_R) ? 'r' : '-', (r->prot & PSUM_PROT_W) ? 'w' : '-',
                     (r->prot & PSUM_PROT_X) ? 'x' : '-', r->file_offset, major(r->dev), minor(r->dev), r->ino,
                     name, r->file_deleted ? " (deleted)" : "");
    FUZZ_CHECK(n > 0 && (size_t)n < cap, "line printed whole");

    psum_os_region again;
    int err = parse(line, (size_t)n, &again);
    FUZZ_CHECK(err == 0, "printed line '%s' refused: %d", line, err);
    FUZZ_CHECK(again.start == r->start && again.end == r->end && again.prot == r->prot, "range or protection");
    FUZZ_CHECK(again.kind == r->kind && again.file_deleted == r->file_deleted, "kind or deletion");
    FUZZ_CHECK(again.dev == r->dev && again.ino == r->ino && again.file_offset == r->file_offset, "file identity");
    FUZZ_CHECK(strcmp(again.path, r->path) == 0, "path '%s' came back as '%s'", r->path, again.path);
    free(again.path);
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so that reading one byte past the line is caught. */
    char *line = malloc(size ? size : 1);
    FUZZ_CHECK(line != NULL, "out of memory");
    if (size)
        memcpy(line, data, size);

    psum_os_region r;
    memset(&r, 0x5A, sizeof(r));
    if (parse(line, size, &r) == 0) {
        check_region(&r, data, size);
        /* A NUL inside the line would cut the path short where printing it again stops. */
        if (memchr(data, '\0', size) == NULL)
            check_round_trip(&r);
        free(r.path);
    }
    free(line);
    return 0;
}
