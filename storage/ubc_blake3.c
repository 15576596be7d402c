/* ubc_blake3.c: BLAKE3 keyed_hash, one shot (see ubc_blake3.h).
 *
 * The tree: 1024-byte chunks, each compressed block by block from the key; a
 * parent node compresses its two children's chaining values; the root is the
 * last compression, flagged ROOT. Speed comes from compressing 16 independent
 * nodes at once, one per AVX-512 lane: 16 chunks at a time, then 16 parents at
 * a time, level by level. A region of at most SUBTREE_CHUNKS chunks is reduced
 * pairwise (an odd node is carried up), which builds the same left-balanced
 * tree the specification defines by "left subtree = largest power of two".
 */
#include "storage/ubc_blake3.h"

#include <immintrin.h>
#include <string.h>

#include "common/ubc_assert.h"

UBC_STATIC_ASSERT(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "words are loaded with memcpy");

#define CHUNK_BYTES 1024u
#define BLOCK_BYTES 64u
#define LANES 16u
#define SUBTREE_CHUNKS 64u
#define PREFETCH_BLOCKS 2u

enum {
    FLAG_CHUNK_START = 1,
    FLAG_CHUNK_END = 2,
    FLAG_PARENT = 4,
    FLAG_ROOT = 8,
    FLAG_KEYED = 16,
};

static const uint32_t IV[8] = { 0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
                                0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u };

/* Message word order per round: round r+1 applies the specification's
 * permutation {2,6,3,10,7,0,4,13,1,11,12,5,9,14,15,8} to round r's
 * (test_blake3 recomputes this table from the permutation). */
static const uint8_t SCHEDULE[7][16] = {
    { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
    { 2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8 },
    { 3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1 },
    { 10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6 },
    { 12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4 },
    { 9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7 },
    { 11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13 },
};

static int portable_forced;

static inline uint32_t
rotate_right(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32u - n));
}

static inline void
mix(uint32_t *s, int a, int b, int c, int d, uint32_t x, uint32_t y)
{
    s[a] = s[a] + s[b] + x;
    s[d] = rotate_right(s[d] ^ s[a], 16);
    s[c] = s[c] + s[d];
    s[b] = rotate_right(s[b] ^ s[c], 12);
    s[a] = s[a] + s[b] + y;
    s[d] = rotate_right(s[d] ^ s[a], 8);
    s[c] = s[c] + s[d];
    s[b] = rotate_right(s[b] ^ s[c], 7);
}

static void
compress(const uint32_t cv[8], const uint8_t block[BLOCK_BYTES], uint64_t counter,
         uint32_t block_bytes, uint32_t flags, uint32_t out[8])
{
    uint32_t m[16];
    memcpy(m, block, sizeof(m));
    uint32_t s[16] = { cv[0],
                       cv[1],
                       cv[2],
                       cv[3],
                       cv[4],
                       cv[5],
                       cv[6],
                       cv[7],
                       IV[0],
                       IV[1],
                       IV[2],
                       IV[3],
                       (uint32_t)counter,
                       (uint32_t)(counter >> 32),
                       block_bytes,
                       flags };
    for (int r = 0; r < 7; r++) {
        const uint8_t *k = SCHEDULE[r];
        mix(s, 0, 4, 8, 12, m[k[0]], m[k[1]]);
        mix(s, 1, 5, 9, 13, m[k[2]], m[k[3]]);
        mix(s, 2, 6, 10, 14, m[k[4]], m[k[5]]);
        mix(s, 3, 7, 11, 15, m[k[6]], m[k[7]]);
        mix(s, 0, 5, 10, 15, m[k[8]], m[k[9]]);
        mix(s, 1, 6, 11, 12, m[k[10]], m[k[11]]);
        mix(s, 2, 7, 8, 13, m[k[12]], m[k[13]]);
        mix(s, 3, 4, 9, 14, m[k[14]], m[k[15]]);
    }
    for (int i = 0; i < 8; i++)
        out[i] = s[i] ^ s[i + 8];
}

