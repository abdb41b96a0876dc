/*
 * A process against its files, once: every resident executable page of a
 * file mapping is read and digested, and so is the file's page, read below
 * the cache where memory is the cache's own page (pagemap tells), through
 * it where memory is the process's private copy. Pages that differ are
 * described byte by byte, with their cause, by the same code as a
 * checker's reports (compare/pagefile.c).
 *
 * A verifier keeps what it learnt of each file page (filepages.c) across
 * the processes it checks: a file page's digest is read once, and a
 * page-cache page found equal to the disk is not read again for the next
 * process that maps it, since it is the same physical page. So verifying
 * every process of a host costs about the code that is unique.
 *
 * Pages are copied out (psum_os_read: process_vm_readv for another
 * process), never used in place, and never faulted in: only pages the
 * residency says are mapped are read.
 */
#include "verify.h"

#include <stdlib.h>
#include <string.h>

#include "compare/pagefile.h"
#include "digest/digest.h"
#include "filepages.h"
#include "oneshot.h"
#include "os/os.h"
#include "pass/pass.h"
#include "report.h"
#include "text.h"

/* Residency is asked for this many pages at once. */
#define CHUNK 512u

struct procsum_verifier {
    procsum_options opts; /* its skip_files is skip_files below */
    char **skip_files;    /* the verifier's own copy of the caller's list */
    psum_filepages seen;
    psum_file_cache files;
    uint8_t mem[PROCSUM_PAGE_SIZE];
    uint8_t again[PROCSUM_PAGE_SIZE]; /* a page that differs, read a second time */
    bool resident[CHUNK];
};

/* One process being verified. */
typedef struct verify_run {
    procsum_verifier *v;
    psum_os_target *t;
    const psum_os_region_list *mapped;
    bool uprobes_mapped;
    procsum_verify_result *out;
    size_t change_cap;
    const psum_os_region *last_region; /* the region the last change was added for, and its index */
    size_t last_region_index;
} verify_run;

int psum_verifier_new(const procsum_options *o, procsum_verifier **out)
{
    procsum_verifier *v = calloc(1, sizeof(*v));
    if (!v)
        return PROCSUM_ENOMEM;
    v->opts = *o;
    int err = psum_text_dup_list(o->skip_files, &v->skip_files);
    if (err) {
        free(v);
        return err;
    }
    v->opts.skip_files = (const char *const *)v->skip_files;
    *out = v;
    return 0;
}

void psum_verifier_free(procsum_verifier *v)
{
    if (!v)
        return;
    psum_file_cache_free(&v->files);
    psum_filepages_free(&v->seen);
    free(v->skip_files);
    free(v);
}

void psum_verify_result_free(procsum_verify_result *r)
{
    psum_region_array_free(r->regions, r->region_count);
    for (size_t i = 0; i < r->change_count; i++)
        psum_page_change_free_text(&r->changes[i].page);
    free(r->changes);
    memset(r, 0, sizeof(*r));
}

/* The index in out->regions of r, added with its path the first time a change is found in it. */
static int region_index(verify_run *run, const psum_os_region *r, size_t *index)
{
    procsum_verify_result *out = run->out;
    if (run->last_region == r) {
        *index = run->last_region_index;
        return 0;
    }
    procsum_region *regions = realloc(out->regions, (out->region_count + 1) * sizeof(*regions));
    if (!regions)
        return PROCSUM_ENOMEM;
    out->regions = regions;
    procsum_region *pub = &regions[out->region_count];
    psum_region_view(r, pub);
    pub->source = psum_text_dup(r->path);
    if (!pub->source)
        return PROCSUM_ENOMEM;
    run->last_region = r;
    *index = run->last_region_index = out->region_count++;
    return 0;
}

