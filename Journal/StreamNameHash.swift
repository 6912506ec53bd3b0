import Foundation

/// The hash of a stream id's bytes that the journal's own tables use.
///
/// Why not `Hasher`: SipHash over a 40-byte id costs more than the rest of a table probe, and
/// the writer probes several tables per event. This mixes eight bytes at a time; it is not
/// cryptographic, only well spread. The seed is drawn per process (or per table), so ids crafted
/// to collide cannot be prepared in advance, and every hit is still confirmed byte for byte.
enum StreamNameHash {
    /// Shared by the tables that pass hashes to each other (the writer's version cache and the
    /// open segment's stream runs), so a stream id is hashed once per append.
    static let processSeed = UInt64.random(in: 1...UInt64.max)

    /// Never 0 (the top bit is set), so tables can use 0 for an empty entry.
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        var h = seed ^ (UInt64(bytes.count) &* 0x9E37_79B9_7F4A_7C15)
        var i = 0
        let n = bytes.count
        while i + 8 <= n {
            h = (h ^ bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(bytes[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 29
        return h | (1 << 63)
    }

    static func hash(_ stream: String, seed: UInt64) -> UInt64 {
        var name = stream
        return name.withUTF8 { hash(UnsafeRawBufferPointer($0), seed: seed) }
    }
}