/* Chaining value of one chunk of bytes (1..1024; 0 only for an empty input). */
static void
chunk_cv(const uint32_t key[8], const uint8_t *in, size_t bytes, uint64_t counter,
         uint32_t root_flag, uint32_t out[8])
{
    UBC_ASSERT(bytes <= CHUNK_BYTES);
    uint32_t cv[8];
    memcpy(cv, key, sizeof(cv));
    size_t blocks = bytes == 0 ? 1 : (bytes + BLOCK_BYTES - 1) / BLOCK_BYTES;
    for (size_t b = 0; b < blocks; b++) {
        size_t n = bytes - b * BLOCK_BYTES < BLOCK_BYTES ? bytes - b * BLOCK_BYTES : BLOCK_BYTES;
        uint8_t block[BLOCK_BYTES] = { 0 };
        if (n > 0)
            memcpy(block, in + b * BLOCK_BYTES, n);
        uint32_t flags = FLAG_KEYED | (b == 0 ? FLAG_CHUNK_START : 0) |
                         (b + 1 == blocks ? FLAG_CHUNK_END | root_flag : 0);
        compress(cv, block, counter, (uint32_t)n, flags, cv);
    }
    memcpy(out, cv, sizeof(cv));
}

#define ROUND_VECTOR(v, m, k)                                     \
    do {                                                          \
        MIX_VECTOR(v[0], v[4], v[8], v[12], m[k[0]], m[k[1]]);    \
        MIX_VECTOR(v[1], v[5], v[9], v[13], m[k[2]], m[k[3]]);    \
        MIX_VECTOR(v[2], v[6], v[10], v[14], m[k[4]], m[k[5]]);   \
        MIX_VECTOR(v[3], v[7], v[11], v[15], m[k[6]], m[k[7]]);   \
        MIX_VECTOR(v[0], v[5], v[10], v[15], m[k[8]], m[k[9]]);   \
        MIX_VECTOR(v[1], v[6], v[11], v[12], m[k[10]], m[k[11]]); \
        MIX_VECTOR(v[2], v[7], v[8], v[13], m[k[12]], m[k[13]]);  \
        MIX_VECTOR(v[3], v[4], v[9], v[14], m[k[14]], m[k[15]]);  \
    } while (0)

#define MIX_VECTOR(a, b, c, d, x, y)                      \
    do {                                                  \
        a = _mm512_add_epi32(_mm512_add_epi32(a, b), x);  \
        d = _mm512_ror_epi32(_mm512_xor_si512(d, a), 16); \
        c = _mm512_add_epi32(c, d);                       \
        b = _mm512_ror_epi32(_mm512_xor_si512(b, c), 12); \
        a = _mm512_add_epi32(_mm512_add_epi32(a, b), y);  \
        d = _mm512_ror_epi32(_mm512_xor_si512(d, a), 8);  \
        c = _mm512_add_epi32(c, d);                       \
        b = _mm512_ror_epi32(_mm512_xor_si512(b, c), 7);  \
    } while (0)

/* m[w] lane i = word w of the block at p + i * stride_bytes: 16 loads and a
 * 16x16 transpose (32-bit, then 64-bit unpacks, then 128-bit lane shuffles),
 * about twice as fast here as 16 gathers. */
__attribute__((target("avx512f"))) static inline void
load_transposed(const uint8_t *p, uint32_t stride_bytes, uint32_t lanes, __m512i m[16])
{
    __m512i row[16], pair[16];
    /* Unused lanes repeat lane 0: never read past the caller's input. */
#pragma GCC unroll 16
    for (uint32_t i = 0; i < 16; i++)
        row[i] = _mm512_loadu_si512((const void *)(p + (size_t)(i < lanes ? i : 0) * stride_bytes));
#pragma GCC unroll 8
    for (int i = 0; i < 16; i += 2) {
        pair[i] = _mm512_unpacklo_epi32(row[i], row[i + 1]);
        pair[i + 1] = _mm512_unpackhi_epi32(row[i], row[i + 1]);
    }
    /* quad[4 * g + j]: 128-bit lane k holds rows 4g..4g+3, word 4k + j. */
    __m512i quad[16];
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++) {
        __m512i *q = quad + 4 * g, *t = pair + 4 * g;
        q[0] = _mm512_unpacklo_epi64(t[0], t[2]);
        q[1] = _mm512_unpackhi_epi64(t[0], t[2]);
        q[2] = _mm512_unpacklo_epi64(t[1], t[3]);
        q[3] = _mm512_unpackhi_epi64(t[1], t[3]);
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        __m512i a = _mm512_shuffle_i32x4(quad[j], quad[4 + j], 0x44);
        __m512i b = _mm512_shuffle_i32x4(quad[8 + j], quad[12 + j], 0x44);
        __m512i c = _mm512_shuffle_i32x4(quad[j], quad[4 + j], 0xEE);
        __m512i d = _mm512_shuffle_i32x4(quad[8 + j], quad[12 + j], 0xEE);
        m[j] = _mm512_shuffle_i32x4(a, b, 0x88);
        m[4 + j] = _mm512_shuffle_i32x4(a, b, 0xDD);
        m[8 + j] = _mm512_shuffle_i32x4(c, d, 0x88);
        m[12 + j] = _mm512_shuffle_i32x4(c, d, 0xDD);
    }
}

