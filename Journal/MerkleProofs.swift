import Foundation

/// RFC 6962 / RFC 9162 Merkle audit paths and consistency proofs over the journal's events.
///
/// A proof is a list of subtree hashes. Each is the Merkle tree hash of a contiguous range of
/// leaves, so a proof is computed in two steps: the ranges follow from the tree sizes alone
/// (`inclusionRanges`, `consistencyRanges`), and their hashes from one pass over those leaves
/// (`MerkleRangeHasher`, or `MerkleProof.hashes(of:inJournal:)`). The verifiers are the
/// algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2 and need nothing but hashes.
public enum MerkleProof {
    /// The largest power of two strictly below `n` (n ≥ 2).
    @inline(__always) static func split(_ n: UInt64) -> UInt64 {
        UInt64(1) << (63 - UInt64((n - 1).leadingZeroBitCount))
    }

    /// Leaf ranges whose hashes form the audit path of leaf `index` in a tree of `treeSize`
    /// leaves, in proof order (the sibling nearest the leaf first). RFC 6962 §2.1.1, PATH(m, D[n]).
    public static func inclusionRanges(leaf index: UInt64, treeSize: UInt64) -> [Range<UInt64>] {
        precondition(index < treeSize, "leaf \(index) is outside a tree of \(treeSize)")
        var out: [Range<UInt64>] = []
        var lo: UInt64 = 0, hi = treeSize, m = index
        while hi - lo > 1 {
            let k = split(hi - lo)
            if m < k {
                out.append((lo + k)..<hi)
                hi = lo + k
            } else {
                out.append(lo..<(lo + k))
                lo += k
                m -= k
            }
        }
        return out.reversed()
    }

    /// Leaf ranges whose hashes prove that the tree of `oldSize` leaves is a prefix of the tree
    /// of `newSize` leaves, in proof order. RFC 6962 §2.1.2, PROOF(m, D[n]); empty when the sizes
    /// are equal or `oldSize` is 0.
    public static func consistencyRanges(oldSize: UInt64, newSize: UInt64) -> [Range<UInt64>] {
        precondition(oldSize <= newSize, "an old tree of \(oldSize) cannot be a prefix of \(newSize)")
        guard oldSize > 0, oldSize < newSize else { return [] }
        var out: [Range<UInt64>] = []
        var lo: UInt64 = 0, hi = newSize, m = oldSize
        var wholeOldTree = true
        while true {
            let n = hi - lo
            if m == n {
                if !wholeOldTree { out.append(lo..<hi) }
                break
            }
            let k = split(n)
            if m <= k {
                out.append((lo + k)..<hi)
                hi = lo + k
            } else {
                out.append(lo..<(lo + k))
                lo += k
                m -= k
                wholeOldTree = false
            }
        }
        return out.reversed()
    }

    /// RFC 9162 §2.1.3.2: does `proof` lead from `leafHash` at `leafIndex` to `root`?
    public static func verifyInclusion(leafHash: Digest32, leafIndex: UInt64, treeSize: UInt64, proof: [Digest32], root: Digest32) -> Bool {
        guard leafIndex < treeSize, proof.count <= 64 else { return false }
        var fn = leafIndex, sn = treeSize - 1
        var r = leafHash
        for p in proof {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                r = MerkleHash.node(p, r)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                r = MerkleHash.node(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == root
    }

    /// RFC 9162 §2.1.4.2: does `proof` show that the tree (`oldSize`, `oldRoot`) is a prefix of
    /// the tree (`newSize`, `newRoot`)?
    public static func verifyConsistency(oldSize: UInt64, newSize: UInt64, oldRoot: Digest32, newRoot: Digest32, proof: [Digest32]) -> Bool {
        guard oldSize <= newSize, proof.count <= 128 else { return false }
        if oldSize == newSize { return proof.isEmpty && oldRoot == newRoot }
        if oldSize == 0 { return proof.isEmpty && oldRoot == MerkleHash.empty }
        guard !proof.isEmpty else { return false }
        var path = proof
        if oldSize & (oldSize - 1) == 0 { path.insert(oldRoot, at: 0) }
        var fn = oldSize - 1, sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0], sr = path[0]
        for c in path.dropFirst() {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                fr = MerkleHash.node(c, fr)
                sr = MerkleHash.node(c, sr)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                sr = MerkleHash.node(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return fr == oldRoot && sr == newRoot && sn == 0
    }

    /// The journal ends before a proof's ranges do: it was cut or rolled back behind the
    /// checkpoint the proof is for, which is the journal's fault, not the request's.
    public struct TooFewEvents: Error, CustomStringConvertible {
        public var directory: String
        public var held: UInt64
        public var needed: UInt64
        public var description: String { "\(directory) holds \(held) events, a proof up to position \(needed) needs more" }
    }

    /// The hashes of `ranges` (disjoint, in any order), from one pass over the journal's records
    /// starting at the lowest range. Throws `TooFewEvents` if the journal holds fewer events than they need.
    public static func hashes(of ranges: [Range<UInt64>], inJournal reader: JournalReader) throws -> [Digest32] {
        guard let start = ranges.map(\.lowerBound).min(), let end = ranges.map(\.upperBound).max() else { return [] }
        var hasher = MerkleRangeHasher(ranges: ranges)
        let reached = try reader.forEachEvent(from: start) { view in
            hasher.add(leaf: MerkleHash.leaf(view.record), at: view.position)
            return view.position + 1 < end
        }
        guard reached >= end else { throw TooFewEvents(directory: reader.directory, held: reached, needed: end) }
        return hasher.roots
    }
}

/// Computes the Merkle tree hash of several disjoint leaf ranges while leaves stream past.
public struct MerkleRangeHasher: Sendable {
    private let ranges: [Range<UInt64>]
    private let order: [Int]
    private var frontiers: [MerkleFrontier]
    private var cursor = 0

    public init(ranges: [Range<UInt64>]) {
        self.ranges = ranges
        order = ranges.indices.sorted { ranges[$0].lowerBound < ranges[$1].lowerBound }
        frontiers = Array(repeating: MerkleFrontier(), count: ranges.count)
    }

    /// Leaves must come in increasing position order; positions outside every range are ignored.
    public mutating func add(leaf: Digest32, at position: UInt64) {
        while cursor < order.count, ranges[order[cursor]].upperBound <= position { cursor += 1 }
        guard cursor < order.count, ranges[order[cursor]].contains(position) else { return }
        frontiers[order[cursor]].append(leaf: leaf)
    }

    /// One root per range, in the order the ranges were given.
    public var roots: [Digest32] { frontiers.map(\.root) }
}

extension EventView {
    /// Reads one record (a Merkle leaf, as a receipt carries it) after checking that its declared
    /// lengths add up to exactly its size. The view is valid as long as `record` is.
    public static func validating(_ record: UnsafeRawBufferPointer) -> EventView? {
        guard record.count >= JournalFormat.recordFixedSize,
              Int(record.getInteger(at: 0) as UInt32) + 4 == record.count else { return nil }
        let view = EventView(record: record)
        guard JournalFormat.recordFixedSize + view.streamLength + view.typeLength + view.metadataLength + view.dataLength == record.count else { return nil }
        return view
    }
}
