import Foundation
import Testing
@testable import Projections

/// The word-at-a-time readers of the light JSON reader, against plain reference readings.
@Suite("Field scanner")
struct FieldScannerTests {
    static let hexDigits = Array("0123456789abcdef".utf8)

    /// The reference: lowercase hex only, one character at a time.
    static func referenceHex(_ chars: ArraySlice<UInt8>) -> UInt64? {
        var v: UInt64 = 0
        for c in chars {
            guard let k = hexDigits.firstIndex(of: c) else { return nil }
            v = v << 4 | UInt64(k)
        }
        return v
    }

    static func quoted(_ text: [UInt8]) -> [UInt8] { [UInt8(ascii: "\"")] + text + [UInt8(ascii: "\"")] }

    static func readUUID(_ text: [UInt8]) -> UUID? {
        quoted(text).withUnsafeBytes { FieldScanner.uuid($0, ValueSpan(start: 0, end: text.count + 2, kind: .plainString)) }
    }

    static func readHash(_ text: [UInt8]) -> HashKey? {
        quoted(text).withUnsafeBytes { FieldScanner.hash($0, ValueSpan(start: 0, end: text.count + 2, kind: .plainString)) }
    }

    static func referenceUUID(_ text: [UInt8]) -> UUID? {
        guard text.count == 36 else { return nil }
        for (k, c) in text.enumerated() {
            if [8, 13, 18, 23].contains(k) { guard c == UInt8(ascii: "-") else { return nil } } else { guard hexDigits.contains(c) else { return nil } }
        }
        return UUID(uuidString: String(decoding: text, as: UTF8.self))
    }

    static func referenceHash(_ text: [UInt8]) -> HashKey? {
        guard text.count == 64, let w0 = referenceHex(text[0..<16]), let w1 = referenceHex(text[16..<32]),
              let w2 = referenceHex(text[32..<48]), let w3 = referenceHex(text[48..<64]) else { return nil }
        return HashKey(w0: w0, w1: w1, w2: w2, w3: w3)
    }

    @Test("eight hex characters read as one word: every byte value at every place, against a reference")
    func hexWords() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let valid = (0..<8).map { _ in Self.hexDigits.randomElement(using: &rng)! }
            for place in 0..<8 {
                for byte in 0...255 {
                    var chars = valid
                    chars[place] = UInt8(byte)
                    var bad: UInt64 = 0
                    let word = chars.withUnsafeBytes { FieldScanner.hex8(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)), &bad) }
                    let expected = Self.referenceHex(chars[...])
                    #expect((bad == 0) == (expected != nil), "\(chars)")
                    if let expected { #expect(word == expected) }
                }
            }
        }
    }

    @Test("UUIDs: canonical lowercase ones read as Foundation reads them; a wrong byte anywhere is refused")
    func uuids() {
        for n in 0..<300 {
            let id = UUID()
            let text = Array(id.uuidString.lowercased().utf8)
            #expect(Self.readUUID(text) == id)
            let place = n % 36
            for byte in 0...255 {
                var chars = text
                chars[place] = UInt8(byte)
                #expect(Self.readUUID(chars) == Self.referenceUUID(chars), "\(String(decoding: chars, as: UTF8.self))")
            }
        }
        #expect(Self.readUUID(Array(UUID().uuidString.utf8)) == nil, "uppercase is not the journal's spelling")
        #expect(Self.readUUID(Array("00000000-0000-0000-0000-00000000000".utf8)) == nil)
    }

    @Test("hashes: 64 lowercase hex characters read into four words; a wrong byte anywhere is refused")
    func hashes() {
        var rng = SystemRandomNumberGenerator()
        for n in 0..<300 {
            let text = (0..<64).map { _ in Self.hexDigits.randomElement(using: &rng)! }
            let expected = Self.referenceHash(text)
            #expect(expected != nil && Self.readHash(text) == expected)
            #expect(HashKey(hex: String(decoding: text, as: UTF8.self)) == expected)
            let place = n % 64
            for byte in 0...255 {
                var chars = text
                chars[place] = UInt8(byte)
                #expect(Self.readHash(chars) == Self.referenceHash(chars))
            }
        }
    }

    @Test("a string value ends at its first unescaped quote wherever it falls in a word; escapes and control characters are still caught")
    func stringValues() {
        let keys = KeySet(["a", "b"])
        func scan(_ json: String) -> (found: UInt32, first: ValueSpan, second: ValueSpan)? {
            var spans = [ValueSpan](repeating: ValueSpan(start: 0, end: 0, kind: .literalNull), count: 2)
            let bytes = Array(json.utf8)
            let found = bytes.withUnsafeBytes { b in spans.withUnsafeMutableBufferPointer { FieldScanner.scan(b, keys: keys, into: $0) } }
            return found.map { ($0, spans[0], spans[1]) }
        }
        for length in 0..<40 {
            let text = String(repeating: "x", count: length)
            let json = "{\"a\":\"\(text)\",\"b\":\"y\"}"
            let r = scan(json)
            #expect(r?.found == 3)
            #expect(r?.first.kind == .plainString && r?.first.start == 5 && r?.first.end == 5 + length + 2)
            #expect(r?.second.kind == .plainString && r?.second.end == json.utf8.count - 1)
            for place in 0..<length {
                var chars = Array(text)
                chars[place] = "\\"
                chars.insert("n", at: place + 1)
                let escaped = scan("{\"a\":\"\(String(chars))\",\"b\":1}")
                #expect(escaped?.first.kind == .escapedString && escaped?.found == 3, "escape at \(place)")
                var quote = Array(text)
                quote[place] = "\\"
                quote.insert("\"", at: place + 1)
                #expect(scan("{\"a\":\"\(String(quote))\",\"b\":1}")?.first.kind == .escapedString)
                var control = Array(text.utf8)
                control[place] = 0x1F
                #expect(scan("{\"a\":\"" + String(decoding: control, as: UTF8.self) + "\",\"b\":1}") == nil, "control character at \(place)")
                var bare = Array(text.utf8)
                bare[place] = UInt8(ascii: "\"")
                #expect(scan("{\"a\":\"" + String(decoding: bare, as: UTF8.self) + "\",\"b\":1}") == nil, "stray quote at \(place)")
            }
            #expect(scan("{\"a\":\"\(text)") == nil, "unterminated")
        }
    }
}

@Suite("Key sets")
struct KeySetTests {
    @Test("a name matches exactly its own bytes and closing quote, for every length, and one changed byte anywhere does not")
    func matching() {
        let names = (1...40).map { String(repeating: "k", count: $0 - 1) + String(UnicodeScalar(UInt8(64 + $0 % 26))) }
        let keys = KeySet(names)
        for (k, name) in names.enumerated() {
            let exact = Array(name.utf8) + [UInt8(ascii: "\"")]
            #expect(exact.withUnsafeBytes { keys.matches(k, $0.baseAddress!) })
            #expect(exact.withUnsafeBytes { keys.index($0.baseAddress!, name.utf8.count) } == k)
            for place in exact.indices {
                var changed = exact
                changed[place] ^= 0x01
                #expect(!changed.withUnsafeBytes { keys.matches(k, $0.baseAddress!) }, "\(name) changed at \(place)")
            }
        }
    }
}
