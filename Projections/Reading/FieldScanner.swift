import Foundation
import Domain

/// Where one member's value lies in an event's JSON, and what kind of value it is.
struct ValueSpan {
    enum Kind: UInt8 {
        case plainString, escapedString, number, literalTrue, literalFalse, literalNull, array, object
        /// Quotes at both ends of the length the member's key announces (`KeySet.fixedLength`),
        /// and nothing read in between: only a typed reader that checks every byte of it (`uuid`,
        /// `hash`, `millis`) takes it, and then it is a plain string; everything else refuses it.
        case unverifiedString
    }
    var start: Int
    var end: Int
    var kind: Kind
}

/// The member names of one event type, each followed by its closing quote, in memory that is
/// never freed: compared in words, with no array to retain per event.
struct KeySet: @unchecked Sendable {
    private let bytes: UnsafePointer<UInt8>
    private let starts: UnsafePointer<Int>
    private let fixedLengths: UnsafePointer<UInt8>
    let count: Int

    /// `fixedLengths[k]`, when not 0, is the length of the string that member `k` always holds in
    /// the current schema (a UUID, a hash, a time without fraction): see `FieldScanner.scan`.
    init(_ names: [String], fixedLengths: [UInt8] = []) {
        precondition(fixedLengths.isEmpty || fixedLengths.count == names.count)
        let lengths = UnsafeMutablePointer<UInt8>.allocate(capacity: max(names.count, 1))
        lengths.initialize(repeating: 0, count: max(names.count, 1))
        for (k, n) in fixedLengths.enumerated() { lengths[k] = n }
        self.fixedLengths = UnsafePointer(lengths)
        let all = names.flatMap { Array($0.utf8) + [UInt8(ascii: "\"")] }
        let b = UnsafeMutablePointer<UInt8>.allocate(capacity: max(all.count, 1))
        b.initialize(from: all, count: all.count)
        var offsets = [0]
        for name in names { offsets.append(offsets.last! + name.utf8.count + 1) }
        let o = UnsafeMutablePointer<Int>.allocate(capacity: offsets.count)
        o.initialize(from: offsets, count: offsets.count)
        bytes = UnsafePointer(b)
        starts = UnsafePointer(o)
        count = names.count
    }

    @inline(__always) func fixedLength(_ k: Int) -> Int { Int(fixedLengths[k]) }

    /// The name's length with its closing quote.
    @inline(__always) func length(_ k: Int) -> Int { starts[k + 1] - starts[k] }

    /// Whether the name and its closing quote are the bytes at `p`. Compared in words, the last
    /// one overlapping the one before rather than byte by byte; nothing past the name is read.
    @inline(__always) func matches(_ k: Int, _ p: UnsafeRawPointer) -> Bool {
        let n = length(k)
        let key = UnsafeRawPointer(bytes + starts[k])
        @inline(__always) func same64(_ at: Int) -> Bool {
            key.loadUnaligned(fromByteOffset: at, as: UInt64.self) == p.loadUnaligned(fromByteOffset: at, as: UInt64.self)
        }
        @inline(__always) func same32(_ at: Int) -> Bool {
            key.loadUnaligned(fromByteOffset: at, as: UInt32.self) == p.loadUnaligned(fromByteOffset: at, as: UInt32.self)
        }
        @inline(__always) func same16(_ at: Int) -> Bool {
            key.loadUnaligned(fromByteOffset: at, as: UInt16.self) == p.loadUnaligned(fromByteOffset: at, as: UInt16.self)
        }
        if n >= 8 {
            var j = 0
            while j + 8 < n {
                if !same64(j) { return false }
                j += 8
            }
            return same64(n - 8)
        }
        if n >= 4 { return same32(0) && same32(n - 4) }
        if n >= 2 { return same16(0) && same16(n - 2) }
        return n == 0 || key.load(as: UInt8.self) == p.load(as: UInt8.self)
    }

    /// Whether name `k` is exactly the `n` bytes at `p` (its quote is not compared).
    @inline(__always) func spells(_ k: Int, _ p: UnsafeRawPointer, _ n: Int) -> Bool {
        length(k) == n + 1 && memcmp(bytes + starts[k], p, n) == 0
    }

