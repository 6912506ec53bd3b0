import Foundation
import Domain

/// The simulator's only source of randomness (SplitMix64), so that one seed gives one history:
/// the same events, the same ids and the same business times on every machine.
struct SeededRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed ^ 0x5EED_15E2_E202_4000 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    mutating func chance(_ probability: Double) -> Bool { unit() < probability }

    mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + unit() * (range.upperBound - range.lowerBound)
    }

    /// Uniform in `0..<bound`; `bound` must be positive.
    mutating func index(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func integer(_ range: ClosedRange<Int>) -> Int { range.lowerBound + index(range.count) }

    /// Standard normal (Box-Muller; the second value is dropped to keep the stream simple).
    mutating func normal() -> Double {
        let u1 = max(unit(), 1e-300), u2 = unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Log-normal with the given median, so that a target median is a parameter, not a derivation.
    mutating func logNormal(median: Double, sigma: Double) -> Double { median * exp(sigma * normal()) }

    mutating func exponential(mean: Double) -> Double { -mean * log(1 - unit()) }

    /// Poisson: exact (Knuth) for small means, a rounded normal beyond, where the difference is noise.
    mutating func poisson(_ mean: Double) -> Int {
        guard mean > 0 else { return 0 }
        if mean < 30 {
            let limit = exp(-mean)
            var count = 0
            var product = unit()
            while product > limit {
                count += 1
                product *= unit()
            }
            return count
        }
        return max(0, Int((mean + mean.squareRoot() * normal()).rounded()))
    }

    /// Picks an index with probability proportional to its weight.
    mutating func weighted(_ weights: [Double]) -> Int {
        let total = weights.reduce(0, +)
        var target = unit() * total
        for (index, weight) in weights.enumerated() {
            target -= weight
            if target < 0 { return index }
        }
        return weights.count - 1
    }

    /// A version-4 UUID drawn from the seed, so ids repeat exactly across runs.
    mutating func uuid() -> UUID {
        let a = next(), b = next()
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &bytes) { raw in
            raw.storeBytes(of: a.bigEndian, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: b.bigEndian, toByteOffset: 8, as: UInt64.self)
            raw[6] = raw[6] & 0x0F | 0x40
            raw[8] = raw[8] & 0x3F | 0x80
        }
        return UUID(uuid: bytes)
    }

    /// 64 lowercase hex characters: the shape of a salted hash.
    mutating func hashHex() -> String {
        var out = [UInt8]()
        out.reserveCapacity(64)
        for _ in 0..<4 {
            let word = next()
            for shift in stride(from: 60, through: 0, by: -4) {
                out.append(Self.hexDigits[Int((word >> UInt64(shift)) & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func identityKey() -> IdentityKey { IdentityKey(hex: hashHex())! }
    mutating func fingerprint() -> Fingerprint { Fingerprint(hex: hashHex())! }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
