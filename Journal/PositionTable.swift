import Foundation

/// A multimap from 64-bit key hashes to positions, with open addressing and linear probing.
///
/// The writer looks up every event id it is given; Swift's `Dictionary` would rehash each
/// UUID with SipHash on every lookup and insert, while `IndexHash` values are already well
/// mixed. Matches are candidates: the caller confirms them (hash collisions are possible).
struct PositionTable {
    /// Key and value side by side, so a probe touches one cache line, not two arrays.
    private struct Entry {
        var key: UInt64
        var value: UInt64
    }
    private var entries: [Entry]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        entries = [Entry](repeating: Entry(key: 0, value: 0), count: size)
        mask = size - 1
    }

    /// 0 marks an empty slot, so the one key hashing to 0 is stored as 1.
    @inline(__always) private static func key(_ hash: UInt64) -> UInt64 { hash == 0 ? 1 : hash }

    mutating func insert(hash: UInt64, value: UInt64) {
        if (count + 1) * 10 > entries.count * 7 { grow() }
        let k = Self.key(hash)
        entries.withUnsafeMutableBufferPointer { e in
            var i = Int(truncatingIfNeeded: k) & mask
            while e[i].key != 0 { i = (i + 1) & mask }
            e[i] = Entry(key: k, value: value)
        }
        count += 1
    }

    /// Calls `body` with every value stored under `hash`; `body` returns false to stop.
    @inline(__always)
    func forEachCandidate(hash: UInt64, _ body: (UInt64) -> Bool) {
        let k = Self.key(hash)
        var i = Int(truncatingIfNeeded: k) & mask
        while entries[i].key != 0 {
            if entries[i].key == k, !body(entries[i].value) { return }
            i = (i + 1) & mask
        }
    }

    func contains(hash: UInt64) -> Bool {
        var found = false
        forEachCandidate(hash: hash) { _ in found = true; return false }
        return found
    }

    private mutating func grow() {
        let old = entries
        entries = [Entry](repeating: Entry(key: 0, value: 0), count: old.count * 2)
        mask = entries.count - 1
        entries.withUnsafeMutableBufferPointer { e in
            for entry in old where entry.key != 0 {
                var j = Int(truncatingIfNeeded: entry.key) & mask
                while e[j].key != 0 { j = (j + 1) & mask }
                e[j] = entry
            }
        }
    }

    /// Bytes of heap per slot, for the README's memory figures.
    static let bytesPerSlot = 16
}

extension IndexHash {
    @inline(__always) static func hash(_ id: UUID) -> UInt64 {
        withUnsafeBytes(of: id.uuid) { hash($0) }
    }
}