/* Up to 16 nodes at once, lane i < lanes reading blocks at base + i *
 * stride_bytes: chunks (blocks = 16, counters counter + i) or parents
 * (blocks = 1, counter 0). Writes 16 chaining values (8 words each) to out;
 * those of lanes >= lanes are garbage. */
__attribute__((target("avx512f"))) static void
hash16_avx512(const uint32_t key[8], const uint8_t *base, uint32_t stride_bytes, uint32_t lanes,
              uint32_t blocks, uint64_t counter, int increment, uint32_t flags,
              uint32_t flags_start, uint32_t flags_end, uint32_t out[LANES * 8])
{
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i h[8];
    for (int i = 0; i < 8; i++)
        h[i] = _mm512_set1_epi32((int)key[i]);
    __m512i counter_low = _mm512_set1_epi32((int)(uint32_t)counter);
    __m512i counter_high = _mm512_set1_epi32((int)(uint32_t)(counter >> 32));
    if (increment) {
        __m512i low = _mm512_add_epi32(counter_low, lane);
        __mmask16 carry = _mm512_cmplt_epu32_mask(low, counter_low);
        counter_high =
            _mm512_mask_add_epi32(counter_high, carry, counter_high, _mm512_set1_epi32(1));
        counter_low = low;
    }
    for (uint32_t b = 0; b < blocks; b++) {
        /* Sixteen streams 1 KiB apart are more than the hardware prefetcher
         * follows; when another core wrote the input (the journal's chain
         * thread hashes what the appender wrote), each line is a transfer
         * from that core: ask for the lanes' lines two blocks ahead. */
        if (b + PREFETCH_BLOCKS < blocks)
            for (uint32_t i = 0; i < lanes; i++)
                _mm_prefetch((const char *)base + (size_t)i * stride_bytes +
                                 (size_t)(b + PREFETCH_BLOCKS) * BLOCK_BYTES,
                             _MM_HINT_T0);
        __m512i m[16];
        load_transposed(base + (size_t)b * BLOCK_BYTES, stride_bytes, lanes, m);
        uint32_t block_flags =
            flags | (b == 0 ? flags_start : 0) | (b + 1 == blocks ? flags_end : 0);
        __m512i v[16] = { h[0],
                          h[1],
                          h[2],
                          h[3],
                          h[4],
                          h[5],
                          h[6],
                          h[7],
                          _mm512_set1_epi32((int)IV[0]),
                          _mm512_set1_epi32((int)IV[1]),
                          _mm512_set1_epi32((int)IV[2]),
                          _mm512_set1_epi32((int)IV[3]),
                          counter_low,
                          counter_high,
                          _mm512_set1_epi32((int)BLOCK_BYTES),
                          _mm512_set1_epi32((int)block_flags) };
        /* Unrolled: message indices become constants, words stay in registers. */
#pragma GCC unroll 7
        for (int r = 0; r < 7; r++)
            ROUND_VECTOR(v, m, SCHEDULE[r]);
        for (int i = 0; i < 8; i++)
            h[i] = _mm512_xor_si512(v[i], v[i + 8]);
    }
    const __m512i out_index = _mm512_mullo_epi32(lane, _mm512_set1_epi32(8));
    for (int w = 0; w < 8; w++)
        _mm512_i32scatter_epi32(out, _mm512_add_epi32(out_index, _mm512_set1_epi32(w)), h[w], 4);
}

int
ubc_blake3_simd(void)
{
    return !portable_forced && __builtin_cpu_supports("avx512f");
}

void
ubc_blake3_portable_only(int on)
{
    portable_forced = on;
}

