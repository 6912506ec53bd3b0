import Foundation
import Journal

/// A walk over JSON bytes that `JSONValidation` has already accepted whole, visiting each
/// member and element once.
///
/// `JSONSlices` finds a member's end by scanning its value, so a body cut into members, then
/// events, then fields reads the bytes of every event three times. Here the caller of
/// `forEachMember` and `forEachElement` says where each value ends (by walking into it, or with
/// `endOfValue`), so the bytes are read once after validation. The bytes must be valid JSON:
/// nothing here checks them again.
struct ValidatedJSON {
    let bytes: UnsafeRawBufferPointer

    @inline(__always) func skipWhitespace(_ start: Int) -> Int {
        var i = start
        while i < bytes.count {
            let c = bytes[i]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { break }
            i += 1
        }
        return i
    }

    /// Visits the members of the object at `start` (its `{`): `visit` gets the key's raw bytes
    /// (between the quotes, escapes not decoded) and where the value starts, and returns where
    /// the value ends. Returns the index just past the object's `}`.
    func forEachMember(ofObjectAt start: Int, _ visit: (_ key: Range<Int>, _ value: Int) -> Int) -> Int {
        var i = skipWhitespace(start + 1)
        if bytes[i] == UInt8(ascii: "}") { return i + 1 }
        while true {
            let keyEnd = endOfString(i)
            let key = (i + 1)..<(keyEnd - 1)
            i = skipWhitespace(skipWhitespace(keyEnd) + 1)  // past ':'
            i = skipWhitespace(visit(key, i))
            if bytes[i] == UInt8(ascii: "}") { return i + 1 }
            i = skipWhitespace(i + 1)  // past ','
        }
    }

    /// Visits the elements of the array at `start` (its `[`): `visit` gets where each element
    /// starts and returns where it ends. Returns the index just past the array's `]`.
    func forEachElement(ofArrayAt start: Int, _ visit: (_ element: Int) -> Int) -> Int {
        var i = skipWhitespace(start + 1)
        if bytes[i] == UInt8(ascii: "]") { return i + 1 }
        while true {
            i = skipWhitespace(visit(i))
            if bytes[i] == UInt8(ascii: "]") { return i + 1 }
            i = skipWhitespace(i + 1)
        }
    }

    /// The end of the value starting at `start`.
    func endOfValue(_ start: Int) -> Int {
        switch bytes[start] {
        case UInt8(ascii: "\""):
            return endOfString(start)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var i = start
            while true {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") {
                    i = endOfString(i)
                    continue
                }
                // Brackets only: everything else outside strings is one byte of no interest.
                if c | 0x20 == UInt8(ascii: "{") {  // '{' or '['
                    depth += 1
                } else if c | 0x20 == UInt8(ascii: "}") {  // '}' or ']'
                    depth -= 1
                    if depth == 0 { return i + 1 }
                }
                i += 1
            }
        default:
            var i = start
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: ",") || c == UInt8(ascii: "}") || c == UInt8(ascii: "]")
                    || c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { break }
                i += 1
            }
            return i
        }
    }

    /// The index just past the closing quote of the string starting at `start`.
    /// The next quote is found with `memchr` (vectorised); it closes the string unless an odd
    /// run of backslashes escapes it.
    @inline(__always) func endOfString(_ start: Int) -> Int {
        let base = bytes.baseAddress!
        var from = start + 1
        while true {
            let found = memchr(base + from, Int32(UInt8(ascii: "\"")), bytes.count - from)!
            let quote = base.distance(to: UnsafeRawPointer(found))
            var backslashes = 0
            while bytes[quote - 1 - backslashes] == UInt8(ascii: "\\") { backslashes += 1 }
            if backslashes % 2 == 0 { return quote + 1 }
            from = quote + 1
        }
    }

    /// Whether the raw bytes in `range` are exactly `word`.
    @inline(__always) func bytes(_ range: Range<Int>, are word: StaticString) -> Bool {
        guard range.count == word.utf8CodeUnitCount else { return false }
        let w = word.utf8Start
        for k in 0..<range.count where bytes[range.lowerBound + k] != w[k] { return false }
        return true
    }

    /// The string value at `range` (quotes included), escapes decoded; nil if it is not a string.
    func string(_ range: Range<Int>) -> String? {
        guard bytes[range.lowerBound] == UInt8(ascii: "\"") else { return nil }
        let inner = (range.lowerBound + 1)..<(range.upperBound - 1)
        // Most strings hold no escape: their bytes (valid UTF-8, as validated) are the string.
        for k in inner where bytes[k] == UInt8(ascii: "\\") { return JSONSlices.string(bytes, range) }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[inner]), as: UTF8.self)
    }

    /// The UUID written as the string at `range` (`8-4-4-4-12` hex digits, either case).
    func uuid(_ range: Range<Int>) -> UUID? {
        guard bytes[range.lowerBound] == UInt8(ascii: "\"") else { return nil }
        let inner = (range.lowerBound + 1)..<(range.upperBound - 1)
        if inner.count == 36 {
            if let parsed = Self.uuid(hex: UnsafeRawBufferPointer(rebasing: bytes[inner])) { return parsed }
        }
        // An id written with escapes: decode it first.
        guard let text = string(range) else { return nil }
        var utf8 = Array(text.utf8)
        guard utf8.count == 36 else { return nil }
        return utf8.withUnsafeMutableBytes { Self.uuid(hex: UnsafeRawBufferPointer($0)) }
    }

    /// Parses 36 bytes `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` without going through a C
    /// format scanner (Foundation's `UUID(uuidString:)` calls `sscanf` on Linux).
    static func uuid(hex: UnsafeRawBufferPointer) -> UUID? {
        guard hex.count == 36, hex[8] == UInt8(ascii: "-"), hex[13] == UInt8(ascii: "-"),
              hex[18] == UInt8(ascii: "-"), hex[23] == UInt8(ascii: "-") else { return nil }
        var out: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let ok = withUnsafeMutableBytes(of: &out) { raw -> Bool in
            var i = 0
            for n in 0..<16 {
                if i == 8 || i == 13 || i == 18 || i == 23 { i += 1 }
                guard let hi = hexValue(hex[i]), let lo = hexValue(hex[i + 1]) else { return false }
                raw[n] = hi << 4 | lo
                i += 2
            }
            return true
        }
        return ok ? UUID(uuid: out) : nil
    }

    @inline(__always) private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c &- UInt8(ascii: "A") &+ 10
        default: nil
        }
    }
}
