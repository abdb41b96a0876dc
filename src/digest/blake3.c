/*
 * BLAKE3, written from its specification: the tree logic. The compression
 * of many chunks or parent nodes at once is left to a per-ISA kernel
 * (blake3_impl.h) that blake3_dispatch.c picks once for this CPU.
 *
 * Tree shape: the input is split into 1024-byte chunks; chunk CVs are merged
 * pairwise into a left-complete binary tree whose top node gets the ROOT flag.
 * Both hashers keep a stack of CVs of completed subtrees, one per set bit of
 * the number of leaves already merged, so memory stays O(log n). Whole input
 * is taken as complete subtrees of up to 256 chunks (64 pages, 256 KiB) that
 * start at a multiple of their own size: every node of such a subtree is a
 * node of the final tree, so its levels are hashed wide, one kernel call per
 * level, and the page level (4 chunks) is the per-page digest.
 */
#include "blake3.h"

#include <string.h>

#include "blake3_impl.h"

enum {
    CHUNK_START = PSUM_B3_CHUNK_START,
    CHUNK_END = PSUM_B3_CHUNK_END,
    PARENT = PSUM_B3_PARENT,
    ROOT = PSUM_B3_ROOT,
    KEYED_HASH = PSUM_B3_KEYED_HASH,
};

#define BLOCKS_PER_CHUNK PSUM_B3_BLOCKS_PER_CHUNK
#define CHUNKS_PER_PAGE (PSUM_B3_PAGE_LEN / PSUM_B3_CHUNK_LEN)
/* The largest subtree hashed level by level: 256 chunks, 64 pages, 256 KiB. */
#define MAX_SUBTREE_CHUNKS 256
#define MAX_SUBTREE_PAGES (MAX_SUBTREE_CHUNKS / CHUNKS_PER_PAGE)

#define IV psum_b3_iv
#define load32_le psum_b3_load32
#define store32_le psum_b3_store32
#define compress psum_b3_compress

static void words_from_bytes(uint32_t w[8], const uint8_t b[32])
{
    for (int i = 0; i < 8; i++)
        w[i] = load32_le(b + 4 * i);
}

static void words_to_bytes(uint8_t b[32], const uint32_t w[8])
{
    for (int i = 0; i < 8; i++)
        store32_le(b + 4 * i, w[i]);
}

/* A parent node's block is simply its two children's CVs, left then right. */
static void parent_cv(const uint32_t key[8], const uint32_t left[8], const uint32_t right[8], uint32_t flags,
                      uint32_t out[8])
{
    uint8_t block[PSUM_B3_BLOCK_LEN];
    words_to_bytes(block, left);
    words_to_bytes(block + 32, right);
    compress(key, block, PSUM_B3_BLOCK_LEN, 0, PARENT | flags, out);
}

/*
 * Hashes a complete subtree of n = 2^k chunks (1 <= n <= MAX_SUBTREE_CHUNKS)
 * whose first chunk has index `counter`, a multiple of n, and which is not
 * the root. Writes its CV to top; the two CVs under it to children (n >= 2,
 * when children is not NULL); and, when page_cvs is not NULL and n >= 4,
 * the CV of each of its n / 4 pages (32 bytes each) to page_cvs.
 */
static void subtree(psum_b3_hash_many_fn *hash_many, const uint32_t key[8], uint8_t flags, const uint8_t *in,
                    size_t n, uint64_t counter, uint8_t *page_cvs, uint32_t children[2][8], uint32_t top[8])
{
    uint8_t cvs[MAX_SUBTREE_CHUNKS * PSUM_B3_OUT_LEN];

    hash_many(in, n, BLOCKS_PER_CHUNK, key, counter, true, flags, CHUNK_START, CHUNK_END, cvs);
    if (n == 1) {
        words_from_bytes(top, cvs);
        return;
    }
    /* One kernel call per level, in place, except that the page level goes to page_cvs. */
    const uint8_t *level = cvs;
    size_t count = n;
    while (count > 2) {
        uint8_t *dst = (page_cvs && count / 2 == n / CHUNKS_PER_PAGE) ? page_cvs : cvs;
        hash_many(level, count / 2, 1, key, 0, false, (uint8_t)(flags | PARENT), 0, 0, dst);
        level = dst;
        count /= 2;
    }
    uint32_t left[8], right[8];
    words_from_bytes(left, level);
    words_from_bytes(right, level + PSUM_B3_OUT_LEN);
    parent_cv(key, left, right, flags, top);
    if (children) {
        memcpy(children[0], left, sizeof left);
        memcpy(children[1], right, sizeof right);
    }
    if (page_cvs && n == CHUNKS_PER_PAGE)
        words_to_bytes(page_cvs, top);
}

