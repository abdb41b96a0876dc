/*
 * BLAKE3, written from its specification (portable C11, no SIMD).
 *
 * Tree shape: the input is split into 1024-byte chunks; chunk CVs are merged
 * pairwise into a left-complete binary tree whose top node gets the ROOT flag.
 * Both hashers keep a stack of CVs of completed subtrees, one per set bit of
 * the number of leaves already merged, so memory stays O(log n).
 */
#include "blake3.h"

#include <string.h>

enum {
    CHUNK_START = 1u << 0,
    CHUNK_END = 1u << 1,
    PARENT = 1u << 2,
    ROOT = 1u << 3,
    KEYED_HASH = 1u << 4,
};

#define BLOCKS_PER_CHUNK (PSUM_B3_CHUNK_LEN / PSUM_B3_BLOCK_LEN)
#define CHUNKS_PER_PAGE (PSUM_B3_PAGE_LEN / PSUM_B3_CHUNK_LEN)

static const uint32_t IV[8] = {
    0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
    0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u,
};

/*
 * Message word order for each of the 7 rounds: row r is the permutation
 * {2,6,3,10,7,0,4,13,1,11,12,5,9,14,15,8} applied r times. Indexing the
 * block through this table avoids permuting the message between rounds.
 */
static const uint8_t SCHEDULE[7][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
    {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
    {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

static inline uint32_t load32_le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void store32_le(uint8_t *p, uint32_t w)
{
    p[0] = (uint8_t)w;
    p[1] = (uint8_t)(w >> 8);
    p[2] = (uint8_t)(w >> 16);
    p[3] = (uint8_t)(w >> 24);
}

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

static inline uint32_t rotr32(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static inline void g(uint32_t v[16], int a, int b, int c, int d, uint32_t x, uint32_t y)
{
    v[a] = v[a] + v[b] + x;
    v[d] = rotr32(v[d] ^ v[a], 16);
    v[c] = v[c] + v[d];
    v[b] = rotr32(v[b] ^ v[c], 12);
    v[a] = v[a] + v[b] + y;
    v[d] = rotr32(v[d] ^ v[a], 8);
    v[c] = v[c] + v[d];
    v[b] = rotr32(v[b] ^ v[c], 7);
}

/*
 * The compression function, truncated to the 8 words every caller needs:
 * chaining values and 32-byte root outputs are both state[i] ^ state[i+8].
 * (The extra feed-forward words matter only for extended output.)
 */
static void compress(const uint32_t cv[8], const uint8_t block[PSUM_B3_BLOCK_LEN], uint32_t block_len,
                     uint64_t counter, uint32_t flags, uint32_t out[8])
{
    uint32_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = load32_le(block + 4 * i);

    uint32_t v[16] = {
        cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6], cv[7],
        IV[0], IV[1], IV[2], IV[3],
        (uint32_t)counter, (uint32_t)(counter >> 32), block_len, flags,
    };

    for (int r = 0; r < 7; r++) {
        const uint8_t *s = SCHEDULE[r];
        /* columns */
        g(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
        g(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
        g(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
        g(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
        /* diagonals */
        g(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
        g(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
        g(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
        g(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
    }

    for (int i = 0; i < 8; i++)
        out[i] = v[i] ^ v[i + 8];
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

/* CV of one complete 1024-byte chunk that is known not to be the root. */
static void chunk_cv(const uint32_t key[8], const uint8_t *chunk, uint64_t chunk_index, uint32_t flags,
                     uint32_t out[8])
{
    uint32_t cv[8];
    memcpy(cv, key, sizeof cv);
    for (int b = 0; b < BLOCKS_PER_CHUNK; b++) {
        uint32_t f = flags;
        if (b == 0)
            f |= CHUNK_START;
        if (b == BLOCKS_PER_CHUNK - 1)
            f |= CHUNK_END;
        compress(cv, chunk + (size_t)b * PSUM_B3_BLOCK_LEN, PSUM_B3_BLOCK_LEN, chunk_index, f, cv);
    }
    memcpy(out, cv, sizeof cv);
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
 * Pushes the CV of a finished chunk; since more input follows, every subtree
 * it completes is not the root and can be merged right away. After this the
 * stack holds one CV per set bit of the number of chunks finished.
 */
static void hasher_push_chunk(psum_b3_hasher *h, const uint32_t cv[8])
{
    uint32_t merged[8];
    memcpy(merged, cv, sizeof merged);
    uint64_t total = h->chunk_counter + 1;
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
            hasher_push_chunk(h, cv);
            h->chunk_counter++;
            memcpy(h->cv, h->key, sizeof h->cv);
            h->blocks_compressed = 0;
            h->block_len = 0;
        }

        /* Whole chunks with more input after them: hash straight from input. */
        if (h->blocks_compressed == 0 && h->block_len == 0) {
            while (len > PSUM_B3_CHUNK_LEN) {
                uint32_t cv[8];
                chunk_cv(h->key, in, h->chunk_counter, h->flags, cv);
                hasher_push_chunk(h, cv);
                h->chunk_counter++;
                in += PSUM_B3_CHUNK_LEN;
                len -= PSUM_B3_CHUNK_LEN;
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

/*
 * A page's subtree: parent(parent(c0, c1), parent(c2, c3)), never root here.
 * The two half-page CVs are returned too, for a one-page region's root.
 */
static void page_subtree(const uint32_t key[8], uint32_t flags, const uint8_t *page, uint64_t page_index,
                         uint32_t halves[2][8], uint32_t out[8])
{
    uint64_t first_chunk = page_index * CHUNKS_PER_PAGE;
    uint32_t c[CHUNKS_PER_PAGE][8];
    for (int i = 0; i < CHUNKS_PER_PAGE; i++)
        chunk_cv(key, page + (size_t)i * PSUM_B3_CHUNK_LEN, first_chunk + (uint64_t)i, flags, c[i]);
    parent_cv(key, c[0], c[1], flags, halves[0]);
    parent_cv(key, c[2], c[3], flags, halves[1]);
    parent_cv(key, halves[0], halves[1], flags, out);
}

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

void psum_b3_region_pages(psum_b3_region *r, const uint8_t *pages, size_t npages, uint8_t *page_cvs)
{
    for (size_t p = 0; p < npages; p++) {
        uint32_t cv[8];
        page_subtree(r->key, r->flags, pages + p * PSUM_B3_PAGE_LEN, r->pages, r->last_halves, cv);
        words_to_bytes(page_cvs + p * PSUM_B3_OUT_LEN, cv);

        /*
         * Lazy merging: the newest page stays on the stack unmerged (it may
         * turn out to be the root's child, or the root itself), so before
         * pushing we fold the stack down to one CV per set bit of the count
         * of earlier pages. Those merges are never the root: a page follows.
         */
        unsigned keep = 0;
        for (uint64_t n = r->pages; n; n &= n - 1)
            keep++;
        while (r->cv_stack_len > keep) {
            uint8_t top = --r->cv_stack_len;
            parent_cv(r->key, r->cv_stack[top - 1], r->cv_stack[top], r->flags, r->cv_stack[top - 1]);
        }
        memcpy(r->cv_stack[r->cv_stack_len], cv, sizeof cv);
        r->cv_stack_len++;
        r->pages++;
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
        /* One page: the root is the page's own top node, recomputed with ROOT. */
        parent_cv(r->key, r->last_halves[0], r->last_halves[1], r->flags | ROOT, words);
    } else {
        /*
         * The stack is one CV per set bit of (pages - 1) plus the last page;
         * merging right to left gives the left-complete tree.
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

void psum_b3_page_cv(const uint8_t *key, const uint8_t page[PSUM_B3_PAGE_LEN], uint64_t page_index,
                     uint8_t cv[PSUM_B3_OUT_LEN])
{
    uint32_t k[8];
    uint32_t flags = 0;
    if (key) {
        words_from_bytes(k, key);
        flags = KEYED_HASH;
    } else {
        memcpy(k, IV, sizeof k);
    }
    uint32_t halves[2][8], words[8];
    page_subtree(k, flags, page, page_index, halves, words);
    words_to_bytes(cv, words);
}
