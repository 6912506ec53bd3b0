import CJournalSupport
import Foundation

/// The next expected version of every stream seen by verification, looked up by the stream
/// name's bytes as they lie in the record.
///
/// Why not `[String: UInt64]`: that makes a heap `String` and a SipHash per event, and was a
/// third of verification's time. Here each name is stored once, back to back in one arena, and
/// found through an open-addressing table; a hash match is always confirmed byte for byte, so two
/// names never share a slot whatever their hashes. Memory grows with the number of streams
/// (about 50 bytes each plus the name), not with the number of events.
struct StreamVersionTable {
    /// `hash` 0 marks an empty entry; real hashes have their top bit set.
    private struct Entry {
        var hash: UInt64 = 0
        var slot: UInt32 = 0
    }

    private var entries: [Entry]
    private var mask: Int
    private var arena: [UInt8] = []
    private var nameOffsets: [UInt32] = []
    private var nameLengths: [UInt32] = []
    /// Indexed by slot: the version the stream's next event must have (0 for a new stream).
    private var next: [UInt64] = []
    /// Per table by default, so that names crafted to collide cannot be prepared in advance.
    let seed: UInt64
    /// The next version a new slot starts with.
    private let initialNext: UInt64

    var count: Int { next.count }

    init(seed: UInt64 = UInt64.random(in: 1...UInt64.max), initialNext: UInt64 = 0) {
        self.seed = seed
        self.initialNext = initialNext
        entries = Array(repeating: Entry(), count: 1 << 12)
        mask = entries.count - 1
    }

    /// The stream's slot, created with next version 0 when the name is new. Slots are dense,
    /// in order of first appearance, and never change.
    @inline(__always)
    mutating func slot(of name: UnsafeRawBufferPointer) -> Int {
        slot(of: name, hash: hash(name))
    }

    /// The same, with the name's hash already computed with this table's seed.
    @inline(__always)
    mutating func slot(of name: UnsafeRawBufferPointer, hash h: UInt64) -> Int {
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = entries[i]
            if e.hash == 0 { break }
            if e.hash == h, equals(Int(e.slot), name) { return Int(e.slot) }
            i = (i + 1) & mask
        }
        let slot = next.count
        precondition(arena.count + name.count < Int(UInt32.max) && slot < Int(UInt32.max), "more than 4 GiB of stream names")
        nameOffsets.append(UInt32(arena.count))
        nameLengths.append(UInt32(name.count))
        arena.append(contentsOf: name)
        next.append(initialNext)
        entries[i] = Entry(hash: h, slot: UInt32(slot))
        if next.count * 2 > entries.count { grow() }
        return slot
    }

    /// Hashes the stream name of each record of `payload` into `hashes` (emptied first), and
    /// asks the memory for everything looking them up will read: the entry each hash leads to,
    /// then for a name already known its columns and its bytes. With millions of streams each of
    /// those is a cache miss; asked for a whole frame at a time they overlap instead of queueing
    /// one after the other (60 % of verification's own time went to waiting for the entry).
    /// Stops at the first record whose lengths do not hold: the hashes are only a head start,
    /// and `slot(of:)` works without them.
    func prefetch(streamsOf payload: UnsafeRawBufferPointer, hashes: inout [UInt64]) {
        hashes.removeAll(keepingCapacity: true)
        var at = 0
        while payload.count - at >= JournalFormat.recordFixedSize {
            let length = Int(payload.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian) + 4
            let nameLength = Int(payload.loadUnaligned(fromByteOffset: at + 46, as: UInt16.self).littleEndian)
            guard length >= JournalFormat.recordFixedSize + nameLength, length <= payload.count - at else { break }
            let start = at + JournalFormat.recordFixedSize
            hashes.append(hash(UnsafeRawBufferPointer(rebasing: payload[start..<(start + nameLength)])))
            at += length
        }
        entries.withUnsafeBufferPointer { table in
            for h in hashes { registre_prefetch(table.baseAddress! + (Int(truncatingIfNeeded: h) & mask)) }
            // The first probe is usually the entry; a known name's columns come next.
            for h in hashes {
                let e = table[Int(truncatingIfNeeded: h) & mask]
                guard e.hash == h else { continue }
                let slot = Int(e.slot)
                nameOffsets.withUnsafeBufferPointer { registre_prefetch($0.baseAddress! + slot) }
                nameLengths.withUnsafeBufferPointer { registre_prefetch($0.baseAddress! + slot) }
                next.withUnsafeBufferPointer { registre_prefetch($0.baseAddress! + slot) }
            }
            arena.withUnsafeBytes { names in
                for h in hashes {
                    let e = table[Int(truncatingIfNeeded: h) & mask]
                    guard e.hash == h else { continue }
                    registre_prefetch(names.baseAddress! + Int(nameOffsets[Int(e.slot)]))
                }
            }
        }
    }

    @inline(__always) func nextVersion(ofSlot slot: Int) -> UInt64 { next[slot] }
    @inline(__always) mutating func setNextVersion(_ version: UInt64, ofSlot slot: Int) { next[slot] = version }

    /// The stream's name, for messages and index lookups.
    func name(ofSlot slot: Int) -> String {
        let start = Int(nameOffsets[slot])
        return String(decoding: arena[start..<(start + Int(nameLengths[slot]))], as: UTF8.self)
    }

    /// Calls `body` with the stream's name as it was read (UTF-8), without making a `String`.
    func withName<R>(ofSlot slot: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let start = Int(nameOffsets[slot])
        return arena.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + Int(nameLengths[slot]))])) }
    }

    @inline(__always)
    private func equals(_ slot: Int, _ name: UnsafeRawBufferPointer) -> Bool {
        guard Int(nameLengths[slot]) == name.count else { return false }
        guard name.count > 0 else { return true }
        return arena.withUnsafeBytes { memcmp($0.baseAddress! + Int(nameOffsets[slot]), name.baseAddress!, name.count) == 0 }
    }

    private mutating func grow() {
        let old = entries
        entries = Array(repeating: Entry(), count: old.count * 2)
        mask = entries.count - 1
        for e in old where e.hash != 0 {
            var i = Int(truncatingIfNeeded: e.hash) & mask
            while entries[i].hash != 0 { i = (i + 1) & mask }
            entries[i] = e
        }
    }

    @inline(__always)
    func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        StreamNameHash.hash(bytes, seed: seed)
    }
}
