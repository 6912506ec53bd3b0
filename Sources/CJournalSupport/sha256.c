// SHA-256 (FIPS 180-4) for the journal's chain hashes and Merkle tree.
//
// Why not swift-crypto's SHA256: it reaches the same SHA-NI code in BoringSSL, but every hash
// goes through a heap-allocated context object and several layers of wrappers, which cost about
// as much as the compression itself for the 65-byte Merkle nodes and ~400-byte leaves the audit
// hashes millions of. Here a hash is one call, on the stack.
//
// The x86-64 SHA extensions are used when the CPU has them (checked once at run time); the
// portable C compression function is the fallback, and the tests check both against
// swift-crypto and the FIPS 180-2 examples.
#include "CJournalSupport.h"
#include <string.h>

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t initial_state[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void blocks_portable(uint32_t s[8], const uint8_t *p, size_t blocks) {
    while (blocks--) {
        uint32_t w[64];
        for (int i = 0; i < 16; i++) {
            w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
        }
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
            uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = h + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
            uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
        }
        s[0] += a; s[1] += b; s[2] += c; s[3] += d; s[4] += e; s[5] += f; s[6] += g; s[7] += h;
        p += 64;
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

// Intel's SHA extensions keep the state as two registers, ABEF and CDGH; each
// sha256rnds2 does two rounds, and sha256msg1/msg2 extend the message schedule four words
// at a time: W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16].
__attribute__((target("sha,sse4.1,ssse3")))
static void blocks_hardware(uint32_t s[8], const uint8_t *p, size_t blocks) {
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i dcba = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&s[0]), 0xB1);  // CDAB
    __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&s[4]), 0x1B);  // EFGH
    __m128i abef = _mm_alignr_epi8(dcba, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, dcba, 0xF0);
    while (blocks--) {
        const __m128i abef_before = abef, cdgh_before = cdgh;
        __m128i m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), byte_swap);
        __m128i m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), byte_swap);
        __m128i m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), byte_swap);
        __m128i m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), byte_swap);
        // Written out rather than looped: the compiler keeps a loop's schedule in memory.
#define FOUR_ROUNDS(w, k)                                                               \
        do {                                                                            \
            __m128i wk = _mm_add_epi32((w), _mm_loadu_si128((const __m128i *)&K[k]));   \
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);                               \
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));      \
        } while (0)
// The next four schedule words replace the oldest four (w[t-16..t-13]).
#define EXTEND(oldest, older, old, last)                                                \
        (oldest) = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32((oldest), (older)), \
                                                      _mm_alignr_epi8((last), (old), 4)), (last))
        FOUR_ROUNDS(m0, 0);
        FOUR_ROUNDS(m1, 4);
        FOUR_ROUNDS(m2, 8);
        FOUR_ROUNDS(m3, 12);
        for (int k = 16; k < 64; k += 16) {
            EXTEND(m0, m1, m2, m3); FOUR_ROUNDS(m0, k);
            EXTEND(m1, m2, m3, m0); FOUR_ROUNDS(m1, k + 4);
            EXTEND(m2, m3, m0, m1); FOUR_ROUNDS(m2, k + 8);
            EXTEND(m3, m0, m1, m2); FOUR_ROUNDS(m3, k + 12);
        }
#undef EXTEND
#undef FOUR_ROUNDS
        abef = _mm_add_epi32(abef, abef_before);
        cdgh = _mm_add_epi32(cdgh, cdgh_before);
        p += 64;
    }
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)&s[0], _mm_blend_epi16(feba, dchg, 0xF0));  // DCBA
    _mm_storeu_si128((__m128i *)&s[4], _mm_alignr_epi8(dchg, feba, 8));     // HGFE
}

