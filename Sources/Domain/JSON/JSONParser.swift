/// A strict JSON parser (RFC 8259) over bytes.
///
/// Stricter than `JSONSerialization` on purpose, because what it accepts is kept for years:
/// it refuses duplicate keys, invalid UTF-8, lone surrogates, control characters in strings,
/// nesting deeper than 32 levels and anything after the value but whitespace.
struct JSONParser {
    struct SyntaxError: Error, Equatable {
        var offset: Int
        var reason: String
    }

    static let maximumDepth = 32

    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    private var depth = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Parses one complete document.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(SyntaxError) -> JSONValue {
        var parser = JSONParser(bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue()
        parser.skipWhitespace()
        guard parser.position == bytes.count else {
            throw SyntaxError(offset: parser.position, reason: "unexpected characters after the JSON value")
        }
        return value
    }

    /// The same, with the members of an object document written into `storage` (emptied first,
    /// its capacity kept) and returned as `.object` sharing that storage. The audit's rule
    /// replay parses millions of objects one after the other: reusing one buffer spares a heap
    /// allocation per event, provided the caller lets go of the returned value before the next call.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, reusing storage: inout [JSONMember]) throws(SyntaxError) -> JSONValue {
        var parser = JSONParser(bytes)
        parser.skipWhitespace()
        let value: JSONValue
        if parser.position < bytes.count, bytes[parser.position] == UInt8(ascii: "{") {
            storage.removeAll(keepingCapacity: true)
            try parser.parseMembers(into: &storage)
            value = .object(storage)
        } else {
            value = try parser.parseValue()
        }
        parser.skipWhitespace()
        guard parser.position == bytes.count else {
            throw SyntaxError(offset: parser.position, reason: "unexpected characters after the JSON value")
        }
        return value
    }

