import Foundation

/// A key of fixed width for `AggregateTable`: the words that identify an aggregate.
protocol AggregateTableKey: Equatable {
    /// Two words that differ between keys with overwhelming likelihood (ids and hashes are random);
    /// equality still decides, through `==`.
    var tableWords: (UInt64, UInt64) { get }
}

/// Aggregate states by id, for the replay's millions of aggregates (every slot, applicant and
/// dossier of a journal): keys and states are kept densely in insertion order, and an open
/// addressing index of 64-bit entries (a 32-bit tag of the hash and the position) finds them.
///
/// Why not `Dictionary`: its SipHash over 16 or 32 bytes, and its rehash of whole states on
/// growth, were a tenth of the audit's rule checking. Here hashing is a few multiplications over
/// two words, seeded at random per table so that a crafted journal cannot aim its ids at one chain,
/// and growth rehashes only the 8-byte index entries.
struct AggregateTable<Key: AggregateTableKey, State> {
    private(set) var keys: [Key] = []
    private(set) var states: [State] = []
    /// 0 for a free place, otherwise `tag << 32 | (position + 1)`.
    private var index = [UInt64](repeating: 0, count: 64)
    private let seed: (UInt64, UInt64)

    init() {
        var rng = SystemRandomNumberGenerator()
        seed = (rng.next(), rng.next())
    }

    /// A table sized for `capacity` keys, which it then holds without growing.
    init(capacity: Int) {
        self.init()
        var slots = 64
        while slots < capacity * 2 { slots *= 2 }
        index = [UInt64](repeating: 0, count: slots)
        keys.reserveCapacity(capacity)
        states.reserveCapacity(capacity)
    }

    var count: Int { states.count }

    @inline(__always) private func hash(_ key: Key) -> UInt64 {
        let (a, b) = key.tableWords
        return BitMixing.murmurFinalizer(BitMixing.murmurFinalizer(a ^ seed.0) &+ (b ^ seed.1))
    }

    /// The place of `key` in `keys` and `states`, if it is there.
    func position(of key: Key) -> Int? {
        let h = hash(key)
        let tag = h >> 32
        let mask = index.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let entry = index[i]
            if entry == 0 { return nil }
            if entry >> 32 == tag {
                let p = Int(truncatingIfNeeded: entry & 0xFFFF_FFFF) - 1
                if keys[p] == key { return p }
            }
            i = (i + 1) & mask
        }
    }

    subscript(key: Key) -> State? {
        guard let p = position(of: key) else { return nil }
        return states[p]
    }

    /// Runs `body` on the state of `key`, made by `initial` first if the table does not have it.
    @inline(__always)
    mutating func update<R>(_ key: Key, default initial: () -> State, _ body: (inout State) -> R) -> R {
        let h = hash(key)
        let tag = h >> 32
        var mask = index.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let entry = index[i]
            if entry == 0 { break }
            if entry >> 32 == tag {
                let p = Int(truncatingIfNeeded: entry & 0xFFFF_FFFF) - 1
                if keys[p] == key { return body(&states[p]) }
            }
            i = (i + 1) & mask
        }
        precondition(states.count < Int(UInt32.max) - 1, "more aggregates than the table can number")
        keys.append(key)
        states.append(initial())
        let p = states.count - 1
        // At most half full, so that probes stay short.
        if states.count * 2 > index.count {
            grow()
            mask = index.count - 1
            i = Int(truncatingIfNeeded: h) & mask
            while index[i] != 0 { i = (i + 1) & mask }
        }
        index[i] = tag << 32 | UInt64(p + 1)
        return body(&states[p])
    }

    /// Doubles the index and places every key again except the last one added, which the caller places.
    private mutating func grow() {
        var larger = [UInt64](repeating: 0, count: index.count * 2)
        let mask = larger.count - 1
        for p in 0..<(keys.count - 1) {
            let h = hash(keys[p])
            var i = Int(truncatingIfNeeded: h) & mask
            while larger[i] != 0 { i = (i + 1) & mask }
            larger[i] = (h >> 32) << 32 | UInt64(p + 1)
        }
        index = larger
    }
}

extension UUID: AggregateTableKey {
    var tableWords: (UInt64, UInt64) {
        withUnsafeBytes(of: uuid) { ($0.loadUnaligned(fromByteOffset: 0, as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
    }
}

extension IdentityKey: AggregateTableKey {
    var tableWords: (UInt64, UInt64) { (hash.w0 ^ hash.w2, hash.w1 ^ hash.w3) }
}

extension Fingerprint: AggregateTableKey {
    var tableWords: (UInt64, UInt64) { (hash.w0 ^ hash.w2, hash.w1 ^ hash.w3) }
}

extension AggregateTable: Sendable where Key: Sendable, State: Sendable {}