// Two independent SHA-256 compressions, one block each, interleaved so that the latency of
// one lane's sha256rnds2 hides behind the other's.
__attribute__((target("sha,sse4.1,ssse3")))
static void block_hardware_x2(uint32_t sa[8], const uint8_t *pa, uint32_t sb[8], const uint8_t *pb) {
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i dcba_a = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&sa[0]), 0xB1);
    __m128i efgh_a = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&sa[4]), 0x1B);
    __m128i abef_a = _mm_alignr_epi8(dcba_a, efgh_a, 8);
    __m128i cdgh_a = _mm_blend_epi16(efgh_a, dcba_a, 0xF0);
    __m128i dcba_b = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&sb[0]), 0xB1);
    __m128i efgh_b = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&sb[4]), 0x1B);
    __m128i abef_b = _mm_alignr_epi8(dcba_b, efgh_b, 8);
    __m128i cdgh_b = _mm_blend_epi16(efgh_b, dcba_b, 0xF0);
    const __m128i abef_a0 = abef_a, cdgh_a0 = cdgh_a, abef_b0 = abef_b, cdgh_b0 = cdgh_b;
    __m128i a0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pa + 0)), byte_swap);
    __m128i a1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pa + 16)), byte_swap);
    __m128i a2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pa + 32)), byte_swap);
    __m128i a3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pa + 48)), byte_swap);
    __m128i b0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pb + 0)), byte_swap);
    __m128i b1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pb + 16)), byte_swap);
    __m128i b2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pb + 32)), byte_swap);
    __m128i b3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pb + 48)), byte_swap);
#define FOUR_ROUNDS_X2(wa, wb, k)                                                        \
    do {                                                                                 \
        const __m128i kk = _mm_loadu_si128((const __m128i *)&K[k]);                      \
        __m128i wka = _mm_add_epi32((wa), kk), wkb = _mm_add_epi32((wb), kk);            \
        cdgh_a = _mm_sha256rnds2_epu32(cdgh_a, abef_a, wka);                             \
        cdgh_b = _mm_sha256rnds2_epu32(cdgh_b, abef_b, wkb);                             \
        abef_a = _mm_sha256rnds2_epu32(abef_a, cdgh_a, _mm_shuffle_epi32(wka, 0x0E));    \
        abef_b = _mm_sha256rnds2_epu32(abef_b, cdgh_b, _mm_shuffle_epi32(wkb, 0x0E));    \
    } while (0)
#define EXTEND(oldest, older, old, last)                                                 \
    (oldest) = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32((oldest), (older)), \
                                                  _mm_alignr_epi8((last), (old), 4)), (last))
    FOUR_ROUNDS_X2(a0, b0, 0);
    FOUR_ROUNDS_X2(a1, b1, 4);
    FOUR_ROUNDS_X2(a2, b2, 8);
    FOUR_ROUNDS_X2(a3, b3, 12);
    for (int k = 16; k < 64; k += 16) {
        EXTEND(a0, a1, a2, a3); EXTEND(b0, b1, b2, b3); FOUR_ROUNDS_X2(a0, b0, k);
        EXTEND(a1, a2, a3, a0); EXTEND(b1, b2, b3, b0); FOUR_ROUNDS_X2(a1, b1, k + 4);
        EXTEND(a2, a3, a0, a1); EXTEND(b2, b3, b0, b1); FOUR_ROUNDS_X2(a2, b2, k + 8);
        EXTEND(a3, a0, a1, a2); EXTEND(b3, b0, b1, b2); FOUR_ROUNDS_X2(a3, b3, k + 12);
    }
#undef EXTEND
#undef FOUR_ROUNDS_X2
    abef_a = _mm_add_epi32(abef_a, abef_a0); cdgh_a = _mm_add_epi32(cdgh_a, cdgh_a0);
    abef_b = _mm_add_epi32(abef_b, abef_b0); cdgh_b = _mm_add_epi32(cdgh_b, cdgh_b0);
    __m128i feba = _mm_shuffle_epi32(abef_a, 0x1B), dchg = _mm_shuffle_epi32(cdgh_a, 0xB1);
    _mm_storeu_si128((__m128i *)&sa[0], _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)&sa[4], _mm_alignr_epi8(dchg, feba, 8));
    feba = _mm_shuffle_epi32(abef_b, 0x1B); dchg = _mm_shuffle_epi32(cdgh_b, 0xB1);
    _mm_storeu_si128((__m128i *)&sb[0], _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)&sb[4], _mm_alignr_epi8(dchg, feba, 8));
}

