import Foundation

/// A key the projections look up millions of times a rebuild, with a cheap 64-bit hash.
///
/// Swift's `Dictionary` hashes every key with a freshly seeded SipHash: safe against chosen
/// keys, but it was a fifth of the rebuild's time. The keys here are random UUIDs, SHA-256
/// hashes, or small packed integers from the journal itself, so a multiply-xorshift mix is
/// enough, and it makes the tables deterministic: a state resumed from a checkpoint is laid out
/// exactly as one folded from zero.
protocol FastKey: Hashable, Sendable, Codable {
    var fastHash: UInt64 { get }
}

@inline(__always) func mix64(_ x: UInt64) -> UInt64 {
    var h = x &* 0x9E37_79B9_7F4A_7C15
    h ^= h >> 32
    h = h &* 0xD6E8_FEB8_6659_FD93
    h ^= h >> 29
    return h
}

extension UInt64: FastKey {
    @inline(__always) var fastHash: UInt64 { mix64(self) }
}

extension UUID: FastKey {
    @inline(__always) var fastHash: UInt64 {
        withUnsafeBytes(of: uuid) { raw in
            mix64(raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self) ^ mix64(raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
    }
}

extension HashKey: FastKey {
    @inline(__always) var fastHash: UInt64 { mix64(w0 ^ mix64(w1 ^ mix64(w2 ^ mix64(w3)))) }
}

/// An open-addressing index from keys to positions in an array of entities that hold the keys.
///
/// Each bucket is one word: the upper half of the key's hash and the entity's position + 1
/// (0: empty). The entities themselves are compared on a hash match, so the index costs 8 bytes
/// per bucket, at most two buckets per entity, and no copy of the keys.
struct IndexTable: Sendable, Codable, Equatable {
    private(set) var buckets = EntityArray<UInt64>()
    private(set) var count = 0

    init() {}

    @inline(__always) private static func tag(_ hash: UInt64) -> UInt64 { hash >> 32 }

    /// The position of the entity whose key has `hash` and satisfies `matches`.
    @inline(__always)
    func find(_ hash: UInt64, _ matches: (Int32) -> Bool) -> Int32? {
        guard count > 0 else { return nil }
        let tag = Self.tag(hash)
        let mask = buckets.count - 1
        var i = Int(truncatingIfNeeded: tag) & mask
        return buckets.withUnsafeBufferPointer { b in
            while true {
                let bucket = b[i]
                if bucket == 0 { return nil }
                if bucket >> 32 == tag {
                    let position = Int32(truncatingIfNeeded: bucket & 0xFFFF_FFFF) - 1
                    if matches(position) { return position }
                }
                i = (i + 1) & mask
            }
        }
    }

    /// Adds `position` under `hash`; the caller knows the key is not there yet.
    @inline(__always)
    mutating func insert(_ hash: UInt64, _ position: Int32) {
        if (count + 1) * 2 > buckets.count { grow() }
        place(Self.tag(hash) << 32 | UInt64(UInt32(bitPattern: position + 1)))
        count += 1
    }

    @inline(__always) private mutating func place(_ bucket: UInt64) {
        let mask = buckets.count - 1
        var i = Int(truncatingIfNeeded: bucket >> 32) & mask
        buckets.withUnsafeMutableBufferPointer { b in
            while b[i] != 0 { i = (i + 1) & mask }
            b[i] = bucket
        }
    }

    private mutating func grow() {
        let old = buckets
        buckets = EntityArray(zeros: max(16, old.count * 2))
        old.withUnsafeBufferPointer { o in
            for bucket in o where bucket != 0 { place(bucket) }
        }
    }
}

extension IndexTable {
    /// What is wrong with this index over `n` entities, the key of entity `p` hashing to
    /// `hash(p)`; `nil` when every entity is listed once, under its key's hash, where probing from
    /// its home bucket finds it. Linear in the buckets. (That no two entities have the same key is
    /// the caller's to check: the index cannot compare keys.)
    func inconsistency(entities n: Int, hash: (Int) -> UInt64) -> String? {
        let size = buckets.count
        guard count == n else { return "its index counts \(count) entries for \(n) entities" }
        guard n > 0 else { return size == 0 ? nil : "its index of no entity has \(size) buckets" }
        guard size >= 16, size & (size - 1) == 0 else { return "its index has \(size) buckets, not a power of two of at least 16" }
        guard n <= size / 2 else { return "its index holds \(n) entries in \(size) buckets, more than half full" }
        let mask = size - 1
        return buckets.withUnsafeBufferPointer { b -> String? in
            // Start after an empty bucket, so that every run of full buckets is seen from its start.
            guard let empty = b.firstIndex(of: 0) else { return "its index has no empty bucket" }
            var listed = [Bool](repeating: false, count: n)
            var used = 0
            var runStart = 1
            for offset in 1...size {
                let i = (empty + offset) & mask
                let bucket = b[i]
                if bucket == 0 { runStart = offset + 1; continue }
                let stored = Int(bucket & 0xFFFF_FFFF)
                guard stored >= 1, stored <= n else { return "bucket \(i) of its index points at entity \(stored - 1) of \(n)" }
                let p = stored - 1
                guard !listed[p] else { return "its index lists entity \(p) twice" }
                listed[p] = true
                used += 1
                guard bucket >> 32 == hash(p) >> 32 else { return "bucket \(i) of its index does not hold the hash of entity \(p)'s key" }
                // `find` walks from the home bucket and stops at the first empty one.
                let distance = (i - Int(truncatingIfNeeded: bucket >> 32)) & mask
                guard distance <= offset - runStart else { return "entity \(p) is listed in bucket \(i) of its index, past an empty bucket after its home" }
            }
            return used == n ? nil : "its index lists \(used) of its \(n) entities"
        }
    }
}

/// A set of keys, each with the ordinal of its insertion.
struct KeyTable<Key: FastKey>: Sendable, Codable, Equatable {
    private(set) var keys: [Key] = []
    private var index = IndexTable()

    init() {}

    var count: Int { keys.count }

    @inline(__always) func ordinal(of key: Key) -> Int32? {
        keys.withUnsafeBufferPointer { k in index.find(key.fastHash) { k[Int($0)] == key } }
    }

    /// Inserts `key` if absent; returns its ordinal and whether it was new.
    @discardableResult @inline(__always)
    mutating func insert(_ key: Key) -> (inserted: Bool, ordinal: Int32) {
        let hash = key.fastHash
        if let known = keys.withUnsafeBufferPointer({ k in index.find(hash) { k[Int($0)] == key } }) { return (false, known) }
        let ordinal = Int32(keys.count)
        keys.append(key)
        index.insert(hash, ordinal)
        return (true, ordinal)
    }
}

extension KeyTable {
    /// What is wrong with the keys and their index, or `nil`.
    func inconsistency() -> String? {
        guard keys.count <= Int(Int32.max) else { return "it holds \(keys.count) keys, more than ordinals can number" }
        if let problem = keys.withUnsafeBufferPointer({ k in index.inconsistency(entities: k.count) { k[$0].fastHash } }) { return problem }
        if let repeated = firstRepeat(in: keys, key: { $0 }) { return "its key \(repeated) repeats an earlier one" }
        return nil
    }
}

/// A map from keys to values, iterated in insertion order.
struct FastMap<Key: FastKey, Value: Sendable & Codable & Equatable>: Sendable, Codable, Equatable {
    private(set) var table = KeyTable<Key>()
    private(set) var values: [Value] = []

    init() {}

    var count: Int { values.count }
    var keys: [Key] { table.keys }
    var isEmpty: Bool { values.isEmpty }

    subscript(key: Key) -> Value? { table.ordinal(of: key).map { values[Int($0)] } }

    /// Updates the value of `key` in place, starting from `initial` when it is absent.
    @inline(__always)
    mutating func update<R>(_ key: Key, default initial: @autoclosure () -> Value, _ body: (inout Value) -> R) -> R {
        let (inserted, ordinal) = table.insert(key)
        if inserted { values.append(initial()) }
        return body(&values[Int(ordinal)])
    }

    /// The ordinal of `key`, inserted with `initial` when absent: for `update(at:)`.
    @inline(__always)
    mutating func ordinal(inserting key: Key, default initial: @autoclosure () -> Value) -> Int32 {
        let (inserted, ordinal) = table.insert(key)
        if inserted { values.append(initial()) }
        return ordinal
    }

    /// Updates in place the value of the key with this ordinal.
    @inline(__always)
    mutating func update<R>(at ordinal: Int32, _ body: (inout Value) -> R) -> R {
        body(&values[Int(ordinal)])
    }

    var entries: Zip2Sequence<[Key], [Value]> { zip(table.keys, values) }
}

extension FastMap {
    /// What is wrong with the keys, their index, or the number of values, or `nil`.
    func inconsistency() -> String? {
        if let problem = table.inconsistency() { return problem }
        return values.count == table.count ? nil : "it holds \(values.count) values for \(table.count) keys"
    }
}

/// The `FastMap` ordinals of keys made of three small enums (fewer than 16 cases each) and a
/// 32-bit tag, found by the enums' ordinals in a flat array rather than hashed and probed.
///
/// The dossier and delay folds update such a group on most events; the map's index is small,
/// but the rebuild streams through hundreds of megabytes, and its probe missed the cache as
/// often as not. A group holds the ordinal of the last tag seen with it (the delays' month).
/// Derived from the map it caches: not encoded, not compared, empty after decoding.
struct GroupOrdinals: Sendable {
    /// Per group, `tag << 32 | (ordinal + 1)`; 0 where nothing is cached.
    private var entries: [UInt64] = []

    init() {}

    @inline(__always) static func group(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> Int {
        precondition(a < 16 && b < 16 && c < 16, "GroupOrdinals takes enums of fewer than 16 cases")
        return Int(a) << 8 | Int(b) << 4 | Int(c)
    }

    /// The ordinal cached for `group` and `tag`, if any.
    @inline(__always) func ordinal(_ group: Int, tag: UInt32) -> Int32? {
        guard !entries.isEmpty else { return nil }
        let entry = entries[group]
        guard entry != 0, UInt32(truncatingIfNeeded: entry >> 32) == tag else { return nil }
        return Int32(truncatingIfNeeded: entry & 0xFFFF_FFFF) - 1
    }

    @inline(__always) mutating func remember(_ group: Int, tag: UInt32, ordinal: Int32) {
        if entries.isEmpty { entries = [UInt64](repeating: 0, count: 16 * 16 * 16) }
        entries[group] = UInt64(tag) << 32 | UInt64(UInt32(bitPattern: ordinal + 1))
    }
}

/// The declaration index of a case of a payload-free enum, which is how Swift stores it: a load,
/// where `allCases.firstIndex(of:)` would build an array per call. A test checks it against
/// `allCases` for every enum the projections key by.
@inline(__always) func ordinal<T: CaseIterable & Equatable>(_ value: T) -> UInt8 {
    precondition(MemoryLayout<T>.size == 1)
    return unsafeBitCast(value, to: UInt8.self)
}
