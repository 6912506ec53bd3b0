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

#endif