/* The largest power of two <= limit that divides index (any, for index 0). */
static size_t aligned_run(uint64_t index, size_t limit, size_t max)
{
    size_t n = max;
    while (n > limit || (index & (n - 1)) != 0)
        n >>= 1;
    return n;
}

/* Streaming hasher. */

static void hasher_setup(psum_b3_hasher *h, const uint32_t key[8], uint8_t flags)
{
    memcpy(h->key, key, sizeof h->key);
    memcpy(h->cv, key, sizeof h->cv);
    h->chunk_counter = 0;
    memset(h->block, 0, sizeof h->block);
    h->block_len = 0;
    h->blocks_compressed = 0;
    h->flags = flags;
    h->cv_stack_len = 0;
}

void psum_b3_init(psum_b3_hasher *h)
{
    hasher_setup(h, IV, 0);
}

void psum_b3_init_keyed(psum_b3_hasher *h, const uint8_t key[PSUM_B3_KEY_LEN])
{
    uint32_t k[8];
    words_from_bytes(k, key);
    hasher_setup(h, k, KEYED_HASH);
}

static uint32_t chunk_start_flag(const psum_b3_hasher *h)
{
    return h->blocks_compressed == 0 ? CHUNK_START : 0;
}

/*
 * Pushes the CV of a finished subtree of n = 2^k chunks starting at
 * chunk_counter (a multiple of n); since more input follows, every subtree
 * it completes is not the root and can be merged right away. After this the
 * stack holds one CV per set bit of the number of chunks finished.
 */
static void hasher_push_subtree(psum_b3_hasher *h, const uint32_t cv[8], size_t n)
{
    uint32_t merged[8];
    memcpy(merged, cv, sizeof merged);
    uint64_t total = (h->chunk_counter + n) / n;
    while ((total & 1) == 0) {
        h->cv_stack_len--;
        parent_cv(h->key, h->cv_stack[h->cv_stack_len], merged, h->flags, merged);
        total >>= 1;
    }
    memcpy(h->cv_stack[h->cv_stack_len], merged, sizeof merged);
    h->cv_stack_len++;
}

