import Foundation

/// The one spelling of a UUID that the journal accepts: 36 lowercase characters, 8-4-4-4-12.
///
/// Foundation prints uppercase and parses both cases; a journal that accepted both would hold
/// two stream names for one slot or dossier.
enum CanonicalUUID {
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> UUID? {
        guard bytes.count == 36, let base = bytes.baseAddress,
              base[8] == UInt8(ascii: "-"), base[13] == UInt8(ascii: "-"), base[18] == UInt8(ascii: "-"), base[23] == UInt8(ascii: "-")
        else { return nil }
        var raw: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let valid = LowercaseHex.values.withUnsafeBufferPointer { table in
            withUnsafeMutableBytes(of: &raw) { out -> Bool in
                // Table loads and one check at the end, as in `Hash256(bytes:)`.
                var invalid: UInt8 = 0
                var i = 0
                for index in 0..<16 {
                    if i == 8 || i == 13 || i == 18 || i == 23 { i += 1 }
                    let high = table[Int(base[i])], low = table[Int(base[i + 1])]
                    invalid |= high | low
                    out[index] = high << 4 | (low & 0xF)
                    i += 2
                }
                return invalid & LowercaseHex.invalid == 0
            }
        }
        return valid ? UUID(uuid: raw) : nil
    }

    static func parse(_ text: some StringProtocol) -> UUID? {
        let utf8 = Array(text.utf8)
        return utf8.withUnsafeBufferPointer { parse($0) }
    }

    static func write(_ uuid: UUID, into out: inout [UInt8]) {
        withUnsafeBytes(of: uuid.uuid) { raw in
            for (index, byte) in raw.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 { out.append(UInt8(ascii: "-")) }
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0xF)])
            }
        }
    }

    static func string(_ uuid: UUID) -> String {
        var out = [UInt8]()
        out.reserveCapacity(36)
        write(uuid, into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

extension UUID {
    /// The journal's spelling: lowercase, as in stream names.
    public var canonicalString: String { CanonicalUUID.string(self) }
}
