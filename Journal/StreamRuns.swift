import Foundation

/// The streams of the open segment: for each, its first version there and its positions.
///
/// Opening a journal replays the open segment through this table, up to a whole segment of
/// events, before the first append can be served. A `[String: …]` dictionary made a `String` for
/// every event and compared whole stream ids on every probe; this table is keyed by the id's
/// bytes, makes a `String` once per stream, and compares a stored hash before any bytes. The hash
/// is `StreamNameHash` with the per-process seed, so stream ids crafted to collide cannot build
/// long probe chains, and the writer, which has already hashed each stream of an append for its
/// version cache, passes that hash in rather than hashing again per event.
struct StreamRuns {
    struct Run {
        let name: String
        var firstVersion: UInt64
        var positions: [UInt64]

        var lastVersion: UInt64 { firstVersion + UInt64(positions.count) - 1 }
    }

    private(set) var runs: [Run] = []
    /// Open addressing, linear probing. A slot keeps the name's hash beside the run's index, so
    /// a probe reads one array until the hashes agree.
    private struct Slot {
        var hash: UInt64
        var run: Int32
        static let empty = Slot(hash: 0, run: -1)
    }
    private var slots = [Slot](repeating: .empty, count: 64)

    var count: Int { runs.count }

    @inline(__always) static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        StreamNameHash.hash(bytes, seed: StreamNameHash.processSeed)
    }

    /// The slot holding `bytes`'s run, or the empty slot where it would go.
    private func slot(of bytes: UnsafeRawBufferPointer, hash: UInt64) -> (slot: Int, run: Int?) {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            let s = slots[i]
            if s.run < 0 { return (i, nil) }
            if s.hash == hash, Self.name(runs[Int(s.run)].name, equals: bytes) { return (i, Int(s.run)) }
            i = (i + 1) & mask
        }
    }

    private static func name(_ name: String, equals bytes: UnsafeRawBufferPointer) -> Bool {
        name.utf8.withContiguousStorageIfAvailable { stored in
            stored.count == bytes.count && (bytes.isEmpty || memcmp(stored.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
        } ?? name.utf8.elementsEqual(bytes)
    }

    func run(of stream: String) -> Run? {
        var name = stream
        return name.withUTF8 { utf8 in
            let bytes = UnsafeRawBufferPointer(utf8)
            return slot(of: bytes, hash: Self.hash(bytes)).run.map { runs[$0] }
        }
    }

    /// Adds the event at `position`, version `version`, to the stream whose id is `bytes`.
    mutating func add(position: UInt64, version: UInt64, stream bytes: UnsafeRawBufferPointer) {
        add(position: position, version: version, stream: bytes, hash: Self.hash(bytes))
    }

    /// The same with the id's hash (`StreamRuns.hash`) already computed.
    mutating func add(position: UInt64, version: UInt64, stream bytes: UnsafeRawBufferPointer, hash: UInt64) {
        let found = slot(of: bytes, hash: hash)
        if let r = found.run {
            runs[r].positions.append(position)
            return
        }
        runs.append(Run(name: String(decoding: bytes, as: UTF8.self), firstVersion: version, positions: [position]))
        slots[found.slot] = Slot(hash: hash, run: Int32(runs.count - 1))
        if runs.count * 2 > slots.count { grow() }
    }

    mutating func add(position: UInt64, version: UInt64, stream: String) {
        var name = stream
        name.withUTF8 { add(position: position, version: version, stream: UnsafeRawBufferPointer($0)) }
    }

    private mutating func grow() {
        let old = slots
        slots = [Slot](repeating: .empty, count: old.count * 2)
        let mask = slots.count - 1
        for s in old where s.run >= 0 {
            var i = Int(truncatingIfNeeded: s.hash) & mask
            while slots[i].run >= 0 { i = (i + 1) & mask }
            slots[i] = s
        }
    }
}
