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
        // Eight digits a word (`HexWords`); the groups of four are read in pairs.
        guard let first = HexWords.value(at: 0, in: base), let second = HexWords.value(at: 9, then: 14, in: base),
              let third = HexWords.value(at: 19, then: 24, in: base), let fourth = HexWords.value(at: 28, in: base)
        else { return nil }
        var raw: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &raw) { out in
            out.storeBytes(of: first.bigEndian, toByteOffset: 0, as: UInt32.self)
            out.storeBytes(of: second.bigEndian, toByteOffset: 4, as: UInt32.self)
            out.storeBytes(of: third.bigEndian, toByteOffset: 8, as: UInt32.self)
            out.storeBytes(of: fourth.bigEndian, toByteOffset: 12, as: UInt32.self)
        }
        return UUID(uuid: raw)
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
