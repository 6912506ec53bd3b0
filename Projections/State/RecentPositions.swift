/// The positions of the entities looked up or added last, in front of an `IndexTable`.
///
/// The events of one entity tend to come close together in a journal: a dossier's steps, a
/// booking and its cancellation or its visit. The index buckets of a few million entities are
/// spread over tens of megabytes, so each lookup began with a cache and TLB miss even when the
/// entity itself had just been touched; this direct-mapped table of 4,096 words (32 KiB, in
/// the CPU's near caches) answers those lookups first. A hit is confirmed on the entity's key
/// like a bucket of the index, so a stale or colliding slot costs a comparison, never a wrong
/// answer; entities are never moved or removed, so a position stays valid. It is derived data:
/// not encoded in checkpoints, not compared by `==`, and empty after decoding.
struct RecentPositions: Sendable {
    static let size = 4096
    /// `tag << 32 | position + 1`, as `IndexTable`'s buckets; 0 is empty.
    private var slots: [UInt64] = []

    init() {}

    @inline(__always) private static func slot(_ hash: UInt64) -> Int { Int(truncatingIfNeeded: hash >> 32) & (size - 1) }

    /// The position remembered for `hash`, if its entity `matches`.
    @inline(__always)
    func find(_ hash: UInt64, _ matches: (Int32) -> Bool) -> Int32? {
        guard !slots.isEmpty else { return nil }
        let entry = slots.withUnsafeBufferPointer { $0[Self.slot(hash)] }
        guard entry != 0, entry >> 32 == hash >> 32 else { return nil }
        let position = Int32(truncatingIfNeeded: entry & 0xFFFF_FFFF) - 1
        return matches(position) ? position : nil
    }

    @inline(__always)
    mutating func remember(_ hash: UInt64, _ position: Int32) {
        if slots.isEmpty { slots = [UInt64](repeating: 0, count: Self.size) }
        let entry = (hash >> 32) << 32 | UInt64(UInt32(bitPattern: position + 1))
        slots.withUnsafeMutableBufferPointer { $0[Self.slot(hash)] = entry }
    }
}
