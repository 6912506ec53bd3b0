import Foundation

/// A multimap from 64-bit key hashes to positions, with open addressing and linear probing.
///
/// The writer looks up every event id it is given; Swift's `Dictionary` would rehash each
/// UUID with SipHash on every lookup and insert, while `IndexHash` values are already well
/// mixed. Matches are candidates: the caller confirms them (hash collisions are possible).
struct PositionTable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: 0, count: size)
        values = [UInt64](repeating: 0, count: size)
        mask = size - 1
    }

    /// 0 marks an empty slot, so the one key hashing to 0 is stored as 1.
    @inline(__always) private static func key(_ hash: UInt64) -> UInt64 { hash == 0 ? 1 : hash }

    mutating func insert(hash: UInt64, value: UInt64) {
        if (count + 1) * 10 > keys.count * 7 { grow() }
        let k = Self.key(hash)
        var i = Int(truncatingIfNeeded: k) & mask
        while keys[i] != 0 { i = (i + 1) & mask }
        keys[i] = k
        values[i] = value
        count += 1
    }

    /// Calls `body` with every value stored under `hash`; `body` returns false to stop.
    @inline(__always)
    func forEachCandidate(hash: UInt64, _ body: (UInt64) -> Bool) {
        let k = Self.key(hash)
        var i = Int(truncatingIfNeeded: k) & mask
        while keys[i] != 0 {
            if keys[i] == k, !body(values[i]) { return }
            i = (i + 1) & mask
        }
    }

    func contains(hash: UInt64) -> Bool {
        var found = false
        forEachCandidate(hash: hash) { _ in found = true; return false }
        return found
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values
        keys = [UInt64](repeating: 0, count: oldKeys.count * 2)
        values = [UInt64](repeating: 0, count: oldKeys.count * 2)
        mask = keys.count - 1
        count = 0
        for i in oldKeys.indices where oldKeys[i] != 0 {
            var j = Int(truncatingIfNeeded: oldKeys[i]) & mask
            while keys[j] != 0 { j = (j + 1) & mask }
            keys[j] = oldKeys[i]
            values[j] = oldValues[i]
            count += 1
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