/* The page at addr differs from its file: describe it against the file, with its cause. */
static int add_change(verify_run *run, const psum_os_region *r, uintptr_t addr, procsum_copy copy)
{
    procsum_verifier *v = run->v;
    procsum_verify_result *out = run->out;
    psum_page_context ctx = {
        .target = run->t,
        .copy = copy,
        .below_cache = v->opts.verify_below_cache,
        .uprobes_mapped = run->uprobes_mapped,
        .mapped = run->mapped,
    };
    procsum_page_change pc;
    psum_describe_page(&v->files, r, addr, v->mem, &ctx, &pc);
    /* Equal after all: the file was read again in between and now matches (written meanwhile). */
    if (pc.file_status == PROCSUM_FILE_COMPARED && pc.changed_bytes == 0) {
        psum_page_change_free_text(&pc);
        return 0;
    }
    int err = 0;
    if (out->change_count == run->change_cap) {
        size_t cap = run->change_cap ? run->change_cap * 2 : 8;
        procsum_verify_change *changes = realloc(out->changes, cap * sizeof(*changes));
        if (!changes)
            err = PROCSUM_ENOMEM;
        else {
            out->changes = changes;
            run->change_cap = cap;
        }
    }
    size_t index;
    if (!err)
        err = region_index(run, r, &index);
    if (err) {
        psum_page_change_free_text(&pc);
        return err;
    }
    /* The result owns the page's strings from here on. */
    out->changes[out->change_count++] = (procsum_verify_change){.region = index, .page = pc};
    return 0;
}

/* The file's page for addr, digested into fp unless fp already holds what this copy must be compared with. */
static int file_digest(verify_run *run, const psum_os_region *r, uintptr_t addr, bool below, psum_filepage *fp,
                       bool *have)
{
    procsum_verifier *v = run->v;
    *have = true;
    if ((fp->flags & PSUM_FILEPAGE_DIGEST) && (!below || (fp->flags & PSUM_FILEPAGE_FROM_DISK)))
        return 0;
    if (psum_file_page(&v->files, r, addr, below) != PROCSUM_FILE_COMPARED) {
        *have = false;
        return 0;
    }
    psum_page_digest_at(v->opts.algorithm, v->files.page, 0, fp->digest);
    fp->flags |= PSUM_FILEPAGE_DIGEST | (below ? PSUM_FILEPAGE_FROM_DISK : 0u);
    run->out->bytes_hashed += PROCSUM_PAGE_SIZE;
    return 0;
}

/*
 * A page that differs from its file is looked at again before it is
 * reported, as a checker's pass does (pass/pages.c). A library unloaded and
 * another loaded at its address since the listing (a plugin host's dlclose
 * and dlopen) is other content, not a change: the mapping at the page must
 * still be the one listed (where the platform can say).
 */
static bool still_listed(verify_run *run, const psum_os_region *r, uintptr_t addr)
{
    return psum_pages_still_listed(run->t, r, addr, true); /* one look: no next pass to wait for */
}

/* And a second read must give the same bytes: a page that reads otherwise each time is being written. */
static bool reads_again(verify_run *run, uintptr_t addr)
{
    procsum_verifier *v = run->v;
    return psum_os_read(run->t, addr, v->again, PROCSUM_PAGE_SIZE) == 0 &&
           memcmp(v->again, v->mem, PROCSUM_PAGE_SIZE) == 0;
}

/* One resident page of a file mapping; PROCSUM_EFAULT when it is no longer mapped (or mapped again). */
static int check_page(verify_run *run, const psum_os_region *r, uintptr_t addr)
{
    procsum_verifier *v = run->v;
    procsum_verify_result *out = run->out;
    procsum_copy copy = psum_os_page_copy(run->t, addr);
    uint64_t offset = r->file_offset + (addr - r->start);
    psum_filepage *fp;
    int err = psum_filepages_get(&v->seen, r->dev, r->ino, offset / PROCSUM_PAGE_SIZE, &fp);
    if (err)
        return err;
    /* The page cache's page, already found equal to its file for another process: the same page. */
    if (copy == PROCSUM_COPY_SHARED && (fp->flags & PSUM_FILEPAGE_SHARED_CLEAN)) {
        out->pages_checked++;
        out->pages_shared++;
        return 0;
    }
    err = psum_os_read(run->t, addr, v->mem, PROCSUM_PAGE_SIZE);
    if (err)
        return err;
    out->bytes_hashed += PROCSUM_PAGE_SIZE;
    size_t len = psum_digest_len(v->opts.algorithm);
    uint8_t digest[PROCSUM_MAX_DIGEST];
    psum_page_digest_at(v->opts.algorithm, v->mem, 0, digest);
    bool below = v->opts.verify_below_cache && copy == PROCSUM_COPY_SHARED;
    bool have;
    err = file_digest(run, r, addr, below, fp, &have);
    if (err)
        return err;
    if (!have) {
        out->pages_unverified++;
        return 0;
    }
    if (memcmp(digest, fp->digest, len) == 0) {
        out->pages_checked++;
        if (copy == PROCSUM_COPY_SHARED)
            fp->flags |= PSUM_FILEPAGE_SHARED_CLEAN;
        return 0;
    }
    /* The region as listed is gone: the rest of it is not read, as for one unmapped. */
    if (!still_listed(run, r, addr))
        return PROCSUM_EFAULT;
    /*
     * Being written under the reads: no bytes to show, but counted, and the
     * rest of the region still read (a page rewritten without end would
     * otherwise hide every page after it).
     */
    if (!reads_again(run, addr)) {
        out->pages_unverified++;
        return 0;
    }
    /* Listed after the second read too: a range mapped anew between the two looks cannot pass for the listed one. */
    if (!still_listed(run, r, addr))
        return PROCSUM_EFAULT;
    /* The page cache's page, unlike what the file opened caches: that file is not the one mapped. */
    if (copy == PROCSUM_COPY_SHARED && psum_file_not_mapped(&v->files, r, addr, v->mem)) {
        out->pages_unverified++;
        return 0;
    }
    out->pages_checked++;
    return add_change(run, r, addr, copy);
}