static int has_sha_extensions(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("ssse3");
}
#else
static void blocks_hardware(uint32_t s[8], const uint8_t *p, size_t blocks) { blocks_portable(s, p, blocks); }
static void block_hardware_x2(uint32_t sa[8], const uint8_t *pa, uint32_t sb[8], const uint8_t *pb) {
    blocks_portable(sa, pa, 1);
    blocks_portable(sb, pb, 1);
}
static int has_sha_extensions(void) { return 0; }
#endif

typedef void (*blocks_function)(uint32_t s[8], const uint8_t *p, size_t blocks);

static blocks_function chosen_blocks(void) {
    static blocks_function chosen = NULL;
    blocks_function f = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (!f) {
        f = has_sha_extensions() ? blocks_hardware : blocks_portable;
        __atomic_store_n(&chosen, f, __ATOMIC_RELEASE);
    }
    return f;
}

int registre_sha256_is_hardware(void) { return chosen_blocks() == blocks_hardware; }

static void start(registre_sha256_context *c, int portable) {
    memcpy(c->state, initial_state, sizeof initial_state);
    c->length = 0;
    c->used = 0;
    c->portable = portable;
}

void registre_sha256_init(registre_sha256_context *c) { start(c, 0); }
void registre_sha256_init_portable(registre_sha256_context *c) { start(c, 1); }

void registre_sha256_update(registre_sha256_context *c, const void *bytes, size_t length) {
    if (length == 0) return;
    blocks_function blocks = c->portable ? blocks_portable : chosen_blocks();
    const uint8_t *p = (const uint8_t *)bytes;
    c->length += length;
    if (c->used > 0) {
        size_t take = 64 - c->used < length ? 64 - c->used : length;
        memcpy(c->buffer + c->used, p, take);
        c->used += take;
        p += take;
        length -= take;
        if (c->used < 64) return;
        blocks(c->state, c->buffer, 1);
        c->used = 0;
    }
    if (length >= 64) {
        blocks(c->state, p, length / 64);
        p += length & ~(size_t)63;
        length &= 63;
    }
    if (length > 0) {
        memcpy(c->buffer, p, length);
        c->used = length;
    }
}

