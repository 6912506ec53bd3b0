import Foundation
import Testing
@testable import Domain

/// Hashes and UUIDs are parsed eight digits at a time (`HexWords`). They must accept and refuse
/// exactly what reading one character at a time does: every byte value, at every place.
@Suite("Hex parsing eight digits at a time")
struct HexParsingTests {
    /// The reference: one character at a time, as the journal's spelling rules say.
    private static func digits(_ bytes: [UInt8]) -> [UInt8]? {
        var values: [UInt8] = []
        for byte in bytes {
            guard let value = lowercaseHexValue(byte) else { return nil }
            values.append(value)
        }
        return values
    }

    private static func referenceHash(_ bytes: [UInt8]) -> [UInt64]? {
        guard bytes.count == 64, let values = digits(bytes) else { return nil }
        return (0..<4).map { word in values[(word * 16)..<(word * 16 + 16)].reduce(UInt64(0)) { $0 << 4 | UInt64($1) } }
    }

    private static func referenceUUID(_ bytes: [UInt8]) -> UUID? {
        guard bytes.count == 36, [8, 13, 18, 23].allSatisfy({ bytes[$0] == UInt8(ascii: "-") }) else { return nil }
        let hex = bytes.enumerated().filter { ![8, 13, 18, 23].contains($0.offset) }.map(\.element)
        guard let values = digits(hex) else { return nil }
        var raw = [UInt8](repeating: 0, count: 16)
        for i in 0..<16 { raw[i] = values[2 * i] << 4 | values[2 * i + 1] }
        return raw.withUnsafeBytes { UUID(uuid: $0.load(as: uuid_t.self)) }
    }

    private static func hash(_ bytes: [UInt8]) -> [UInt64]? {
        bytes.withUnsafeBufferPointer { Hash256(bytes: $0) }.map { [$0.w0, $0.w1, $0.w2, $0.w3] }
    }

    @Test("a hash with any byte value at any place parses as the character-by-character reading does")
    func hashEveryByteEverywhere() {
        let sound = Array("0123456789abcdeffedcba9876543210a1b2c3d4e5f60718293a4b5c6d7e8f90".utf8)
        #expect(Self.hash(sound) == Self.referenceHash(sound))
        #expect(Self.hash(sound) != nil)
        var mismatches = 0
        for place in 0..<64 {
            for value in 0...255 {
                var bytes = sound
                bytes[place] = UInt8(value)
                if Self.hash(bytes) != Self.referenceHash(bytes) { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
        #expect(Self.hash(Array(sound.dropLast())) == nil)
        #expect(Self.hash(sound + [UInt8(ascii: "0")]) == nil)
        #expect(Self.hash(Array(String(decoding: sound, as: UTF8.self).uppercased().utf8)) == nil)
    }

    @Test("a UUID with any byte value at any place parses as the character-by-character reading does")
    func uuidEveryByteEverywhere() {
        let sound = Array("3f2b8c1e-0d4a-4e7b-9c55-1a2b3c4d5e6f".utf8)
        #expect(sound.withUnsafeBufferPointer { CanonicalUUID.parse($0) } == UUID(uuidString: "3F2B8C1E-0D4A-4E7B-9C55-1A2B3C4D5E6F"))
        var mismatches = 0
        for place in 0..<36 {
            for value in 0...255 {
                var bytes = sound
                bytes[place] = UInt8(value)
                if bytes.withUnsafeBufferPointer({ CanonicalUUID.parse($0) }) != Self.referenceUUID(bytes) { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
        #expect(CanonicalUUID.parse("3F2B8C1E-0D4A-4E7B-9C55-1A2B3C4D5E6F") == nil)
        #expect(CanonicalUUID.parse("3f2b8c1e0d4a-4e7b-9c55-1a2b3c4d5e6f0") == nil)
    }

    @Test("random digit strings with a few random bytes agree with the reference, digit by digit")
    func randomWords() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789abcdef".utf8)
        var mismatches = 0
        for _ in 0..<20_000 {
            var bytes = (0..<8).map { _ in alphabet.randomElement(using: &generator)! }
            for _ in 0..<Int.random(in: 0...2, using: &generator) {
                bytes[Int.random(in: 0..<8, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            let word = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
            let expected = Self.digits(bytes).map { $0.reduce(UInt32(0)) { $0 << 4 | UInt32($1) } }
            if HexWords.value(ofDigits: word) != expected { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }
}
