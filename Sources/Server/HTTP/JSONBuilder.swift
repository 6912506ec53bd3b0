/// Builds the server's own JSON (responses and error bodies) byte by byte; event data and
/// metadata are spliced in raw, as stored, never re-serialised.
struct JSONBuilder {
    private(set) var bytes: [UInt8]
    private var needsComma = false

    init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    mutating func key(_ key: String) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
        JSONBuilder.appendString(key, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func field(_ name: String, _ value: String) {
        key(name)
        JSONBuilder.appendString(value, to: &bytes)
    }

    mutating func field(_ name: String, _ value: some BinaryInteger) {
        key(name)
        JSONBuilder.appendDecimal(value, to: &bytes)
    }

    mutating func field(_ name: String, _ value: Double) {
        key(name)
        bytes.append(contentsOf: (value.isFinite ? String(value) : "null").utf8)
    }

    mutating func field(_ name: String, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    mutating func nullField(_ name: String) {
        key(name)
        bytes.append(contentsOf: "null".utf8)
    }

    /// `value` must already be valid JSON.
    mutating func rawField(_ name: String, _ value: some Sequence<UInt8>) {
        key(name)
        bytes.append(contentsOf: value)
    }

    /// A nested object, written in place (no builder of its own to allocate and copy).
    mutating func objectField(_ name: String, _ build: (inout JSONBuilder) -> Void) {
        key(name)
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
        build(&self)
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// A string value written in pieces by `write`, which appends its text JSON-escaped (with
    /// `appendEscaped`) or as ASCII that needs no escape: a message put together from parts
    /// costs no `String` of its own.
    mutating func textField(_ name: String, _ write: (inout [UInt8]) -> Void) {
        key(name)
        bytes.append(UInt8(ascii: "\""))
        write(&bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// An array whose elements are already JSON.
    mutating func arrayField(_ name: String, _ elements: [[UInt8]]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (k, e) in elements.enumerated() {
            if k > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: e)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// The object, closed. Consuming: the bytes are handed over, not copied.
    consuming func finished() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        appendEscaped(text, to: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// The text of a JSON string, without its quotes.
    static func appendEscaped(_ text: String, to out: inout [UInt8]) {
        // Most strings (names, versions, codes) need no escape: copy them whole.
        if !needsEscape(text) {
            out.append(contentsOf: text.utf8)
            return
        }
        for c in text.utf8 {
            switch c {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0x0A: out.append(contentsOf: #"\n"#.utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(c >> 4)])
                out.append(hex[Int(c & 0xF)])
            default: out.append(c)
            }
        }
    }

    private static func needsEscape(_ text: String) -> Bool {
        func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            for c in bytes where c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") { return true }
            return false
        }
        if let found = text.utf8.withContiguousStorageIfAvailable(scan) { return found }
        var copy = text
        return copy.withUTF8(scan)
    }

    /// The integer's decimal digits, written in place: `String(value)` goes through the generic
    /// integer-to-text path and allocates a string for every version and position in an answer.
    static func appendDecimal(_ value: some BinaryInteger, to out: inout [UInt8]) {
        guard let small = UInt64(exactly: value.magnitude) else {
            out.append(contentsOf: String(value).utf8)
            return
        }
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for the 20 digits of UInt64.max
        var count = 0
        var v = small
        withUnsafeMutableBytes(of: &digits) { raw in
            repeat {
                raw[23 - count] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
                v /= 10
                count += 1
            } while v > 0
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[(24 - count)...]))
        }
    }

    static func string(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        appendString(text, to: &out)
        return out
    }
}