void registre_sha256_final(registre_sha256_context *c, uint8_t digest[32]) {
    blocks_function blocks = c->portable ? blocks_portable : chosen_blocks();
    uint64_t bits = c->length * 8;
    c->buffer[c->used++] = 0x80;
    if (c->used > 56) {
        memset(c->buffer + c->used, 0, 64 - c->used);
        blocks(c->state, c->buffer, 1);
        c->used = 0;
    }
    memset(c->buffer + c->used, 0, 56 - c->used);
    for (int i = 0; i < 8; i++) c->buffer[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    blocks(c->state, c->buffer, 1);
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(c->state[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(c->state[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(c->state[i] >> 8);
        digest[4 * i + 3] = (uint8_t)c->state[i];
    }
}

void registre_sha256_prefixed(uint8_t prefix, const void *first, size_t first_length,
                              const void *second, size_t second_length, uint8_t digest[32]) {
    registre_sha256_context c;
    start(&c, 0);
    registre_sha256_update(&c, &prefix, 1);
    registre_sha256_update(&c, first, first_length);
    registre_sha256_update(&c, second, second_length);
    registre_sha256_final(&c, digest);
}

// MARK: - A frame's chain hash and its records' Merkle leaves, side by side

static void store_digest(const uint32_t state[8], uint8_t digest[32]) {
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(state[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(state[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(state[i] >> 8);
        digest[4 * i + 3] = (uint8_t)state[i];
    }
}

// The padded message 0x00 ‖ record ‖ 0x80 ‖ zeros ‖ bit length of one leaf after another, one
// block at a time. Whole blocks in the middle of a record are read where they lie; the first
// block (shifted by the prefix byte) and the last one or two (with the padding) are copied.
typedef struct {
    const uint8_t *records;
    const uint32_t *offsets;
    const uint32_t *lengths;
    size_t count;
    uint8_t *digests;
    size_t index;        // the leaf being hashed
    size_t block;        // its next block
    size_t blocks;       // its padded length in blocks
    size_t whole;        // its blocks that lie whole in the record (block 0 counted, copied)
    uint32_t state[8];
    uint8_t first[64];
    uint8_t tail[128];
} leaf_lane;

static void leaf_start(leaf_lane *l) {
    if (l->index >= l->count) return;
    const uint8_t *record = l->records + l->offsets[l->index];
    size_t length = l->lengths[l->index];
    size_t message = length + 1;
    l->block = 0;
    l->blocks = (message + 1 + 8 + 63) / 64;
    l->whole = message / 64;
    memcpy(l->state, initial_state, sizeof initial_state);
    if (l->whole > 0) {
        l->first[0] = 0;
        memcpy(l->first + 1, record, 63);
    }
    memset(l->tail, 0, sizeof l->tail);
    size_t from = 64 * l->whole;  // first message byte of the tail
    size_t rest = message - from;
    if (l->whole == 0) {
        l->tail[0] = 0;
        memcpy(l->tail + 1, record, length);
    } else {
        memcpy(l->tail, record + from - 1, rest);
    }
    l->tail[rest] = 0x80;
    uint64_t bits = (uint64_t)message * 8;
    uint8_t *end = l->tail + 64 * (l->blocks - l->whole);
    for (int i = 0; i < 8; i++) end[-1 - i] = (uint8_t)(bits >> (8 * i));
}

static const uint8_t *leaf_block(const leaf_lane *l) {
    if (l->block < l->whole) {
        return l->block == 0 ? l->first : l->records + l->offsets[l->index] + 64 * l->block - 1;
    }
    return l->tail + 64 * (l->block - l->whole);
}

// After a block of the current leaf: finishes it on its last block and starts the next.
static void leaf_advance(leaf_lane *l) {
    l->block += 1;
    if (l->block < l->blocks) return;
    store_digest(l->state, l->digests + 32 * l->index);
    l->index += 1;
    leaf_start(l);
}

void registre_sha256_chain_and_leaves(registre_sha256_context *chain, const void *chain_bytes, size_t chain_length,
                                      const uint8_t *records, const uint32_t *offsets, const uint32_t *lengths,
                                      size_t count, uint8_t *leaf_digests) {
    if (chain->portable || chosen_blocks() != blocks_hardware) {
        registre_sha256_update(chain, chain_bytes, chain_length);
        for (size_t i = 0; i < count; i++) {
            registre_sha256_prefixed(0, records + offsets[i], lengths[i], NULL, 0, leaf_digests + 32 * i);
        }
        return;
    }
    const uint8_t *p = (const uint8_t *)chain_bytes;
    size_t length = chain_length;
    chain->length += length;
    // The chain's blocks: the context's buffer once it is filled, then whole blocks in place.
    int buffered = 0;
    if (chain->used > 0) {
        size_t take = 64 - chain->used < length ? 64 - chain->used : length;
        memcpy(chain->buffer + chain->used, p, take);
        chain->used += take;
        p += take;
        length -= take;
        buffered = chain->used == 64;
    }
    size_t direct = length / 64;
    leaf_lane lane;
    lane.records = records;
    lane.offsets = offsets;
    lane.lengths = lengths;
    lane.count = count;
    lane.digests = leaf_digests;
    lane.index = 0;
    leaf_start(&lane);
    while (lane.index < count && (buffered || direct > 0)) {
        const uint8_t *block;
        if (buffered) {
            block = chain->buffer;
        } else {
            block = p;
        }
        block_hardware_x2(chain->state, block, lane.state, leaf_block(&lane));
        if (buffered) {
            buffered = 0;
            chain->used = 0;
        } else {
            p += 64;
            direct -= 1;
        }
        leaf_advance(&lane);
    }
    if (buffered) {
        blocks_hardware(chain->state, chain->buffer, 1);
        chain->used = 0;
    }
    if (direct > 0) {
        blocks_hardware(chain->state, p, direct);
        p += 64 * direct;
    }
    length = chain_length - (size_t)(p - (const uint8_t *)chain_bytes);
    if (length > 0) {
        memcpy(chain->buffer + chain->used, p, length);
        chain->used += length;
    }
    while (lane.index < count) {
        blocks_hardware(lane.state, leaf_block(&lane), 1);
        leaf_advance(&lane);
    }
}
