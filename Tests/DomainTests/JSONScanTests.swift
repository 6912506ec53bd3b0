import Foundation
import Testing
@testable import Domain

/// The string scan of the JSON parser jumps to the first byte that needs attention eight bytes at
/// a time; it must land exactly on that byte whatever the bytes around it.
@Suite("JSON string scan")
struct JSONScanTests {
    private static func needsAttention(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 || byte >= 0x80
    }

    @Test("the lowest flag of a word is its first quote, backslash, control or non-ASCII byte")
    func lowestFlagIsFirstSpecialByte() {
        var rng = SystemRandomNumberGenerator()
        let specials: [UInt8] = [0x22, 0x5C, 0x00, 0x01, 0x1F, 0x80, 0xC3, 0xFF]
        let plain: [UInt8] = [0x20, 0x21, 0x23, 0x5B, 0x5D, 0x7F, 0x30, 0x61, 0x2D]
        for _ in 0..<50_000 {
            // Plain bytes, some of them replaced by special ones: all positions and mixes.
            var bytes = (0..<8).map { _ in plain.randomElement(using: &rng)! }
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                bytes[Int.random(in: 0..<8, using: &rng)] = Bool.random(using: &rng) ? specials.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
            }
            let word = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
            let flags = JSONParser.attentionFlags(word)
            if let first = bytes.firstIndex(where: Self.needsAttention) {
                #expect(flags != 0 && flags.trailingZeroBitCount >> 3 == first, "\(bytes)")
            } else {
                #expect(flags == 0, "\(bytes)")
            }
        }
    }

    @Test("a string with an escape, a control byte or UTF-8 at any offset parses as before")
    func specialByteAtEveryOffset() throws {
        for offset in 0..<40 {
            let before = String(repeating: "a", count: offset)
            let good: [(String, String)] = [("\\n", "\n"), ("\\\"", "\""), ("é", "é"), ("\\u00e9", "é")]
            for (written, meant) in good {
                let text = "{\"k\":\"\(before)\(written)bcdefghijklmnop\"}"
                let bytes = Array(text.utf8)
                let value = try bytes.withUnsafeBufferPointer { buffer throws(JSONParser.SyntaxError) in
                    guard case .object(let members) = try JSONParser.parse(buffer), case .string(let span) = members[0].value else { return "" }
                    return JSONText.string(span, in: buffer)
                }
                #expect(value == before + meant + "bcdefghijklmnop")
            }
            let control = Array("{\"k\":\"\(before)".utf8) + [0x01] + Array("bcdefghijklmnop\"}".utf8)
            #expect(throws: JSONParser.SyntaxError.self) { try control.withUnsafeBufferPointer { buffer throws(JSONParser.SyntaxError) in _ = try JSONParser.parse(buffer) } }
            let badUTF8 = Array("{\"k\":\"\(before)".utf8) + [0xC3, 0x28] + Array("bcdefghijklmnop\"}".utf8)
            #expect(throws: JSONParser.SyntaxError.self) { try badUTF8.withUnsafeBufferPointer { buffer throws(JSONParser.SyntaxError) in _ = try JSONParser.parse(buffer) } }
        }
    }
}