/* Chaining values of the chunks of in (bytes > 0), first chunk counter. */
static size_t
chunk_cvs(const uint32_t key[8], const uint8_t *in, size_t bytes, uint64_t counter, uint32_t *cvs,
          int simd)
{
    size_t full = bytes / CHUNK_BYTES;
    size_t done = 0;
    uint32_t out[LANES * 8];
    /* Two or more chunks left: one SIMD pass beats compressing them one by one. */
    while (simd && full - done >= 2) {
        uint32_t lanes = full - done >= LANES ? LANES : (uint32_t)(full - done);
        hash16_avx512(key, in + done * CHUNK_BYTES, CHUNK_BYTES, lanes, CHUNK_BYTES / BLOCK_BYTES,
                      counter + done, 1, FLAG_KEYED, FLAG_CHUNK_START, FLAG_CHUNK_END, out);
        memcpy(cvs + done * 8, out, (size_t)lanes * 32);
        done += lanes;
    }
    for (; done < full; done++)
        chunk_cv(key, in + done * CHUNK_BYTES, CHUNK_BYTES, counter + done, 0, cvs + done * 8);
    if (bytes % CHUNK_BYTES != 0) {
        chunk_cv(key, in + full * CHUNK_BYTES, bytes % CHUNK_BYTES, counter + full, 0,
                 cvs + full * 8);
        full++;
    }
    return full;
}

/* One tree level: n chaining values become ceil(n / 2), in place. */
static size_t
parents(const uint32_t key[8], uint32_t *cvs, size_t n, int simd)
{
    size_t pairs = n / 2;
    size_t done = 0;
    uint32_t out[LANES * 8];
    while (simd && pairs - done >= 2) {
        uint32_t lanes = pairs - done >= LANES ? LANES : (uint32_t)(pairs - done);
        /* Reads cvs[2 * done ..], writes cvs[done ..]: never ahead of the reads. */
        hash16_avx512(key, (const uint8_t *)(cvs + done * 16), 2 * 32, lanes, 1, 0, 0,
                      FLAG_KEYED | FLAG_PARENT, 0, 0, out);
        memcpy(cvs + done * 8, out, (size_t)lanes * 32);
        done += lanes;
    }
    for (; done < pairs; done++)
        compress(key, (const uint8_t *)(cvs + done * 16), 0, BLOCK_BYTES, FLAG_KEYED | FLAG_PARENT,
                 cvs + done * 8);
    if (n % 2 != 0)
        memmove(cvs + pairs * 8, cvs + (n - 1) * 8, 32);
    return pairs + n % 2;
}

/* Bytes in the left subtree of a node over bytes > 1024: the largest power of
 * two number of chunks that leaves at least one byte to the right. */
static size_t
left_subtree_bytes(size_t bytes)
{
    size_t full_chunks = (bytes - 1) / CHUNK_BYTES;
    size_t power = 1;
    while (power * 2 <= full_chunks)
        power *= 2;
    return power * CHUNK_BYTES;
}

/* Chaining value of the (non-root) subtree over in[0, bytes), bytes > 0. */
static void
subtree_cv(const uint32_t key[8], const uint8_t *in, size_t bytes, uint64_t counter, int simd,
           uint32_t out[8])
{
    if (bytes <= SUBTREE_CHUNKS * CHUNK_BYTES) {
        uint32_t cvs[SUBTREE_CHUNKS * 8];
        size_t n = chunk_cvs(key, in, bytes, counter, cvs, simd);
        while (n > 1)
            n = parents(key, cvs, n, simd);
        memcpy(out, cvs, 32);
        return;
    }
    size_t left = left_subtree_bytes(bytes);
    uint32_t children[16];
    subtree_cv(key, in, left, counter, simd, children);
    subtree_cv(key, in + left, bytes - left, counter + left / CHUNK_BYTES, simd, children + 8);
    compress(key, (const uint8_t *)children, 0, BLOCK_BYTES, FLAG_KEYED | FLAG_PARENT, out);
}

void
ubc_blake3_keyed(const uint8_t key[UBC_BLAKE3_KEY_BYTES], const void *data, size_t bytes,
                 uint8_t out[UBC_BLAKE3_OUT_BYTES])
{
    uint32_t key_words[8];
    uint32_t root[8];
    memcpy(key_words, key, sizeof(key_words));
    const uint8_t *in = data;
    if (bytes <= CHUNK_BYTES) {
        chunk_cv(key_words, in, bytes, 0, FLAG_ROOT, root);
    } else {
        int simd = ubc_blake3_simd();
        size_t left = left_subtree_bytes(bytes);
        uint32_t children[16];
        subtree_cv(key_words, in, left, 0, simd, children);
        subtree_cv(key_words, in + left, bytes - left, left / CHUNK_BYTES, simd, children + 8);
        compress(key_words, (const uint8_t *)children, 0, BLOCK_BYTES,
                 FLAG_KEYED | FLAG_PARENT | FLAG_ROOT, root);
    }
    memcpy(out, root, UBC_BLAKE3_OUT_BYTES);
}
