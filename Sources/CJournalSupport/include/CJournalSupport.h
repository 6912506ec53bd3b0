#ifndef REGISTRE_CJOURNALSUPPORT_H
#define REGISTRE_CJOURNALSUPPORT_H

#include <stddef.h>
#include <stdint.h>

/// Extends a CRC32C (Castagnoli, reflected polynomial 0x82F63B78) over `length` bytes.
/// Start with crc = 0; the function applies the usual pre- and post-inversion itself,
/// so `registre_crc32c(registre_crc32c(0, a), b) == registre_crc32c(0, a ++ b)`.
uint32_t registre_crc32c(uint32_t crc, const void *bytes, size_t length);

/// 1 when the SSE 4.2 instruction is used, 0 for the table fallback (reported by `registre bench`).
int registre_crc32c_is_hardware(void);

/// An incremental SHA-256 (FIPS 180-4). Fields are private to sha256.c.
typedef struct {
    uint32_t state[8];
    uint64_t length;
    uint8_t buffer[64];
    size_t used;
    int portable;
} registre_sha256_context;

/// Starts a hash that uses the SHA extensions when the CPU has them.
void registre_sha256_init(registre_sha256_context *context);
/// Starts a hash that always uses the portable C code (for tests: the two must agree).
void registre_sha256_init_portable(registre_sha256_context *context);
/// Adds `length` bytes (`bytes` may be NULL when `length` is 0).
void registre_sha256_update(registre_sha256_context *context, const void *bytes, size_t length);
/// Writes the 32-byte digest; the context must be started again before reuse.
void registre_sha256_final(registre_sha256_context *context, uint8_t digest[32]);
/// SHA-256(prefix ‖ first ‖ second) in one call: RFC 6962 leaves (0x00 ‖ record) and nodes
/// (0x01 ‖ left ‖ right). Either part may be empty (NULL with length 0).
void registre_sha256_prefixed(uint8_t prefix, const void *first, size_t first_length,
                              const void *second, size_t second_length, uint8_t digest[32]);
/// Continues `chain` over `chain_length` bytes and, side by side with it, writes the RFC 6962 leaf
/// hash SHA-256(0x00 ‖ record) of each of `count` records (record i is `lengths[i]` bytes at
/// `records + offsets[i]`) to `leaf_digests + 32 * i`. The SHA extensions compute one block in the
/// time it takes to wait on its rounds, so two independent hashes run in little more than the time
/// of one. Equal to `registre_sha256_update` and `registre_sha256_prefixed(0, …)` called one by one,
/// which is what it does without the extensions.
void registre_sha256_chain_and_leaves(registre_sha256_context *chain, const void *chain_bytes, size_t chain_length,
                                      const uint8_t *records, const uint32_t *offsets, const uint32_t *lengths,
                                      size_t count, uint8_t *leaf_digests);
/// 1 when the x86-64 SHA extensions are used, 0 for the portable code.
int registre_sha256_is_hardware(void);

/// Asks the CPU to start loading the cache line at `address` for reading; a hint, which never
/// faults. Lets a loop ask for the lines of many random table entries at once instead of waiting
/// for each in turn (Swift has no prefetch of its own).
static inline void registre_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }

/// Gives the calling thread the lowest CPU priority (nice 19) and the idle I/O class, for
/// background work that must only use what appends leave idle. Returns 0, or a bit mask of what
/// the kernel refused (1: CPU priority, 2: I/O class); either way the thread goes on.
int registre_make_thread_background(void);

#endif