    /// The index of the name that is exactly the `n` bytes at `p`.
    func index(_ p: UnsafeRawPointer, _ n: Int) -> Int? {
        for k in 0..<count where length(k) == n + 1 && memcmp(bytes + starts[k], p, n) == 0 { return k }
        return nil
    }
}

/// A strict reader for the flat JSON objects of the event catalogue, that builds nothing.
///
/// The projections read a few fields of every event at millions of events a second, which the
/// full decoder (a tree, every field typed and range-checked) cannot do. This reader is strict
/// about what it reads: the object must be well-formed, every key must be one the event type
/// declares, no key may repeat, and each field it uses must have exactly the journal's spelling
/// (canonical lowercase UUIDs, 64 lowercase hex characters, `…Z` times). Whatever it does not
/// accept is handed to the full decoder, which either reads it (older schema versions, escaped
/// strings) or names the problem. Fields it does not use are checked for syntax only.
enum FieldScanner {
    /// Fills `spans[i]` for each member whose key is `keys[i]`; returns the mask of keys found, or
    /// `nil` when the bytes are not one object of known, distinct keys.
    static func scan(_ b: UnsafeRawBufferPointer, keys: KeySet, into spans: UnsafeMutableBufferPointer<ValueSpan>) -> UInt32? {
        var i = skipSpace(b, 0)
        guard i < b.count, b[i] == UInt8(ascii: "{") else { return nil }
        i = skipSpace(b, i + 1)
        var found: UInt32 = 0
        var expected = 0
        if i < b.count, b[i] == UInt8(ascii: "}") {
            return skipSpace(b, i + 1) == b.count ? found : nil
        }
        let base = b.baseAddress!
        while true {
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
            let keyStart = i + 1
            let index: Int
            let keyEnd: Int
            // Writers emit members in catalogue order: the expected key, with its closing quote,
            // is nearly always next. A key holds no quote, so matching those bytes is a full read of it.
            if expected < keys.count, keyStart + keys.length(expected) < b.count,
               keys.matches(expected, base + keyStart) {
                index = expected
                keyEnd = keyStart + keys.length(expected) - 1
            } else {
                var end = keyStart
                while end < b.count, b[end] != UInt8(ascii: "\"") {
                    guard b[end] != UInt8(ascii: "\\"), b[end] >= 0x20 else { return nil }
                    end += 1
                }
                guard end < b.count, let k = keys.index(base + keyStart, end - keyStart) else { return nil }
                index = k
                keyEnd = end
            }
            guard found & (1 << UInt32(index)) == 0 else { return nil }
            found |= 1 << UInt32(index)
            expected = index + 1
            i = skipSpace(b, keyEnd + 1)
            guard i < b.count, b[i] == UInt8(ascii: ":") else { return nil }
            i = skipSpace(b, i + 1)
            // A member of fixed length (a UUID, a hash, a time) with quotes where they belong is
            // taken unread: the typed reader that must accept it checks every byte between them,
            // and any byte that is not a hex digit, a dash or a time's own is refused there, so a
            // quote or a backslash inside sends the whole event to the full decoder. Other plain
            // strings are read inline, and anything else (or a string with an escape or a
            // control character) through the general `value`.
            let fixed = keys.fixedLength(index)
            let span: ValueSpan
            if fixed > 0, i + fixed + 1 < b.count, b[i] == UInt8(ascii: "\""), b[i + fixed + 1] == UInt8(ascii: "\"") {
                span = ValueSpan(start: i, end: i + fixed + 2, kind: .unverifiedString)
            } else if i + 1 < b.count, b[i] &- UInt8(ascii: "1") < 9, b[i + 1] == UInt8(ascii: ",") || b[i + 1] == UInt8(ascii: "}") {
                // One digit from 1 to 9 and the end of the member (every event's `schemaVersion`):
                // the whole number, as `numberEnd` would find it.
                span = ValueSpan(start: i, end: i + 1, kind: .number)
            } else {
                guard let read = plainString(b, at: i) ?? value(b, at: i, depth: 0) else { return nil }
                span = read
            }
            spans[index] = span
            i = skipSpace(b, span.end)
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: ",") {
                i = skipSpace(b, i + 1)
                continue
            }
            guard b[i] == UInt8(ascii: "}") else { return nil }
            return skipSpace(b, i + 1) == b.count ? found : nil
        }
    }

    @inline(__always)
    static func skipSpace(_ b: UnsafeRawBufferPointer, _ start: Int) -> Int {
        var i = start
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        return i
    }

    /// The value starting at `i`, checked for JSON syntax; `nil` if it is not one.
    private static func value(_ b: UnsafeRawBufferPointer, at i: Int, depth: Int) -> ValueSpan? {
        guard i < b.count else { return nil }
        switch b[i] {
        case UInt8(ascii: "\""):
            var j = i + 1
            var escaped = false
            // Eight bytes at a time while none is a quote, a backslash or a control character;
            // then straight to the first that is.
            while j + 8 <= b.count {
                let special = specialBytes(b, j)
                if special != 0 {
                    j += special.trailingZeroBitCount >> 3
                    break
                }
                j += 8
            }
            while j < b.count {
                let c = b[j]
                if c == UInt8(ascii: "\"") { return ValueSpan(start: i, end: j + 1, kind: escaped ? .escapedString : .plainString) }
                guard c >= 0x20 else { return nil }
                if c == UInt8(ascii: "\\") {
                    escaped = true
                    guard j + 1 < b.count else { return nil }
                    switch b[j + 1] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                         UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        j += 2
                    case UInt8(ascii: "u"):
                        guard j + 5 < b.count else { return nil }
                        for k in (j + 2)...(j + 5) where hexValue(b[k]) == nil { return nil }
                        j += 6
                    default:
                        return nil
                    }
                    continue
                }
                j += 1
            }
            return nil
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            guard let end = numberEnd(b, i) else { return nil }
            return ValueSpan(start: i, end: end, kind: .number)
        case UInt8(ascii: "t"):
            return literal(b, i, "true", .literalTrue)
        case UInt8(ascii: "f"):
            return literal(b, i, "false", .literalFalse)
        case UInt8(ascii: "n"):
            return literal(b, i, "null", .literalNull)
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            guard depth < 8 else { return nil }
            let isArray = b[i] == UInt8(ascii: "[")
            let close = isArray ? UInt8(ascii: "]") : UInt8(ascii: "}")
            var j = skipSpace(b, i + 1)
            guard j < b.count else { return nil }
            if b[j] == close { return ValueSpan(start: i, end: j + 1, kind: isArray ? .array : .object) }
            while true {
                if !isArray {
                    guard let key = value(b, at: j, depth: depth + 1), key.kind == .plainString || key.kind == .escapedString else { return nil }
                    j = skipSpace(b, key.end)
                    guard j < b.count, b[j] == UInt8(ascii: ":") else { return nil }
                    j = skipSpace(b, j + 1)
                }
                guard let element = value(b, at: j, depth: depth + 1) else { return nil }
                j = skipSpace(b, element.end)
                guard j < b.count else { return nil }
                if b[j] == UInt8(ascii: ",") { j = skipSpace(b, j + 1); continue }
                guard b[j] == close else { return nil }
                return ValueSpan(start: i, end: j + 1, kind: isArray ? .array : .object)
            }
        default:
            return nil
        }
    }

    /// Non-zero when some byte of `x` is zero (exact as a yes/no answer). A borrow can flag a
    /// byte above a zero one, never below: the lowest flagged byte is always a zero byte.
    @inline(__always) private static func hasZeroByte(_ x: UInt64) -> UInt64 {
        (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
    }

    /// The eight bytes at `j` (little-endian) with the top bit of each quote, backslash or
    /// control character set: the lowest set bit is the first such byte, and none is before it.
    @inline(__always) private static func specialBytes(_ b: UnsafeRawBufferPointer, _ j: Int) -> UInt64 {
        let w = UInt64(littleEndian: b.loadUnaligned(fromByteOffset: j, as: UInt64.self))
        return hasZeroByte(w ^ 0x2222_2222_2222_2222) | hasZeroByte(w ^ 0x5C5C_5C5C_5C5C_5C5C)
            | ((w &- 0x2020_2020_2020_2020) & ~w & 0x8080_8080_8080_8080)
    }

    /// A string starting at `i` without escapes or control characters, read eight bytes at a
    /// time; `nil` for anything else, which `value` then reads (and accepts or refuses).
    @inline(__always) private static func plainString(_ b: UnsafeRawBufferPointer, at i: Int) -> ValueSpan? {
        guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
        var j = i + 1
        while j + 8 <= b.count {
            let special = specialBytes(b, j)
            if special != 0 {
                let k = j + special.trailingZeroBitCount >> 3
                return b[k] == UInt8(ascii: "\"") ? ValueSpan(start: i, end: k + 1, kind: .plainString) : nil
            }
            j += 8
        }
        return nil
    }

    private static func literal(_ b: UnsafeRawBufferPointer, _ i: Int, _ word: StaticString, _ kind: ValueSpan.Kind) -> ValueSpan? {
        let n = word.utf8CodeUnitCount
        guard b.count - i >= n else { return nil }
        for k in 0..<n where b[i + k] != word.utf8Start[k] { return nil }
        return ValueSpan(start: i, end: i + n, kind: kind)
    }

    /// The end of a JSON number starting at `i` (RFC 8259 grammar).
    private static func numberEnd(_ b: UnsafeRawBufferPointer, _ start: Int) -> Int? {
        var i = start
        if b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < b.count, isDigit(b[i]) else { return nil }
        if b[i] == UInt8(ascii: "0") { i += 1 } else { while i < b.count, isDigit(b[i]) { i += 1 } }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            guard i < b.count, isDigit(b[i]) else { return nil }
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard i < b.count, isDigit(b[i]) else { return nil }
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        return i
    }

    @inline(__always) private static func isDigit(_ c: UInt8) -> Bool { c &- UInt8(ascii: "0") < 10 }

    @inline(__always) static func hexValue(_ c: UInt8) -> UInt8? {
        let d = c &- UInt8(ascii: "0")
        if d < 10 { return d }
        let l = (c | 0x20) &- UInt8(ascii: "a")
        return l < 6 ? l &+ 10 : nil
    }

    @inline(__always) static func lowercaseHexValue(_ c: UInt8) -> UInt8? {
        let d = c &- UInt8(ascii: "0")
        if d < 10 { return d }
        let l = c &- UInt8(ascii: "a")
        return l < 6 ? l &+ 10 : nil
    }

    // MARK: - Typed values, each in the journal's one spelling

    /// Eight lowercase hex characters, loaded little-endian (the first in the low byte), as the
    /// 32-bit number they spell; `bad` gets a bit set when any of them is not one. Eight
    /// characters in a dozen word operations, where a table lookup per character took four
    /// times as many.
    @inline(__always) static func hex8(_ w: UInt64, _ bad: inout UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101, high: UInt64 = 0x8080_8080_8080_8080
        // Below 0x80, adding 0x80 − lo sets a byte's top bit iff the byte is ≥ lo, with no
        // carry into the next byte; any byte ≥ 0x80 is refused by `w & high` whatever the rest.
        let digit = (w &+ 0x50 &* ones) & ~(w &+ 0x46 &* ones)   // "0"..."9": 0x30...0x39
        let letter = (w &+ 0x1F &* ones) & ~(w &+ 0x19 &* ones)  // "a"..."f": 0x61...0x66
        bad |= (w & high) | (((digit | letter) & high) ^ high)
        // Digits have bit 6 clear, letters set: value = low nibble, + 9 for a letter.
        var v = (w & 0x0F0F_0F0F_0F0F_0F0F) &+ ((w >> 6) & ones) &* 9
        v = ((v << 4) | (v >> 8)) & 0x00FF_00FF_00FF_00FF   // pairs of nibbles into bytes
        v = (v | (v >> 8)) & 0x0000_FFFF_0000_FFFF
        v = (v | (v >> 16)) & 0xFFFF_FFFF
        return UInt64(UInt32(truncatingIfNeeded: v).byteSwapped)
    }

    @inline(__always) private static func load64(_ p: UnsafePointer<UInt8>) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt64.self))
    }

    @inline(__always) private static func load32(_ p: UnsafePointer<UInt8>) -> UInt64 {
        UInt64(UInt32(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt32.self)))
    }

    /// A canonical lowercase UUID string.
    static func uuid(_ b: UnsafeRawBufferPointer, _ s: ValueSpan) -> UUID? {
        guard s.kind == .plainString || s.kind == .unverifiedString, s.end - s.start == 38 else { return nil }
        let base = b.baseAddress!.assumingMemoryBound(to: UInt8.self) + s.start + 1
        guard base[8] == UInt8(ascii: "-"), base[13] == UInt8(ascii: "-"), base[18] == UInt8(ascii: "-"), base[23] == UInt8(ascii: "-") else { return nil }
        var bad: UInt64 = 0
        // 8-4-4-4-12 hex digits: two big-endian words, each from two runs of eight characters.
        let high = hex8(load64(base), &bad) << 32 | hex8(load32(base + 9) | load32(base + 14) << 32, &bad)
        let low = hex8(load32(base + 19) | load32(base + 24) << 32, &bad) << 32 | hex8(load64(base + 28), &bad)
        guard bad == 0 else { return nil }
        // `UUID` is its 16 bytes (`uuid_t`) and nothing else; `UUID(uuid:)` is a call into
        // Foundation that cannot be inlined, once per UUID read. `unsafeBitCast` checks the sizes.
        return unsafeBitCast((high.bigEndian, low.bigEndian), to: UUID.self)
    }

    /// Exactly 64 lowercase hex characters.
    static func hash(_ b: UnsafeRawBufferPointer, _ s: ValueSpan) -> HashKey? {
        guard s.kind == .plainString || s.kind == .unverifiedString, s.end - s.start == 66 else { return nil }
        let base = b.baseAddress!.assumingMemoryBound(to: UInt8.self) + s.start + 1
        var bad: UInt64 = 0
        @inline(__always) func word(_ at: Int) -> UInt64 { hex8(load64(base + at), &bad) << 32 | hex8(load64(base + at + 8), &bad) }
        let key = HashKey(w0: word(0), w1: word(16), w2: word(32), w3: word(48))
        return bad == 0 ? key : nil
    }

    /// `YYYY-MM-DDTHH:MM:SS[.f…]Z` as milliseconds since the epoch, rounded as the catalogue rounds.
    ///
    /// The first twenty characters are checked and read as three words: the separators compared
    /// under a mask, the fourteen digits checked together, then each taken from its byte. The
    /// journal's times jump between days from one field to the next (a booking's time and its
    /// appointment's), so there is no last date worth remembering.
    static func millis(_ b: UnsafeRawBufferPointer, _ s: ValueSpan) -> Int64? {
        let count = s.end - s.start - 2
        // An unverified span is taken only at 20 characters, every one of which is checked below.
        guard s.kind == .plainString || (s.kind == .unverifiedString && count == 20), count >= 20, count <= 30 else { return nil }
        let p = b.baseAddress!.assumingMemoryBound(to: UInt8.self) + s.start + 1
        guard p[count - 1] == UInt8(ascii: "Z") else { return nil }
        // "YYYY-MM-", "DDTHH:MM", ":SS" and the byte after it, each byte XOR "0": a digit becomes 0...9.
        let zeros: UInt64 = 0x3030_3030_3030_3030
        let x0 = load64(p) ^ zeros, x1 = load64(p + 8) ^ zeros, x2 = load32(p + 16) ^ (zeros & 0xFFFF_FFFF)
        // Separators, already XORed with "0": "-" at 4 and 7; "T" at 10 and ":" at 13; ":" at 16.
        let separators = (x0 & 0xFF00_00FF_0000_0000) ^ 0x1D00_001D_0000_0000
            | (x1 & 0x0000_FF00_00FF_0000) ^ 0x0000_0A00_0064_0000
            | (x2 & 0xFF) ^ 0x0A
        // A byte below 10 stays below 0x80 when 0x76 is added; any other byte, or one with its top
        // bit set, sets its top bit. Separators are right when this matters, and none carries.
        let high: UInt64 = 0x8080_8080_8080_8080, ten: UInt64 = 0x7676_7676_7676_7676
        let notDigits = (((x0 &+ ten) | x0) & high & 0x0080_8000_8080_8080)
            | (((x1 &+ ten) | x1) & high & 0x8080_0080_8000_8080)
            | (((x2 &+ ten) | x2) & 0x0080_8000)
        guard separators | notDigits == 0 else { return nil }
        @inline(__always) func digit(_ x: UInt64, _ k: UInt64) -> Int { Int(truncatingIfNeeded: (x >> (8 * k)) & 0xF) }
        let year = digit(x0, 0) * 1000 + digit(x0, 1) * 100 + digit(x0, 2) * 10 + digit(x0, 3)
        let month = digit(x0, 5) * 10 + digit(x0, 6), day = digit(x1, 0) * 10 + digit(x1, 1)
        let hour = digit(x1, 3) * 10 + digit(x1, 4), minute = digit(x1, 6) * 10 + digit(x1, 7)
        let second = digit(x2, 1) * 10 + digit(x2, 2)
        guard (1...12).contains(month), day >= 1, day <= CivilCalendar.daysIn(month: month, year: year),
              hour < 24, minute < 60, second < 60 else { return nil }
        var milliseconds = 0
        if count > 20 {
            @inline(__always) func digits(_ start: Int, _ n: Int) -> Int? {
                var v = 0
                for k in start..<(start + n) {
                    let d = p[k] &- UInt8(ascii: "0")
                    guard d < 10 else { return nil }
                    v = v * 10 + Int(d)
                }
                return v
            }
            guard p[19] == UInt8(ascii: "."), count >= 22, let fraction = digits(20, count - 21) else { return nil }
            milliseconds = Int((Double(fraction) / pow(10, Double(count - 21)) * 1000).rounded())
        }
        let days = CivilCalendar.daysFromCivil(year: year, month: month, day: day)
        return Int64(days * 86_400 + hour * 3600 + minute * 60 + second) * 1000 + Int64(milliseconds)
    }

    /// A JSON integer without fraction or exponent.
    static func integer(_ b: UnsafeRawBufferPointer, _ s: ValueSpan) -> Int? {
        guard s.kind == .number, s.end - s.start <= 18 else { return nil }
        var i = s.start
        let negative = b[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        var v = 0
        while i < s.end {
            let d = b[i] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            v = v * 10 + Int(d)
            i += 1
        }
        return negative ? -v : v
    }

    static func boolean(_ s: ValueSpan) -> Bool? {
        switch s.kind {
        case .literalTrue: true
        case .literalFalse: false
        default: nil
        }
    }

    /// The string's bytes without its quotes, when it has no escapes.
    static func plainBytes(_ b: UnsafeRawBufferPointer, _ s: ValueSpan) -> UnsafeRawBufferPointer? {
        guard s.kind == .plainString else { return nil }
        return UnsafeRawBufferPointer(rebasing: b[(s.start + 1)..<(s.end - 1)])
    }
}

