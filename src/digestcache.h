/*
 * Digests of page-cache pages, shared by the checkers of many processes
 * (procsum_digest_cache; options.digest_cache). A file's page-cache page is
 * one physical page for every process that maps that file page, so one
 * checker's digest of it serves the others for a while: the cache keeps
 * each for one period. Keys name the file page (device, inode, page in the
 * file), the position in its region the digest was taken at (BLAKE3's
 * depends on it) and the physical frame where the platform shows it (0
 * where not), so that another frame is never taken for the same page.
 */
#ifndef PSUM_DIGESTCACHE_H
#define PSUM_DIGESTCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest/digest.h"
#include "procsum.h"

/* The page was compared with its file and matched: through the cache, or below it (the disk). */
enum {
    PSUM_DIGESTCACHE_MATCHED_CACHE = 1u << 0,
    PSUM_DIGESTCACHE_MATCHED_DISK = 1u << 1,
};

typedef struct psum_digestcache_key {
    uint64_t dev, ino, file_page, frame;
    uint32_t index;
} psum_digestcache_key;

/* One page of a slice, looked up and then published: the pass's side of the cache. */
typedef struct psum_digestcache_entry {
    psum_digestcache_key key;
    bool found;       /* lookup: digest is another checker's, fresh */
    bool publish;     /* to be published: read (or compared with its file) by this checker */
    unsigned flags;   /* PSUM_DIGESTCACHE_MATCHED_* known of this digest */
    uint64_t read_ns; /* monotonic time the digest's bytes were read */
    uint64_t stamp;   /* lookup: its block's stamp (psum_digestcache_block_stands), 0 for none */
    uint8_t digest[PROCSUM_MAX_DIGEST];
} psum_digestcache_entry;

/* Pages per block of the cache: the pages of one file from a multiple of this, digested at one offset. */
#define PSUM_DIGESTCACHE_BLOCK_PAGES 64u

/* o valid (the API checks it). */
int psum_digestcache_new(const procsum_options *o, procsum_digest_cache **out);
void psum_digestcache_free(procsum_digest_cache *c);
/* Whether a checker with options o may use c: the same algorithm, keyed or not alike. */
bool psum_digestcache_fits(const procsum_digest_cache *c, const procsum_options *o);
/* The key its keyed digests are taken with. */
const psum_digest_key *psum_digestcache_secret(const procsum_digest_cache *c);
/*
 * Under one lock: for each of the n entries with wanted[i], found tells
 * whether a digest read less than a period before now_ns is there, and
 * digest, flags and read_ns are filled from it.
 */
void psum_digestcache_lookup(procsum_digest_cache *c, psum_digestcache_entry *e, const bool *wanted, size_t n,
                             uint64_t now_ns);
/*
 * Under one lock: each entry with publish set goes in, unless a digest read
 * later is there already; a digest equal to the one there adds its flags.
 * Clears publish. An entry that finds no room (the cache is full of fresh
 * digests) is dropped: its page is hashed by each checker.
 */
void psum_digestcache_publish(procsum_digest_cache *c, psum_digestcache_entry *e, size_t n);
/*
 * A block's stamp moves whenever a digest in it is replaced (other bytes,
 * another frame, a page new to it) and never comes back to a value it had:
 * a checker that compared its pages of a block with the cache's digests,
 * under stamp S, knows they still match while the stamp is S. Under one
 * lock: *stamp becomes the stamp of the block of key k (0 when the cache
 * holds none), and the answer is whether every page of the block in `need`
 * (bit i: the block's page i) was read in the same period as now_ns (the
 * cache's periods, of its check_period, counted from the clock's zero).
 */
/* Whether two times fall in the same period of the cache's. */
bool psum_digestcache_same_period(const procsum_digest_cache *c, uint64_t a_ns, uint64_t b_ns);
bool psum_digestcache_block_stands(procsum_digest_cache *c, const psum_digestcache_key *k, uint64_t need,
                                   uint64_t now_ns, uint64_t *stamp);

#endif
