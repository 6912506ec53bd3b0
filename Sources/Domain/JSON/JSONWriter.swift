import Foundation

/// Writes one compact JSON object, field by field, in the order the catalogue documents.
///
/// Events are written by hand rather than through `JSONEncoder` so that the bytes are the same
/// on every platform (key order, date and UUID spelling), which matters for an append-only
/// journal whose segments are hashed.
struct JSONObjectWriter {
    private(set) var bytes: [UInt8]
    private var isFirst = true

    init() {
        bytes = []
        bytes.reserveCapacity(320)
        bytes.append(UInt8(ascii: "{"))
    }

    mutating func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    private mutating func key(_ name: StaticString) {
        if !isFirst { bytes.append(UInt8(ascii: ",")) }
        isFirst = false
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func field(_ name: StaticString, _ value: String) { key(name); JSONObjectWriter.appendString(value, to: &bytes) }
    mutating func field(_ name: StaticString, _ value: Int) { key(name); bytes.append(contentsOf: String(value).utf8) }
    mutating func field(_ name: StaticString, _ value: Double) { key(name); bytes.append(contentsOf: String(describing: value).utf8) }
    mutating func field(_ name: StaticString, _ value: Bool) { key(name); bytes.append(contentsOf: (value ? "true" : "false").utf8) }

    mutating func field(_ name: StaticString, _ value: Date) {
        key(name)
        bytes.append(UInt8(ascii: "\""))
        UTCTime.write(value, into: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func field(_ name: StaticString, _ value: UUID) {
        key(name)
        bytes.append(UInt8(ascii: "\""))
        CanonicalUUID.write(value, into: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func field(_ name: StaticString, _ value: IdentityKey) { key(name); appendQuoted(value.description) }
    mutating func field(_ name: StaticString, _ value: Fingerprint) { key(name); appendQuoted(value.description) }
    mutating func field(_ name: StaticString, _ value: some ClosedSet) { key(name); appendQuoted(value.rawValue) }

    mutating func field(_ name: StaticString, _ values: [String]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONObjectWriter.appendString(value, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func field(_ name: StaticString, _ values: [UUID]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            CanonicalUUID.write(value, into: &bytes)
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Optional fields are left out when absent, never written as `null`.
    mutating func field(_ name: StaticString, _ value: UUID?) { if let value { field(name, value) } }
    mutating func field(_ name: StaticString, _ value: IdentityKey?) { if let value { field(name, value) } }

    private mutating func appendQuoted(_ plain: String) {
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: plain.utf8)
        bytes.append(UInt8(ascii: "\""))
    }

    static func appendString(_ value: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(hexDigits[Int(byte >> 4)])
                bytes.append(hexDigits[Int(byte & 0xF)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
