import Foundation
import Journal
import Domain

/// Finds event ids used twice across the whole journal in 8 bytes per event: a 64-bit
/// fingerprint of each id in journal order, searched for repeats once at the end. Fingerprints
/// that repeat are then confirmed against the full ids by reading those events again.
struct EventIDLedger {
    private(set) var fingerprints: [UInt64] = []
    /// First ordinal of each frame with its position and location, to turn an ordinal back into
    /// a place in the files.
    private var frames: [(firstOrdinal: Int, firstPosition: UInt64, file: String, offset: UInt64)] = []

    mutating func reserve(_ n: Int) { fingerprints.reserveCapacity(n) }

    mutating func beginFrame(firstPosition: UInt64, file: String, offset: UInt64) {
        frames.append((fingerprints.count, firstPosition, file, offset))
    }

    @inline(__always) mutating func add(_ record: UnsafeRawBufferPointer) {
        // The id is at bytes 20..<36 of a record.
        let a = record.loadUnaligned(fromByteOffset: 20, as: UInt64.self)
        let b = record.loadUnaligned(fromByteOffset: 28, as: UInt64.self)
        fingerprints.append(a ^ (b &* 0x9E37_79B9_7F4A_7C15))
    }

    /// Every id that appears more than once, with the places it appears.
    func duplicates(reader: JournalReader?) -> [AuditFinding] {
        let repeated = Self.repeatedValues(fingerprints)
        guard !repeated.isEmpty else { return [] }
        var places: [UInt64: [Int]] = [:]
        for (ordinal, f) in fingerprints.enumerated() where repeated.contains(f) { places[f, default: []].append(ordinal) }
        var findings: [AuditFinding] = []
        for ordinals in places.values {
            let located = ordinals.map(locate)
            // Confirm with the full ids; an unreadable event keeps the fingerprint's verdict.
            var byID: [UUID?: [(position: UInt64, file: String, offset: UInt64)]] = [:]
            for place in located {
                let id = try? reader?.read(from: place.position, limit: 1).first?.id
                byID[id ?? nil, default: []].append(place)
            }
            for (id, group) in byID where group.count > 1 {
                let first = group[0]
                for later in group.dropFirst() {
                    findings.append(AuditFinding(file: later.file, offset: later.offset, position: later.position, eventID: id,
                                                 rule: AuditCheck.duplicateEventID,
                                                 message: "event id \(id?.uuidString.lowercased() ?? "(unreadable)") was already used at position \(first.position) (\(first.file))"))
                }
            }
        }
        return findings.sorted { ($0.position ?? 0) < ($1.position ?? 0) }
    }

    /// The values that occur more than once in `input`.
    ///
    /// It runs after every other check of the audit has finished, on one thread, so it must be
    /// quick over ten million fingerprints: one pass deals the values into buckets of a few
    /// thousand by the top bits of a mixed copy of each (the mixing keeps the buckets even
    /// whatever the ids), then each bucket goes through a small open-addressing table that stays
    /// in the cache. A full sort (four radix passes over 80 MB, each scattering to 65,536
    /// places) took most of a second.
    static func repeatedValues(_ input: [UInt64]) -> Set<UInt64> {
        var repeated = Set<UInt64>()
        guard input.count > 1 else { return repeated }
        // About 4,096 values a bucket, so that its table (two places a value) fits in L2.
        var bucketBits = 0
        while bucketBits < 16, input.count >> bucketBits > 4096 { bucketBits += 1 }
        let shift = UInt64(64 - bucketBits)
        func bucket(_ mixed: UInt64) -> Int { bucketBits == 0 ? 0 : Int(truncatingIfNeeded: mixed >> shift) }
        var starts = [Int](repeating: 0, count: (1 << bucketBits) + 1)
        for v in input { starts[bucket(BitMixing.murmurFinalizer(v)) + 1] += 1 }
        for i in 1..<starts.count { starts[i] += starts[i - 1] }
        var dealt = [UInt64](repeating: 0, count: input.count)
        var next = starts
        for v in input {
            let b = bucket(BitMixing.murmurFinalizer(v))
            dealt[next[b]] = v
            next[b] += 1
        }
        // Zero marks a free place in the table; zeros themselves are counted apart.
        var zeros = 0
        var table: [UInt64] = []
        for b in 0..<(starts.count - 1) where starts[b + 1] > starts[b] {
            let values = dealt[starts[b]..<starts[b + 1]]
            var size = 16
            while size < 2 * values.count { size <<= 1 }
            table.removeAll(keepingCapacity: true)
            table.append(contentsOf: repeatElement(0, count: size))
            let mask = size - 1
            for v in values {
                if v == 0 {
                    zeros += 1
                    if zeros == 2 { repeated.insert(0) }
                    continue
                }
                var i = Int(truncatingIfNeeded: BitMixing.murmurFinalizer(v)) & mask
                while true {
                    let held = table[i]
                    if held == 0 { table[i] = v; break }
                    if held == v { repeated.insert(v); break }
                    i = (i + 1) & mask
                }
            }
        }
        return repeated
    }

    private func locate(_ ordinal: Int) -> (position: UInt64, file: String, offset: UInt64) {
        var lo = 0, hi = frames.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if frames[mid].firstOrdinal <= ordinal { lo = mid } else { hi = mid - 1 }
        }
        let f = frames[lo]
        return (f.firstPosition + UInt64(ordinal - f.firstOrdinal), f.file, f.offset)
    }
}
