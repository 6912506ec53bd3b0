import Foundation

/// The writer's memory of stream versions: what is committed, and what the frame being built
/// adds on top of it.
///
/// Every event of every append looks its stream up here before the frame is written, so this is
/// on the one serial path of the journal. A `[String: UInt64?]` cache plus a per-frame
/// `[String: UInt64]` overlay spent half of the writer's time in SipHash, string comparison and
/// dictionary growth. Here a stream id is hashed once per append (`StreamNameHash`, the seed
/// shared with the open segment's `StreamRuns`), found in a `StreamVersionTable`, and from then on
/// addressed by its dense slot: the frame's pending versions are plain arrays indexed by slot and
/// stamped with the frame's number, so beginning a frame clears nothing.
///
/// It is a cache: a stream not seen yet is loaded from the journal (open segment, then sealed
/// indexes) on first use, and the whole cache is dropped between frames once it holds more than
/// `capacity` streams, so its memory stays bounded however many streams the journal has.
struct StreamVersionCache {
    /// `next` of a slot whose committed version has not been loaded (or failed to load).
    private static let unknown = UInt64.max

    private var table = StreamVersionTable(seed: StreamNameHash.processSeed, initialNext: unknown)
    /// By slot: the next version once this frame's events are counted, valid when
    /// `pendingFrame[slot] == frame`.
    private var pendingNext: [UInt64] = []
    private var pendingFrame: [UInt32] = []
    private var touched: [Int] = []
    private var frame: UInt32 = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { table.count }

    /// Starts a frame: nothing pending. Drops the cache when it has outgrown its capacity.
    mutating func beginFrame() {
        touched.removeAll(keepingCapacity: true)
        if table.count > capacity {
            table = StreamVersionTable(seed: StreamNameHash.processSeed, initialNext: Self.unknown)
            pendingNext = []
            pendingFrame = []
        }
        advanceFrame()
    }

    private mutating func advanceFrame() {
        frame &+= 1
        if frame == 0 {
            // Wrapped after 2^32 frames: old stamps could match again, so clear them.
            for i in pendingFrame.indices { pendingFrame[i] = 0 }
            frame = 1
        }
    }

    /// The stream's slot; `hash` is `StreamNameHash.hash(stream, seed: StreamNameHash.processSeed)`.
    mutating func slot(of stream: String, hash: UInt64) -> Int {
        var name = stream
        let slot = name.withUTF8 { table.slot(of: UnsafeRawBufferPointer($0), hash: hash) }
        if slot == pendingNext.count {
            pendingNext.append(0)
            pendingFrame.append(0)
        }
        return slot
    }

    /// The version the stream's next event gets (0: the stream has no events), counting this
    /// frame's pending events. `loadLastVersion` reads the committed last version when the cache
    /// does not know it; when it throws, nothing is remembered and the next call tries again.
    mutating func nextVersion(ofSlot slot: Int, loadLastVersion: () throws -> UInt64?) rethrows -> UInt64 {
        if pendingFrame[slot] == frame { return pendingNext[slot] }
        let cached = table.nextVersion(ofSlot: slot)
        if cached != Self.unknown { return cached }
        let next = try loadLastVersion().map { $0 + 1 } ?? 0
        table.setNextVersion(next, ofSlot: slot)
        return next
    }

    /// Records that this frame brings the stream's next version to `next`.
    mutating func setPendingNextVersion(_ next: UInt64, ofSlot slot: Int) {
        if pendingFrame[slot] != frame {
            pendingFrame[slot] = frame
            touched.append(slot)
        }
        pendingNext[slot] = next
    }

    /// The frame is durable: its pending versions become the committed ones.
    mutating func commitFrame() {
        for slot in touched { table.setNextVersion(pendingNext[slot], ofSlot: slot) }
        touched.removeAll(keepingCapacity: true)
        advanceFrame()
    }
}
