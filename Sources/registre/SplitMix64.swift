import Foundation
import Journal

/// A small, fast, seedable generator (SplitMix64), so every run writes the same events.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func hex(_ count: Int) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count)
        var bits = next(), left = 16
        for _ in 0..<count {
            if left == 0 { bits = next(); left = 16 }
            out.append(digits[Int(bits & 0xF)])
            bits >>= 4
            left -= 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func uuid() -> UUID {
        let a = next(), b = next()
        var bytes = [UInt8](repeating: 0, count: 16)
        withUnsafeBytes(of: a) { for i in 0..<8 { bytes[i] = $0[i] } }
        withUnsafeBytes(of: b) { for i in 0..<8 { bytes[8 + i] = $0[i] } }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