void psum_b3_update(psum_b3_hasher *h, const void *input, size_t len)
{
    const uint8_t *in = input;

    while (len > 0) {
        /*
         * A chunk is finished only once we know more input follows: until
         * then its last block may still be the root's.
         */
        if (h->blocks_compressed == BLOCKS_PER_CHUNK - 1 && h->block_len == PSUM_B3_BLOCK_LEN) {
            uint32_t cv[8];
            compress(h->cv, h->block, PSUM_B3_BLOCK_LEN, h->chunk_counter,
                     h->flags | chunk_start_flag(h) | CHUNK_END, cv);
            hasher_push_subtree(h, cv, 1);
            h->chunk_counter++;
            memcpy(h->cv, h->key, sizeof h->cv);
            h->blocks_compressed = 0;
            h->block_len = 0;
        }

        /* Whole chunks with more input after them: hash straight from input. */
        if (h->blocks_compressed == 0 && h->block_len == 0 && len > PSUM_B3_CHUNK_LEN) {
            psum_b3_hash_many_fn *hash_many = psum_b3_hash_many_current();
            while (len > PSUM_B3_CHUNK_LEN) {
                /* Chunks with at least one more byte after them, as aligned subtrees. */
                size_t n = aligned_run(h->chunk_counter, (len - 1) / PSUM_B3_CHUNK_LEN, MAX_SUBTREE_CHUNKS);
                uint32_t cv[8];
                subtree(hash_many, h->key, h->flags, in, n, h->chunk_counter, NULL, NULL, cv);
                hasher_push_subtree(h, cv, n);
                h->chunk_counter += n;
                in += n * PSUM_B3_CHUNK_LEN;
                len -= n * PSUM_B3_CHUNK_LEN;
            }
        }

        /* A full buffered block followed by more input is not the chunk's last. */
        if (h->block_len == PSUM_B3_BLOCK_LEN) {
            compress(h->cv, h->block, PSUM_B3_BLOCK_LEN, h->chunk_counter, h->flags | chunk_start_flag(h), h->cv);
            h->blocks_compressed++;
            h->block_len = 0;
        }

        /* Full blocks from input, keeping back the chunk's last one and the input's last. */
        while (h->block_len == 0 && len > PSUM_B3_BLOCK_LEN && h->blocks_compressed < BLOCKS_PER_CHUNK - 1) {
            compress(h->cv, in, PSUM_B3_BLOCK_LEN, h->chunk_counter, h->flags | chunk_start_flag(h), h->cv);
            h->blocks_compressed++;
            in += PSUM_B3_BLOCK_LEN;
            len -= PSUM_B3_BLOCK_LEN;
        }

        size_t take = PSUM_B3_BLOCK_LEN - h->block_len;
        if (take > len)
            take = len;
        memcpy(h->block + h->block_len, in, take);
        h->block_len = (uint8_t)(h->block_len + take);
        in += take;
        len -= take;
    }
}

void psum_b3_final(const psum_b3_hasher *h, uint8_t out[PSUM_B3_OUT_LEN])
{
    /* The unfinished block is zero-padded; block_len tells the real length. */
    uint8_t block[PSUM_B3_BLOCK_LEN] = {0};
    memcpy(block, h->block, h->block_len);
    uint32_t flags = h->flags | (h->blocks_compressed == 0 ? CHUNK_START : 0u) | CHUNK_END;
    uint32_t words[8];

    if (h->cv_stack_len == 0) {
        /* Single chunk: it is the root; the output block counter is 0. */
        compress(h->cv, block, h->block_len, 0, flags | ROOT, words);
    } else {
        uint32_t cv[8];
        compress(h->cv, block, h->block_len, h->chunk_counter, flags, cv);
        /* Merge right to left; the stack is already reduced, so this is the left-complete tree. */
        for (size_t i = h->cv_stack_len; i-- > 0;) {
            uint32_t f = h->flags | (i == 0 ? ROOT : 0u);
            parent_cv(h->key, h->cv_stack[i], cv, f, i == 0 ? words : cv);
        }
    }
    words_to_bytes(out, words);
}

void psum_b3_hash(const uint8_t *key, const void *input, size_t len, uint8_t out[PSUM_B3_OUT_LEN])
{
    psum_b3_hasher h;
    if (key)
        psum_b3_init_keyed(&h, key);
    else
        psum_b3_init(&h);
    psum_b3_update(&h, input, len);
    psum_b3_final(&h, out);
}

/* Region hasher. */

void psum_b3_region_init(psum_b3_region *r, const uint8_t *key)
{
    memset(r, 0, sizeof *r);
    if (key) {
        words_from_bytes(r->key, key);
        r->flags = KEYED_HASH;
    } else {
        memcpy(r->key, IV, sizeof r->key);
        r->flags = 0;
    }
}

static unsigned popcount64(uint64_t n)
{
    unsigned c = 0;
    for (; n; n &= n - 1)
        c++;
    return c;
}