/* Every resident page of r; a region unmapped meanwhile ends early, without error. */
static int check_region(verify_run *run, const psum_os_region *r)
{
    procsum_verifier *v = run->v;
    size_t total = (r->end - r->start) / PROCSUM_PAGE_SIZE;
    for (size_t done = 0; done < total;) {
        size_t n = total - done < CHUNK ? total - done : CHUNK;
        uintptr_t base = r->start + done * PROCSUM_PAGE_SIZE;
        int err = 0;
        if (v->opts.include_nonresident)
            memset(v->resident, 1, n * sizeof(v->resident[0]));
        else
            err = psum_os_resident(run->t, base, n, v->resident);
        for (size_t k = 0; !err && k < n; k++) {
            if (!v->resident[k])
                continue;
            if (r->kind != PROCSUM_REGION_FILE)
                run->out->pages_unverified++; /* no file to compare with */
            else
                err = check_page(run, r, base + k * PROCSUM_PAGE_SIZE);
        }
        if (err == PROCSUM_EFAULT)
            return 0;
        if (err)
            return err;
        done += n;
    }
    return 0;
}

static int verify_target(verify_run *run, const psum_os_region_list *mapped)
{
    run->mapped = mapped;
    for (size_t i = 0; i < mapped->count && !run->uprobes_mapped; i++)
        run->uprobes_mapped = mapped->items[i].path && strcmp(mapped->items[i].path, "[uprobes]") == 0;
    for (size_t i = 0; i < mapped->count; i++) {
        const psum_os_region *r = &mapped->items[i];
        if (!psum_region_selected(r, &run->v->opts))
            continue;
        int err = check_region(run, r);
        if (err)
            return err;
    }
    return 0;
}

int psum_verifier_check(procsum_verifier *v, long pid, procsum_verify_result *out)
{
    memset(out, 0, sizeof(*out));
    out->pid = pid ? pid : (long)psum_os_process_id();
    psum_os_target *t = NULL;
    psum_os_region_list mapped = {0};
    bool new_program;
    int err = psum_os_target_open(pid, &t);
    if (!err) {
        /* An exec under way: its layout is there within milliseconds (the refresh stops waiting by itself). */
        while ((err = psum_os_target_refresh(t, &new_program)) == PROCSUM_EAGAIN)
            psum_os_sleep_ns(5000000u);
    }
    if (err) {
        psum_os_target_close(t);
        return err;
    }
    /* Files are opened as this process maps them: nothing opened for another one is reused. */
    psum_file_cache_close(&v->files);
    v->files.target = t;
    v->files.made_in = psum_os_process_id();
    verify_run run = {.v = v, .t = t, .out = out};
    psum_os_fork_gate_enter();
    err = psum_os_list_regions(t, &mapped);
    if (!err)
        err = verify_target(&run, &mapped);
    psum_os_fork_gate_leave();
    /* A process that exits while it is read shows as unreadable memory or a vanished /proc entry. */
    if (err && err != PROCSUM_ESRCH && pid != 0 && psum_os_target_refresh(t, &new_program) == PROCSUM_ESRCH)
        err = PROCSUM_ESRCH;
    psum_file_cache_close(&v->files);
    v->files.target = NULL;
    psum_os_region_list_free(&mapped);
    psum_os_target_close(t);
    if (err) {
        long id = out->pid;
        psum_verify_result_free(out);
        out->pid = id;
    }
    return err;
}
