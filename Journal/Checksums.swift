import CJournalSupport
import Crypto

/// CRC32C (Castagnoli) of the stored bytes: catches torn and garbage writes, cheaply.
enum CRC32C {
    static func checksum(_ bytes: UnsafeRawBufferPointer, extending crc: UInt32 = 0) -> UInt32 {
        registre_crc32c(crc, bytes.baseAddress, bytes.count)
    }

    static func checksum(_ bytes: [UInt8], extending crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, extending: crc) }
    }

    static var isHardwareAccelerated: Bool { registre_crc32c_is_hardware() != 0 }
}

/// A SHA-256 digest as 32 bytes: chain hashes, Merkle nodes and checkpoints all use it.
/// Stored inline (four words), because Merkle hashing creates millions of them.
public struct Digest32: Hashable, Sendable, CustomStringConvertible {
    private var words: (UInt64, UInt64, UInt64, UInt64)

    public static let zero = Digest32(words: (0, 0, 0, 0))

    private init(words: (UInt64, UInt64, UInt64, UInt64)) { self.words = words }

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 32, "a SHA-256 digest has 32 bytes")
        self = bytes.withUnsafeBytes { Digest32(raw: $0) }
    }

    init(raw: UnsafeRawBufferPointer) {
        words = (raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                 raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    public init?(hex: String) {
        guard let b = bytesFromHex(hex), b.count == 32 else { return nil }
        self.init(bytes: b)
    }

    public var bytes: [UInt8] { withUnsafeBytes(of: words) { Array($0) } }

    /// Calls `body` with the 32 bytes, without allocating.
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: words, body)
    }

    public var hex: String { bytes.hexString }
    public var description: String { hex }

    public static func == (a: Digest32, b: Digest32) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
    }
}

extension Digest32 {
    init(_ digest: SHA256.Digest) {
        self = digest.withUnsafeBytes { Digest32(raw: $0) }
    }

    /// A digest that `write` fills in place (32 bytes), with no buffer on the heap.
    @inline(__always)
    static func written(_ write: (UnsafeMutablePointer<UInt8>) -> Void) -> Digest32 {
        var d = Digest32.zero
        withUnsafeMutableBytes(of: &d.words) { write($0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
        return d
    }
}

/// The 64-bit hash used by the sealed-segment index for event ids and stream names.
///
/// FNV-1a followed by the SplitMix64 finaliser: FNV-1a alone leaves the top bits, which pick the
/// fan-out bucket, poorly mixed for short keys.
enum IndexHash {
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        h ^= h >> 30
        h = h &* 0xbf58_476d_1ce4_e5b9
        h ^= h >> 27
        h = h &* 0x94d0_49bb_1331_11eb
        h ^= h >> 31
        return h
    }

    static func hash(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { hash($0) } }

    static func hash(_ text: String) -> UInt64 {
        var t = text
        return t.withUTF8 { hash(UnsafeRawBufferPointer($0)) }
    }
}