    private func fail(_ reason: String) -> SyntaxError { SyntaxError(offset: position, reason: reason) }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    private mutating func parseValue() throws(SyntaxError) -> JSONValue {
        guard position < bytes.count else { throw fail("unexpected end of data, a value was expected") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw fail("unexpected character, a value was expected")
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(SyntaxError) {
        let count = literal.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw fail("unexpected end of data in a literal") }
        for i in 0..<count where bytes[position + i] != literal.utf8Start[i] {
            throw fail("invalid literal")
        }
        position += count
    }

    private mutating func enter() throws(SyntaxError) {
        depth += 1
        guard depth <= Self.maximumDepth else { throw fail("nesting deeper than \(Self.maximumDepth) levels") }
    }

    private mutating func parseObject() throws(SyntaxError) -> JSONValue {
        var members: [JSONMember] = []
        members.reserveCapacity(12)
        try parseMembers(into: &members)
        return .object(members)
    }

    /// Parses the object at `position` (its opening brace), appending its members to `members`,
    /// which must be empty.
    private mutating func parseMembers(into members: inout [JSONMember]) throws(SyntaxError) {
        try enter()
        position += 1
        var seenKeys: UInt64 = 0
        var sawEscapedKey = false
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            depth -= 1
            return
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw fail("an object key (a string) was expected") }
            let keyOffset = position
            let key = try parseString()
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw fail("':' was expected after an object key") }
            position += 1
            skipWhitespace()
            let value = try parseValue()
            // A cheap fingerprint of each key skips the pairwise comparison unless two keys might be equal.
            let keyBit: UInt64 = key.hasEscapes ? 1 : 1 << UInt64((key.byteCount &* 7 &+ Int(key.byteCount > 0 ? bytes[key.end - 1] : 0)) & 63)
            if seenKeys & keyBit != 0 || key.hasEscapes || sawEscapedKey {
                for existing in members where sameKey(existing.key, key) {
                    throw SyntaxError(offset: keyOffset, reason: "duplicate key \"\(JSONText.string(key, in: bytes))\"")
                }
            }
            seenKeys |= keyBit
            sawEscapedKey = sawEscapedKey || key.hasEscapes
            members.append(JSONMember(key: key, value: value))
            skipWhitespace()
            guard position < bytes.count else { throw fail("unexpected end of data in an object") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "}") { position += 1; break }
            throw fail("',' or '}' was expected in an object")
        }
        depth -= 1
    }

    private func sameKey(_ a: JSONSpan, _ b: JSONSpan) -> Bool {
        if a.hasEscapes || b.hasEscapes { return JSONText.string(a, in: bytes) == JSONText.string(b, in: bytes) }
        guard a.byteCount == b.byteCount else { return false }
        return memcmpEqual(bytes, a.start, b.start, a.byteCount)
    }

    private mutating func parseArray() throws(SyntaxError) -> JSONValue {
        try enter()
        position += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            guard position < bytes.count else { throw fail("unexpected end of data in an array") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "]") { position += 1; break }
            throw fail("',' or ']' was expected in an array")
        }
        depth -= 1
        return .array(elements)
    }

    /// Scans a string, checking escapes and UTF-8 as it goes, and returns the span inside the quotes.
    private mutating func parseString() throws(SyntaxError) -> JSONSpan {
        position += 1
        let start = position
        var hasEscapes = false
        // Fast path: the plain ASCII that hashes, UUIDs, dates and codes are made of.
        if let base = bytes.baseAddress {
            var index = position
            let end = bytes.count
            // Eight bytes at a time while none of them is a quote, a backslash, a control or non-ASCII
            // byte; the first one that is ends the scan exactly where it lies, for the loop below.
            var found = false
            while index + 8 <= end {
                let word = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
                let flags = JSONParser.attentionFlags(word)
                if flags != 0 {
                    index += flags.trailingZeroBitCount >> 3
                    found = true
                    break
                }
                index += 8
            }
            while !found, index < end {
                let byte = base[index]
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 || byte >= 0x80 { break }
                index += 1
            }
            position = index
        }
        while true {
            guard position < bytes.count else { throw fail("unterminated string") }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let span = JSONSpan(start: start, end: position, hasEscapes: hasEscapes)
                position += 1
                return span
            }
            if byte == UInt8(ascii: "\\") {
                hasEscapes = true
                try scanEscape()
            } else if byte < 0x20 {
                throw fail("control character in a string; it must be escaped")
            } else if byte < 0x80 {
                position += 1
            } else {
                try scanUTF8Sequence()
            }
        }
    }

    private mutating func scanEscape() throws(SyntaxError) {
        guard position + 1 < bytes.count else { throw fail("unterminated escape") }
        switch bytes[position + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
             UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            position += 2
        case UInt8(ascii: "u"):
            let unit = try hexUnit(at: position + 2)
            position += 6
            if (0xD800...0xDBFF).contains(unit) {
                guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u"),
                      (0xDC00...0xDFFF).contains(try hexUnit(at: position + 2))
                else { throw fail("a high surrogate escape must be followed by a low surrogate escape") }
                position += 6
            } else if (0xDC00...0xDFFF).contains(unit) {
                throw fail("lone low surrogate escape")
            }
        default:
            throw fail("invalid escape sequence")
        }
    }

    private func hexUnit(at offset: Int) throws(SyntaxError) -> UInt16 {
        guard offset + 4 <= bytes.count else { throw SyntaxError(offset: offset, reason: "truncated \\u escape") }
        var value: UInt16 = 0
        for i in offset..<(offset + 4) {
            guard let nibble = anyCaseHexValue(bytes[i]) else {
                throw SyntaxError(offset: i, reason: "invalid hex digit in a \\u escape")
            }
            value = value << 4 | UInt16(nibble)
        }
        return value
    }

    /// Checks one multi-byte UTF-8 sequence, refusing overlong forms, surrogates and values past U+10FFFF.
    private mutating func scanUTF8Sequence() throws(SyntaxError) {
        let lead = bytes[position]
        let length: Int
        var lowerBound: UInt8 = 0x80, upperBound: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lowerBound = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; upperBound = 0x9F
        case 0xF0: length = 4; lowerBound = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; upperBound = 0x8F
        default: throw fail("invalid UTF-8")
        }
        guard position + length <= bytes.count else { throw fail("truncated UTF-8 sequence") }
        let second = bytes[position + 1]
        guard second >= lowerBound, second <= upperBound else { throw fail("invalid UTF-8") }
        for i in 2..<length where bytes[position + i] & 0xC0 != 0x80 {
            throw fail("invalid UTF-8")
        }
        position += length
    }

    private mutating func parseNumber() throws(SyntaxError) -> JSONValue {
        let start = position
        var negative = false
        if bytes[position] == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        guard position < bytes.count, isDigit(bytes[position]) else { throw fail("a digit was expected in a number") }
        var magnitude: UInt64 = 0
        var overflow = false
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
            if position < bytes.count, isDigit(bytes[position]) { throw fail("leading zeros are not allowed in a number") }
        } else {
            while position < bytes.count, isDigit(bytes[position]) {
                let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(bytes[position] - UInt8(ascii: "0")))
                overflow = overflow || o1 || o2
                magnitude = sum
                position += 1
            }
        }
        var isInteger = true
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            guard position < bytes.count, isDigit(bytes[position]) else { throw fail("a digit was expected after the decimal point") }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            isInteger = false
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard position < bytes.count, isDigit(bytes[position]) else { throw fail("a digit was expected in an exponent") }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if isInteger, !overflow {
            if negative, magnitude <= UInt64(Int64.max) + 1 { return .integer(magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(magnitude)) }
            if !negative, magnitude <= UInt64(Int64.max) { return .integer(Int64(magnitude)) }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw SyntaxError(offset: start, reason: "number out of range") }
        return .number(value)
    }

    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// The high bit of every byte of `word` (little-endian) that is `"`, `\\`, below 0x20 or above
    /// 0x7F, at least up to the first such byte: the classic SWAR tests, whose borrows can only
    /// raise false flags above a true one, so the lowest flag is always exactly the first byte.
    @inline(__always) static func attentionFlags(_ word: UInt64) -> UInt64 {
        func zeroBytes(_ x: UInt64) -> UInt64 { (x &- ones) & ~x & highBits }
        let quote = zeroBytes(word ^ (ones &* 0x22))
        let backslash = zeroBytes(word ^ (ones &* 0x5C))
        let control = (word &- ones &* 0x20) & ~word & highBits
        return quote | backslash | control | (word & highBits)
    }

    @inline(__always) private func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }
}