/// The proleptic Gregorian calendar in UTC, by day numbers: Domain's `UTCTime` holds the
/// algorithms; this adds the millisecond helpers the fast reader needs.
enum CivilCalendar {
    @inline(__always) static func daysIn(month: Int, year: Int) -> Int { UTCTime.daysIn(month: month, year: year) }

    @inline(__always) static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        UTCTime.daysFromCivil(year: year, month: month, day: day)
    }

    @inline(__always) static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) { UTCTime.civilFromDays(days) }

    /// The UTC day number of a time in milliseconds.
    @inline(__always) static func day(ofMillis ms: Int64) -> Int32 {
        Int32((ms >= 0 ? ms : ms - 86_399_999) / 86_400_000)
    }

    /// `YYYY-MM` as one number (year × 12 + month − 1), for grouping by month.
    static func monthIndex(ofMillis ms: Int64) -> Int32 { monthIndex(ofDay: day(ofMillis: ms)) }

    static func monthIndex(ofDay day: Int32) -> Int32 {
        let (y, m, _) = civilFromDays(Int(day))
        return Int32(y * 12 + m - 1)
    }

    static func dayString(_ day: Int32) -> String {
        let (y, m, d) = civilFromDays(Int(day))
        return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2)
    }

    static func monthString(_ index: Int32) -> String {
        let y = Int(index) / 12, m = Int(index) % 12 + 1
        return pad(y, 4) + "-" + pad(m, 2)
    }

    /// `YYYY-MM-DDTHH:MM:SS[.mmm]Z`, the catalogue's spelling.
    static func timeString(millis ms: Int64) -> String {
        let milliseconds = Int(((ms % 1000) + 1000) % 1000)
        let seconds = Int((ms - Int64(milliseconds)) / 1000)
        let secondOfDay = ((seconds % 86_400) + 86_400) % 86_400
        let days = (seconds - secondOfDay) / 86_400
        var out = dayString(Int32(days)) + "T" + pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2)
        if milliseconds != 0 { out += "." + pad(milliseconds, 3) }
        return out + "Z"
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