void psum_b3_region_pages(psum_b3_region *r, const uint8_t *pages, size_t npages, uint8_t *page_cvs)
{
    psum_b3_hash_many_fn *hash_many = npages ? psum_b3_hash_many_current() : NULL;

    while (npages > 0) {
        /* The largest aligned run of pages that is a complete subtree. */
        size_t m = aligned_run(r->pages, npages, MAX_SUBTREE_PAGES);
        uint32_t cv[8];
        subtree(hash_many, r->key, r->flags, pages, m * CHUNKS_PER_PAGE, r->pages * CHUNKS_PER_PAGE, page_cvs,
                r->last_halves, cv);

        /*
         * Lazy merging: the newest subtree stays on the stack unmerged (it
         * may turn out to be the root's child, or the root itself), so
         * before pushing we fold the stack down to one CV per set bit of the
         * count of earlier pages. Those merges are never the root: a page
         * follows. The two CVs under the newest subtree's top are kept in
         * last_halves, for when that top turns out to be the root.
         */
        unsigned keep = popcount64(r->pages);
        while (r->cv_stack_len > keep) {
            uint8_t top = --r->cv_stack_len;
            parent_cv(r->key, r->cv_stack[top - 1], r->cv_stack[top], r->flags, r->cv_stack[top - 1]);
        }
        memcpy(r->cv_stack[r->cv_stack_len], cv, sizeof cv);
        r->cv_stack_len++;
        r->pages += m;
        pages += m * PSUM_B3_PAGE_LEN;
        page_cvs += m * PSUM_B3_OUT_LEN;
        npages -= m;
    }
}

void psum_b3_region_final(const psum_b3_region *r, uint8_t out[PSUM_B3_OUT_LEN])
{
    uint32_t words[8];

    if (r->pages == 0) {
        /* Empty input: one empty chunk that is the root. */
        static const uint8_t zero[PSUM_B3_BLOCK_LEN];
        compress(r->key, zero, 0, 0, r->flags | CHUNK_START | CHUNK_END | ROOT, words);
    } else if (r->cv_stack_len == 1) {
        /* One subtree: the root is its own top node, recomputed with ROOT. */
        parent_cv(r->key, r->last_halves[0], r->last_halves[1], r->flags | ROOT, words);
    } else {
        /*
         * The stack is one CV per set bit of the pages before the newest
         * subtree, plus that subtree; merging right to left gives the
         * left-complete tree.
         */
        uint32_t cv[8];
        memcpy(cv, r->cv_stack[r->cv_stack_len - 1], sizeof cv);
        for (size_t i = (size_t)r->cv_stack_len - 1; i-- > 0;) {
            uint32_t f = r->flags | (i == 0 ? ROOT : 0u);
            parent_cv(r->key, r->cv_stack[i], cv, f, i == 0 ? words : cv);
        }
    }
    words_to_bytes(out, words);
}

static uint8_t key_setup(const uint8_t *key, uint32_t k[8])
{
    if (!key) {
        memcpy(k, IV, 8 * sizeof(uint32_t));
        return 0;
    }
    words_from_bytes(k, key);
    return KEYED_HASH;
}

void psum_b3_pages_cv(const uint8_t *key, const uint8_t *pages, size_t npages, uint64_t first_index,
                      uint8_t *page_cvs)
{
    uint32_t k[8];
    uint8_t flags = key_setup(key, k);
    psum_b3_hash_many_fn *hash_many = npages ? psum_b3_hash_many_current() : NULL;
    while (npages > 0) {
        /* Complete aligned subtrees, so that each page's CV falls out of the tree as usual. */
        size_t m = aligned_run(first_index, npages, MAX_SUBTREE_PAGES);
        uint32_t top[8];
        subtree(hash_many, k, flags, pages, m * CHUNKS_PER_PAGE, first_index * CHUNKS_PER_PAGE, page_cvs, NULL, top);
        first_index += m;
        pages += m * PSUM_B3_PAGE_LEN;
        page_cvs += m * PSUM_B3_OUT_LEN;
        npages -= m;
    }
}

void psum_b3_page_cv(const uint8_t *key, const uint8_t page[PSUM_B3_PAGE_LEN], uint64_t page_index,
                     uint8_t cv[PSUM_B3_OUT_LEN])
{
    psum_b3_pages_cv(key, page, 1, page_index, cv);
}
