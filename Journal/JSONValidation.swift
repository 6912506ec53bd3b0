import Foundation

/// A strict RFC 8259 validator for event data and metadata.
///
/// The journal stores JSON as received, so it must refuse anything another reader could parse
/// differently: invalid UTF-8, trailing garbage, lone surrogates in escapes, duplicate keys,
/// or nesting deep enough to overflow a recursive parser. It allocates nothing on the common path.
public enum JSONValidation {
    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        public var offset: Int
        public var reason: String
        public var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    public static let maximumDepth = 64

    /// Validates that `bytes` hold exactly one JSON object (surrounding whitespace allowed).
    /// `maximumDepth` is raised only for documents that wrap validated data in a few levels.
    public static func validateObject(_ bytes: UnsafeRawBufferPointer, maximumDepth: Int = maximumDepth) throws(Failure) {
        var p = Parser(bytes: bytes, depthLimit: maximumDepth)
        p.skipWhitespace()
        guard p.i < bytes.count, bytes[p.i] == UInt8(ascii: "{") else { throw Failure(offset: p.i, reason: "expected a JSON object") }
        try p.value(depth: 0)
        p.skipWhitespace()
        guard p.i == bytes.count else { throw Failure(offset: p.i, reason: "unexpected bytes after the object") }
    }

    public static func validateObject(_ bytes: [UInt8], maximumDepth: Int = maximumDepth) throws(Failure) {
        let failure: Failure? = bytes.withUnsafeBytes { raw -> Failure? in
            do throws(Failure) { try validateObject(raw, maximumDepth: maximumDepth); return nil } catch { return error }
        }
        if let failure { throw failure }
    }

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        let depthLimit: Int
        var i = 0
        /// The keys of the objects being parsed, innermost last: one array for the whole
        /// document (each object adds its keys and removes them when it ends), not one per object.
        var keys: [Key] = []
        /// Decoded forms of the keys above that hold an escape; emptied with them.
        var decodedKeys: [[UInt8]] = []

        /// A key as a reader sees it: its raw bytes, or, when it holds an escape, its decoded
        /// bytes (`"\u0061"` and `"a"` are the same key to every parser).
        enum Key {
            case raw(Range<Int>)
            case decoded(Int)
        }

        /// Past this many keys an object's duplicates are found by hashing, so a body of a
        /// million keys costs a million lookups, not half a million million comparisons.
        static let linearKeyLimit = 32

        /// Whether the last string read held a backslash escape: a key without one is compared
        /// as it lies in the input, with no scan for escapes of its own.
        var stringHadEscape = false

        init(bytes: UnsafeRawBufferPointer, depthLimit: Int) {
            self.bytes = bytes
            self.depthLimit = depthLimit
        }

        func fail(_ reason: String) -> Failure { Failure(offset: i, reason: reason) }

        @inline(__always) mutating func skipWhitespace() {
            while i < bytes.count {
                let c = bytes[i]
                if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { break }
            }
        }

        mutating func value(depth: Int) throws(Failure) {
            guard depth < depthLimit else { throw fail("nesting deeper than \(depthLimit)") }
            skipWhitespace()
            guard i < bytes.count else { throw fail("unexpected end of input") }
            switch bytes[i] {
            case UInt8(ascii: "{"): try object(depth: depth)
            case UInt8(ascii: "["): try array(depth: depth)
            case UInt8(ascii: "\""): _ = try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            default: throw fail("unexpected character")
            }
        }

        mutating func literal(_ word: StaticString) throws(Failure) {
            let n = word.utf8CodeUnitCount
            guard bytes.count - i >= n else { throw fail("unexpected end of input") }
            for k in 0..<n where bytes[i + k] != word.utf8Start[k] { throw fail("invalid literal") }
            i += n
        }

