import CJournalSupport
import Foundation

/// RFC 6962 Merkle tree hashing over every event of the journal, in position order.
///
/// leaf = SHA-256(0x00 ‖ record bytes), node = SHA-256(0x01 ‖ left ‖ right). The record bytes are
/// the event record exactly as in the frame payload, length prefix included (FORMAT.md).
public enum MerkleHash {
    public static func leaf(_ record: UnsafeRawBufferPointer) -> Digest32 {
        Digest32.written { registre_sha256_prefixed(0, record.baseAddress, record.count, nil, 0, $0) }
    }

    public static func node(_ left: Digest32, _ right: Digest32) -> Digest32 {
        left.withBytes { l in
            right.withBytes { r in
                Digest32.written { registre_sha256_prefixed(1, l.baseAddress, 32, r.baseAddress, 32, $0) }
            }
        }
    }

    /// The hash of an empty tree: SHA-256 of nothing.
    public static let empty = ChainHasher.digest(UnsafeRawBufferPointer(start: nil, count: 0))
}

/// The Merkle leaf hashes of one frame's records, computed with the frame's chain hash
/// (`ChainHasher.update(_:hashingLeaves:of:)`) by the verifier, which hashes both anyway.
///
/// `locate` finds the records by their length prefixes before they are decoded; `leaf` hands a
/// precomputed hash only for exactly the record it was computed for (same place, same length), and
/// hashes any other record on the spot, so what the walk decodes decides, as before.
struct FrameLeaves {
    private var offsets: [UInt32] = []
    private var lengths: [UInt32] = []
    private var digests: [UInt8] = []
    private var hashed = 0

    /// Records one after another from the start of `payload` while their length prefixes fit in it.
    mutating func locate(in payload: UnsafeRawBufferPointer) {
        offsets.removeAll(keepingCapacity: true)
        lengths.removeAll(keepingCapacity: true)
        hashed = 0
        var offset = 0
        while payload.count - offset >= JournalFormat.recordFixedSize {
            let length = Int(payload.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian) + 4
            guard length >= JournalFormat.recordFixedSize, payload.count - offset >= length else { break }
            offsets.append(UInt32(offset))
            lengths.append(UInt32(length))
            offset += length
        }
    }

    /// Gives `body` the located records and room for their digests.
    mutating func hash(_ records: UnsafeRawBufferPointer,
                       _ body: (UnsafePointer<UInt32>?, UnsafePointer<UInt32>?, Int, UnsafeMutablePointer<UInt8>?) -> Void) {
        let count = offsets.count
        if digests.count < 32 * count { digests = [UInt8](repeating: 0, count: 32 * count) }
        offsets.withUnsafeBufferPointer { o in
            lengths.withUnsafeBufferPointer { l in
                digests.withUnsafeMutableBufferPointer { d in body(o.baseAddress, l.baseAddress, count, d.baseAddress) }
            }
        }
        hashed = count
    }

    /// The leaf hash of `record`, the `index`-th record the walk met in `payload`.
    func leaf(_ index: Int, of record: UnsafeRawBufferPointer, in payload: UnsafeRawBufferPointer) -> Digest32 {
        if index < hashed, let base = payload.baseAddress, let start = record.baseAddress,
           start - base == Int(offsets[index]), record.count == Int(lengths[index]) {
            return digests.withUnsafeBytes { Digest32(raw: UnsafeRawBufferPointer(rebasing: $0[(32 * index)..<(32 * index + 32)])) }
        }
        return MerkleHash.leaf(record)
    }
}

/// The right edge of the tree: one root per perfect subtree, largest first. Appending a leaf
/// costs O(1) amortised and the root of all leaves so far costs O(log n), so the writer can sign
/// a root at any position without keeping every leaf.
public struct MerkleFrontier: Sendable, Equatable {
    public private(set) var leafCount: UInt64 = 0
    /// Subtree roots for the set bits of `leafCount`, from the most significant down.
    public private(set) var subtrees: [Digest32] = []

    public init() {}

    public init?(leafCount: UInt64, subtrees: [Digest32]) {
        guard leafCount.nonzeroBitCount == subtrees.count else { return nil }
        self.leafCount = leafCount
        self.subtrees = subtrees
    }

    public mutating func append(leaf: Digest32) {
        var carry = leaf
        var size: UInt64 = 1
        while leafCount & size != 0 {
            carry = MerkleHash.node(subtrees.removeLast(), carry)
            size <<= 1
        }
        subtrees.append(carry)
        leafCount += 1
    }

    public var root: Digest32 {
        guard var r = subtrees.last else { return MerkleHash.empty }
        for s in subtrees.dropLast().reversed() { r = MerkleHash.node(s, r) }
        return r
    }
}

/// Hashes committed frames into the Merkle frontier on its own thread, off the append path:
/// the writer hands over each payload it has just synced, and whoever needs a root (a seal, a
/// checkpoint, `Journal.head`) waits until the follower has caught up to that position.
final class MerkleFollower: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [(payload: [UInt8], firstPosition: UInt64, eventCount: UInt32)] = []
    private var frontier: MerkleFrontier
    private var closed = false
    private var stopped = false

    init(frontier: MerkleFrontier) {
        self.frontier = frontier
        let thread = Thread { [unowned self] in self.run() }
        thread.name = "registre-merkle"
        thread.start()
    }

    func enqueue(payload: [UInt8], firstPosition: UInt64, eventCount: UInt32) {
        condition.lock()
        pending.append((payload, firstPosition, eventCount))
        condition.broadcast()
        condition.unlock()
    }

    /// The frontier over the first `position` events, once they are hashed.
    func frontier(through position: UInt64) -> MerkleFrontier {
        condition.lock()
        defer { condition.unlock() }
        while frontier.leafCount < position && !stopped { condition.wait() }
        return frontier
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        while !stopped { condition.wait() }
        condition.unlock()
    }

    private func run() {
        condition.lock()
        while true {
            while pending.isEmpty && !closed { condition.wait() }
            if pending.isEmpty && closed { break }
            let work = pending
            pending.removeAll()
            var f = frontier
            condition.unlock()
            for item in work {
                item.payload.withUnsafeBytes { payload in
                    try? RecordCodec.forEachRecord(in: payload, firstPosition: item.firstPosition, eventCount: item.eventCount) { view in
                        f.append(leaf: MerkleHash.leaf(view.record))
                    }
                }
            }
            condition.lock()
            frontier = f
            condition.broadcast()
        }
        stopped = true
        condition.broadcast()
        condition.unlock()
    }
}
