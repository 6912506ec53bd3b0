import Foundation

/// The one spelling of a UUID that the journal accepts: 36 lowercase characters, 8-4-4-4-12.
///
/// Foundation prints uppercase and parses both cases; a journal that accepted both would hold
/// two stream names for one slot or dossier.
enum CanonicalUUID {
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> UUID? {
        guard bytes.count == 36 else { return nil }
        var raw = [UInt8](repeating: 0, count: 16)
        var out = 0
        var i = 0
        while i < 36 {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard bytes[i] == UInt8(ascii: "-") else { return nil }
                i += 1
                continue
            }
            guard let high = lowercaseHexValue(bytes[i]), let low = lowercaseHexValue(bytes[i + 1]) else { return nil }
            raw[out] = high << 4 | low
            out += 1
            i += 2
        }
        return UUID(uuid: (raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7],
                           raw[8], raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15]))
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