@inline(__always)
func memcmpEqual(_ bytes: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int, _ count: Int) -> Bool {
    var i = 0
    while i < count {
        if bytes[a + i] != bytes[b + i] { return false }
        i += 1
    }
    return true
}

/// Turning spans back into text.
enum JSONText {
    /// The decoded content of a string span; the parser has already checked it, so this cannot fail.
    static func string(_ span: JSONSpan, in bytes: UnsafeBufferPointer<UInt8>) -> String {
        let raw = UnsafeBufferPointer(rebasing: bytes[span.start..<span.end])
        guard span.hasEscapes else { return String(decoding: raw, as: UTF8.self) }
        var scalars = String.UnicodeScalarView()
        var out = [UInt8]()
        var i = 0
        func flush() {
            if !out.isEmpty { scalars.append(contentsOf: String(decoding: out, as: UTF8.self).unicodeScalars); out.removeAll() }
        }
        func unit(at offset: Int) -> UInt32 {
            var value: UInt32 = 0
            for j in offset..<(offset + 4) { value = value << 4 | UInt32(anyCaseHexValue(raw[j]) ?? 0) }
            return value
        }
        while i < raw.count {
            let byte = raw[i]
            guard byte == UInt8(ascii: "\\") else { out.append(byte); i += 1; continue }
            let escaped = raw[i + 1]
            switch escaped {
            case UInt8(ascii: "b"): out.append(0x08); i += 2
            case UInt8(ascii: "f"): out.append(0x0C); i += 2
            case UInt8(ascii: "n"): out.append(0x0A); i += 2
            case UInt8(ascii: "r"): out.append(0x0D); i += 2
            case UInt8(ascii: "t"): out.append(0x09); i += 2
            case UInt8(ascii: "u"):
                var value = unit(at: i + 2)
                i += 6
                if (0xD800...0xDBFF).contains(value) {
                    value = 0x10000 + ((value - 0xD800) << 10) + (unit(at: i + 2) - 0xDC00)
                    i += 6
                }
                flush()
                scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
            default: out.append(escaped); i += 2
            }
        }
        flush()
        return String(scalars)
    }

    /// Whether an unescaped span holds exactly `literal`; escaped spans are compared after decoding.
    @inline(__always)
    static func span(_ span: JSONSpan, in bytes: UnsafeBufferPointer<UInt8>, equals literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        if span.hasEscapes { return string(span, in: bytes) == literal.description }
        guard span.byteCount == count else { return false }
        let pointer = literal.utf8Start
        var i = 0
        while i < count {
            if bytes[span.start + i] != pointer[i] { return false }
            i += 1
        }
        return true
    }
}

/// JSON's `\u` escapes allow both cases of hex digits, unlike hashes and UUIDs.
@inline(__always)
func anyCaseHexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte &- UInt8(ascii: "A") &+ 10
    default: lowercaseHexValue(byte)
    }
}
