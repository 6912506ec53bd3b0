/// A 256-bit salted hash, written as 64 lowercase hex characters.
///
/// Kept as four words rather than a string so that the replay checker can key millions of
/// aggregates by it without allocating.
public struct Hash256: Hashable, Sendable, Comparable, CustomStringConvertible {
    var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    /// Parses exactly 64 lowercase hex characters; uppercase is refused so that one hash has one spelling.
    public init?(hex: some StringProtocol) {
        let utf8 = Array(hex.utf8)
        guard let parsed = utf8.withUnsafeBufferPointer({ Hash256(bytes: $0) }) else { return nil }
        self = parsed
    }

    init?(bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count == 64, let base = bytes.baseAddress else { return nil }
        // Eight digits a word (`HexWords`): an audit parses two or three of these per event.
        guard let a0 = HexWords.value(at: 0, in: base), let a1 = HexWords.value(at: 8, in: base),
              let b0 = HexWords.value(at: 16, in: base), let b1 = HexWords.value(at: 24, in: base),
              let c0 = HexWords.value(at: 32, in: base), let c1 = HexWords.value(at: 40, in: base),
              let d0 = HexWords.value(at: 48, in: base), let d1 = HexWords.value(at: 56, in: base)
        else { return nil }
        w0 = UInt64(a0) << 32 | UInt64(a1)
        w1 = UInt64(b0) << 32 | UInt64(b1)
        w2 = UInt64(c0) << 32 | UInt64(c1)
        w3 = UInt64(d0) << 32 | UInt64(d1)
    }

    public var description: String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(64)
        for word in [w0, w1, w2, w3] {
            for shift in stride(from: 60, through: 0, by: -4) {
                bytes.append(hexDigits[Int((word >> UInt64(shift)) & 0xF)])
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func < (lhs: Hash256, rhs: Hash256) -> Bool {
        (lhs.w0, lhs.w1, lhs.w2, lhs.w3) < (rhs.w0, rhs.w1, rhs.w2, rhs.w3)
    }
}

let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

@inline(__always)
func lowercaseHexValue(_ byte: UInt8) -> UInt8? {
    let digit = byte &- UInt8(ascii: "0")
    if digit < 10 { return digit }
    let letter = byte &- UInt8(ascii: "a")
    if letter < 6 { return letter &+ 10 }
    return nil
}

/// An applicant as the journal knows them: a salted hash of the foreign-national or passport number.
///
/// The journal is kept for years, so it never holds the number itself; the salt stays outside.
public struct IdentityKey: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let hash: Hash256
    public init(_ hash: Hash256) { self.hash = hash }
    public init?(hex: some StringProtocol) {
        guard let hash = Hash256(hex: hex) else { return nil }
        self.hash = hash
    }
    public var description: String { hash.description }
    public static func < (lhs: IdentityKey, rhs: IdentityKey) -> Bool { lhs.hash < rhs.hash }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let key = IdentityKey(hex: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected 64 lowercase hex characters"))
        }
        self = key
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A client as the booking front end sees it (a hash of network and browser traits), used as evidence of abuse.
public struct Fingerprint: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let hash: Hash256
    public init(_ hash: Hash256) { self.hash = hash }
    public init?(hex: some StringProtocol) {
        guard let hash = Hash256(hex: hex) else { return nil }
        self.hash = hash
    }
    public var description: String { hash.description }
    public static func < (lhs: Fingerprint, rhs: Fingerprint) -> Bool { lhs.hash < rhs.hash }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let key = Fingerprint(hex: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected 64 lowercase hex characters"))
        }
        self = key
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