        mutating func object(depth: Int) throws(Failure) {
            i += 1
            skipWhitespace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return }
            // One allocation for the keys of a typical event (a dozen) rather than one per doubling.
            if keys.capacity == 0 { keys.reserveCapacity(16) }
            let firstKey = keys.count, firstDecoded = decodedKeys.count
            defer {
                keys.removeSubrange(firstKey...)
                decodedKeys.removeSubrange(firstDecoded...)
            }
            var hashed: Set<[UInt8]>? = nil
            while true {
                skipWhitespace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let keyStart = i
                let range = try string()
                let key: Key
                if !stringHadEscape {
                    key = .raw(range)
                } else {
                    decodedKeys.append(JSONSlices.unescaped(UnsafeRawBufferPointer(rebasing: bytes[range])))
                    key = .decoded(decodedKeys.count - 1)
                }
                if hashed == nil, keys.count - firstKey == Self.linearKeyLimit {
                    hashed = Set(keys[firstKey...].map { withBytes(of: $0) { Array($0) } })
                }
                let duplicate = withBytes(of: key) { new in
                    if hashed != nil { return !hashed!.insert(Array(new)).inserted }
                    return keys[firstKey...].contains { other in
                        withBytes(of: other) { $0.count == new.count && (new.isEmpty || memcmp($0.baseAddress!, new.baseAddress!, new.count) == 0) }
                    }
                }
                if duplicate { throw Failure(offset: keyStart, reason: "duplicate key") }
                keys.append(key)
                skipWhitespace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                try value(depth: depth + 1)
                skipWhitespace()
                guard i < bytes.count else { throw fail("unexpected end of input") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return }
                throw fail("expected ',' or '}'")
            }
        }

        func withBytes<R>(of key: Key, _ body: (UnsafeRawBufferPointer) -> R) -> R {
            switch key {
            case .raw(let range): body(UnsafeRawBufferPointer(rebasing: bytes[range]))
            case .decoded(let k): decodedKeys[k].withUnsafeBytes(body)
            }
        }

        mutating func array(depth: Int) throws(Failure) {
            i += 1
            skipWhitespace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return }
            while true {
                try value(depth: depth + 1)
                skipWhitespace()
                guard i < bytes.count else { throw fail("unexpected end of input") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return }
                throw fail("expected ',' or ']'")
            }
        }

        /// Whether any byte of `w` is `"`, `\\`, below 0x20 or at least 0x80 (bit tricks on all eight
        /// bytes at once; exact, never a false negative).
        @inline(__always) static func hasSpecialByte(_ w: UInt64) -> Bool {
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            func zeroByte(_ x: UInt64) -> UInt64 { (x &- ones) & ~x & highs }
            let control = (w &- ones &* 0x20) & ~w & highs      // some byte < 0x20 (or a borrow from one)
            let quote = zeroByte(w ^ (ones &* 0x22))
            let backslash = zeroByte(w ^ (ones &* 0x5C))
            return (control | quote | backslash | (w & highs)) != 0
        }

        /// Returns the range of the string's raw content, between the quotes.
        mutating func string() throws(Failure) -> Range<Int> {
            i += 1
            let start = i
            stringHadEscape = false
            while i < bytes.count {
                // Fast path: plain ASCII runs, the bulk of event data, eight bytes at a time while
                // none of them is a quote, a backslash, a control character or non-ASCII.
                while bytes.count - i > 8 {
                    let w = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    guard !Self.hasSpecialByte(w) else { break }
                    i += 8
                }
                var c = bytes[i]
                while c >= 0x20 && c < 0x80 && c != 0x22 && c != 0x5C {
                    i += 1
                    if i == bytes.count { throw fail("unterminated string") }
                    c = bytes[i]
                }
                if c == UInt8(ascii: "\"") { i += 1; return start..<(i - 1) }
                if c == UInt8(ascii: "\\") {
                    stringHadEscape = true
                    i += 1
                    guard i < bytes.count else { break }
                    switch bytes[i] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                         UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        i += 1
                    case UInt8(ascii: "u"):
                        let unit = try hex4()
                        if (0xD800...0xDBFF).contains(unit) {
                            guard bytes.count - i >= 2, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                                throw fail("lone high surrogate in \\u escape")
                            }
                            i += 1
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw fail("high surrogate not followed by a low one") }
                        } else if (0xDC00...0xDFFF).contains(unit) {
                            throw fail("lone low surrogate in \\u escape")
                        }
                    default:
                        throw fail("invalid escape")
                    }
                    continue
                }
                if c < 0x20 { throw fail("control character in string") }
                if c < 0x80 { i += 1; continue }
                try utf8Sequence()
            }
            throw fail("unterminated string")
        }

        /// Reads `uXXXX` (i at the `u`) and returns the code unit.
        mutating func hex4() throws(Failure) -> UInt32 {
            i += 1
            guard bytes.count - i >= 4 else { throw fail("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[i]
                let d: UInt32
                switch c {
                case 48...57: d = UInt32(c - 48)
                case 97...102: d = UInt32(c - 87)
                case 65...70: d = UInt32(c - 55)
                default: throw fail("invalid hex digit in \\u escape")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }

        /// Validates one multi-byte UTF-8 sequence (no overlongs, no surrogates, ≤ U+10FFFF).
        mutating func utf8Sequence() throws(Failure) {
            let c = bytes[i]
            func cont(_ k: Int) -> UInt8? { i + k < bytes.count && bytes[i + k] & 0xC0 == 0x80 ? bytes[i + k] : nil }
            switch c {
            case 0xC2...0xDF:
                guard cont(1) != nil else { throw fail("invalid UTF-8") }
                i += 2
            case 0xE0...0xEF:
                guard let b1 = cont(1), cont(2) != nil else { throw fail("invalid UTF-8") }
                if c == 0xE0 && b1 < 0xA0 { throw fail("overlong UTF-8") }
                if c == 0xED && b1 >= 0xA0 { throw fail("UTF-8 encoded surrogate") }
                i += 3
            case 0xF0...0xF4:
                guard let b1 = cont(1), cont(2) != nil, cont(3) != nil else { throw fail("invalid UTF-8") }
                if c == 0xF0 && b1 < 0x90 { throw fail("overlong UTF-8") }
                if c == 0xF4 && b1 >= 0x90 { throw fail("UTF-8 beyond U+10FFFF") }
                i += 4
            default:
                throw fail("invalid UTF-8")
            }
        }

        mutating func number() throws(Failure) {
            if bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count else { throw fail("truncated number") }
            if bytes[i] == UInt8(ascii: "0") {
                i += 1
            } else if (49...57).contains(bytes[i]) {
                while i < bytes.count, (48...57).contains(bytes[i]) { i += 1 }
            } else {
                throw fail("invalid number")
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                guard i < bytes.count, (48...57).contains(bytes[i]) else { throw fail("invalid fraction") }
                while i < bytes.count, (48...57).contains(bytes[i]) { i += 1 }
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                guard i < bytes.count, (48...57).contains(bytes[i]) else { throw fail("invalid exponent") }
                while i < bytes.count, (48...57).contains(bytes[i]) { i += 1 }
            }
        }
    }
}
