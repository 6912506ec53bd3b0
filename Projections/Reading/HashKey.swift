import Domain
import Foundation

/// A salted identity hash or a client fingerprint, as four words: the projections key hundreds of
/// thousands of entities by them, and a `String` per event would dominate the rebuild.
struct HashKey: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        (self.w0, self.w1, self.w2, self.w3) = (w0, w1, w2, w3)
    }

    init?(hex: String) {
        var text = hex
        let parsed: HashKey? = text.withUTF8 { utf8 in
            let raw = UnsafeRawBufferPointer(utf8)
            guard raw.count == 64 else { return nil }
            // Reuses the scanner's check by presenting the text as a quoted JSON string.
            var quoted = [UInt8](repeating: UInt8(ascii: "\""), count: 66)
            quoted.replaceSubrange(1..<65, with: raw)
            return quoted.withUnsafeBytes { FieldScanner.hash($0, ValueSpan(start: 0, end: 66, kind: .plainString)) }
        }
        guard let parsed else { return nil }
        self = parsed
    }

    init(_ fingerprint: Fingerprint) { self.init(hex: fingerprint.description)! }
    init(_ identity: IdentityKey) { self.init(hex: identity.description)! }

    var description: String {
        var out = [UInt8]()
        out.reserveCapacity(64)
        let digits = Array("0123456789abcdef".utf8)
        for word in [w0, w1, w2, w3] {
            for shift in stride(from: 60, through: 0, by: -4) { out.append(digits[Int((word >> UInt64(shift)) & 0xF)]) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    var fingerprint: Fingerprint { Fingerprint(hex: description)! }

    static func < (a: HashKey, b: HashKey) -> Bool { (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3) }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let key = HashKey(hex: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected 64 lowercase hex characters"))
        }
        self = key
    }
}

/// Milliseconds since the epoch ↔ `Date`, on the catalogue's millisecond grid.
enum Millis {
    static func of(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    /// Built as the catalogue builds its dates, so that a `Date` from here equals the decoded one.
    static func date(_ ms: Int64) -> Date {
        let milliseconds = ((ms % 1000) + 1000) % 1000
        let seconds = (ms - milliseconds) / 1000
        return Date(timeIntervalSince1970: Double(seconds) + Double(milliseconds) / 1000)
    }
}
