/// Little-endian encoding helpers for the on-disk format.
///
/// Every integer in a Registre file is little-endian; these helpers keep that rule in one place
/// so a reader in another language only has to read FORMAT.md.
struct ByteWriter {
    var bytes: [UInt8]

    init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    var count: Int { bytes.count }

    mutating func writeInteger<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func writeBytes(_ other: some Sequence<UInt8>) {
        bytes.append(contentsOf: other)
    }

    mutating func writeZeros(_ n: Int) {
        bytes.append(contentsOf: repeatElement(0, count: n))
    }

    /// Overwrites a little-endian integer at an offset already written.
    mutating func setInteger<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for i in 0..<raw.count { bytes[offset + i] = raw[i] }
        }
    }
}

extension UnsafeRawBufferPointer {
    /// Reads a little-endian integer at `offset`; the caller has checked the bounds.
    @inline(__always)
    func getInteger<T: FixedWidthInteger>(at offset: Int, as: T.Type = T.self) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension Array where Element == UInt8 {
    @inline(__always)
    func getInteger<T: FixedWidthInteger>(at offset: Int, as: T.Type = T.self) -> T {
        withUnsafeBytes { $0.getInteger(at: offset) }
    }
}

/// Hex rendering for hashes in messages and JSON.
extension Sequence where Element == UInt8 {
    public var hexString: String {
        var s = ""
        for b in self {
            let hex = "0123456789abcdef".utf8
            s.unicodeScalars.append(UnicodeScalar(hex[hex.index(hex.startIndex, offsetBy: Int(b >> 4))]))
            s.unicodeScalars.append(UnicodeScalar(hex[hex.index(hex.startIndex, offsetBy: Int(b & 0xF))]))
        }
        return s
    }
}

/// Parses lowercase or uppercase hex into bytes; nil when malformed.
public func bytesFromHex(_ text: String) -> [UInt8]? {
    let utf8 = Array(text.utf8)
    guard utf8.count % 2 == 0 else { return nil }
    func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
    var out = [UInt8]()
    out.reserveCapacity(utf8.count / 2)
    var i = 0
    while i < utf8.count {
        guard let hi = nibble(utf8[i]), let lo = nibble(utf8[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}
