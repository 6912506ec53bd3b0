/// Lowercase hex digits read eight at a time from one 64-bit word (SWAR), for the hashes and
/// UUIDs that every event carries two or three of.
///
/// A table load per character was the audit's largest parsing cost after the JSON scan itself;
/// a word of eight characters is checked and converted with a dozen integer operations, and
/// accepts exactly what `lowercaseHexValue` accepts (`0-9`, `a-f`).
enum HexWords {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// The value of the eight hex digits at `offset`, the first digit most significant; nil when
    /// any of them is not a lowercase hex digit.
    @inline(__always)
    static func value(at offset: Int, in base: UnsafePointer<UInt8>) -> UInt32? {
        value(ofDigits: UInt64(littleEndian: UnsafeRawPointer(base + offset).loadUnaligned(as: UInt64.self)))
    }

    /// The value of two groups of four digits, at `first` then `second`, read as one group of eight.
    @inline(__always)
    static func value(at first: Int, then second: Int, in base: UnsafePointer<UInt8>) -> UInt32? {
        let low = UInt32(littleEndian: UnsafeRawPointer(base + first).loadUnaligned(as: UInt32.self))
        let high = UInt32(littleEndian: UnsafeRawPointer(base + second).loadUnaligned(as: UInt32.self))
        return value(ofDigits: UInt64(low) | UInt64(high) << 32)
    }

    /// `word` holds eight characters, the first in its lowest byte.
    @inline(__always)
    static func value(ofDigits word: UInt64) -> UInt32? {
        // Per byte, the high bit is set when the byte is at least `c`: no byte borrows from the
        // next because every byte is at least 0x80 once its high bit is set, and `c` <= 0x80.
        // Bytes with their own high bit set are refused below, whatever these give for them.
        @inline(__always) func atLeast(_ c: UInt64) -> UInt64 { ((word | highBits) &- c &* ones) & highBits }
        let digit = atLeast(0x30) & ~atLeast(0x3A)
        let letter = atLeast(0x61) & ~atLeast(0x67)
        guard word & highBits == 0, digit | letter == highBits else { return nil }
        // '0'...'9' are 0x30...0x39 and 'a'...'f' 0x61...0x66: the low nibble, plus 9 for letters.
        let nibbles = (word & (ones &* 0x0F)) &+ (letter >> 7) &* 9
        // Gather the nibbles, first digit first: pairs into bytes, bytes into halves, halves into one.
        let pairs = ((nibbles << 4) | (nibbles >> 8)) & 0x00FF_00FF_00FF_00FF
        let quads = ((pairs << 8) | (pairs >> 16)) & 0x0000_FFFF_0000_FFFF
        return UInt32(truncatingIfNeeded: (quads << 16) | (quads >> 32))
    }
}
