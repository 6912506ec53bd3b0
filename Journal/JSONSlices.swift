/// Finds the members of a JSON object, or the elements of an array, as byte ranges, without
/// building a tree: request bodies and import lines keep their `data` bytes exactly as sent.
public enum JSONSlices {
    public struct Member {
        /// The key as written between the quotes (escapes are not decoded: known keys have none).
        public var key: String
        public var value: Range<Int>
    }

    /// Validates `bytes` as one JSON object and returns its top-level members in order.
    public static func members(ofObject bytes: UnsafeRawBufferPointer) throws(JSONValidation.Failure) -> [Member] {
        try JSONValidation.validateObject(bytes)
        var members: [Member] = []
        var i = skip(bytes, 0) + 1
        while true {
            i = skip(bytes, i)
            if bytes[i] == UInt8(ascii: "}") { return members }
            let keyEnd = endOfValue(bytes, i)
            let key = String(decoding: bytes[(i + 1)..<(keyEnd - 1)], as: UTF8.self)
            i = skip(bytes, keyEnd) + 1  // past ':'
            i = skip(bytes, i)
            let end = endOfValue(bytes, i)
            members.append(Member(key: key, value: i..<end))
            i = skip(bytes, end)
            if bytes[i] == UInt8(ascii: ",") { i += 1 }
        }
    }

    /// The elements of the array spanning `range` (already validated).
    public static func elements(ofArray bytes: UnsafeRawBufferPointer, in range: Range<Int>) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = skip(bytes, range.lowerBound + 1)
        while i < range.upperBound, bytes[i] != UInt8(ascii: "]") {
            let end = endOfValue(bytes, i)
            out.append(i..<end)
            i = skip(bytes, end)
            if bytes[i] == UInt8(ascii: ",") { i = skip(bytes, i + 1) }
        }
        return out
    }

    /// Members of a nested object spanning `range` (already validated).
    public static func members(ofObject bytes: UnsafeRawBufferPointer, in range: Range<Int>) -> [Member] {
        var members: [Member] = []
        var i = skip(bytes, range.lowerBound + 1)
        while i < range.upperBound, bytes[i] != UInt8(ascii: "}") {
            let keyEnd = endOfValue(bytes, i)
            let key = String(decoding: bytes[(i + 1)..<(keyEnd - 1)], as: UTF8.self)
            i = skip(bytes, skip(bytes, keyEnd) + 1)
            let end = endOfValue(bytes, i)
            members.append(Member(key: key, value: i..<end))
            i = skip(bytes, end)
            if bytes[i] == UInt8(ascii: ",") { i = skip(bytes, i + 1) }
        }
        return members
    }

    /// Decodes a JSON string value (quotes included in `range`), escapes and all.
    public static func string(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String? {
        guard range.count >= 2, bytes[range.lowerBound] == UInt8(ascii: "\"") else { return nil }
        let content = UnsafeRawBufferPointer(rebasing: bytes[(range.lowerBound + 1)..<(range.upperBound - 1)])
        return String(decoding: unescaped(content), as: UTF8.self)
    }

    /// The UTF-8 bytes a string's content (between its quotes) stands for. Only for content
    /// `JSONValidation` accepted: every escape is whole and every surrogate paired.
    static func unescaped(_ raw: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        func hex4(_ at: Int) -> UInt32 {
            var v: UInt32 = 0
            for c in raw[at..<(at + 4)] { v = v << 4 | UInt32(c <= 57 ? c - 48 : (c | 0x20) - 87) }
            return v
        }
        while i < raw.count {
            let c = raw[i]
            guard c == UInt8(ascii: "\\") else { out.append(c); i += 1; continue }
            let e = raw[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "u"):
                var scalar = hex4(i)
                i += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (hex4(i + 2) - 0xDC00)
                    i += 6
                }
                if let s = Unicode.Scalar(scalar) { out.append(contentsOf: String(s).utf8) }
            default: out.append(e)  // \" \\ \/
            }
        }
        return out
    }

    @inline(__always) static func skip(_ b: UnsafeRawBufferPointer, _ start: Int) -> Int {
        var i = start
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        return i
    }

    /// The end of the (valid) value starting at `start`.
    static func endOfValue(_ b: UnsafeRawBufferPointer, _ start: Int) -> Int {
        var i = start
        switch b[i] {
        case UInt8(ascii: "\""):
            i += 1
            while b[i] != UInt8(ascii: "\"") { i += b[i] == UInt8(ascii: "\\") ? 2 : 1 }
            return i + 1
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while true {
                let c = b[i]
                if c == UInt8(ascii: "\"") { i = endOfValue(b, i); continue }
                if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") { depth += 1 }
                if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") { depth -= 1; if depth == 0 { return i + 1 } }
                i += 1
            }
        default:
            while i < b.count, !(b[i] == UInt8(ascii: ",") || b[i] == UInt8(ascii: "}") || b[i] == UInt8(ascii: "]")
                                 || b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09) { i += 1 }
            return i
        }
    }
}
