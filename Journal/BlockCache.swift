import Synchronization

/// Decoded blocks of packed sealed segments, shared by every read of one journal.
///
/// A random read in a packed segment (an event by id, a stream's events, the writer confirming
/// a stream run) has to decompress and check the whole 256 KiB block around its frame: about
/// 0.2 ms, where the frame alone is a few kilobytes. Reads cluster (a stream's events, a
/// dossier's history, the same slots under a booking race), so the blocks read last are kept,
/// decoded and checked, up to a byte budget, and the least recently used goes first. This is
/// what SQLite's page cache and RocksDB's block cache do for the same reason.
///
/// Blocks are keyed by the segment file they came from, not its name: packing replaces the file
/// behind a name, and the packer forgets the old file's blocks when it does.
final class BlockCache: Sendable {
    /// One decoded block: its content and the frames in it, as `FrameCursor` found them.
    final class Block: Sendable {
        let content: [UInt8]
        let frames: [(header: FrameHeader, payload: Range<Int>)]

        init(content: [UInt8], frames: [(header: FrameHeader, payload: Range<Int>)]) {
            self.content = content
            self.frames = frames
        }

        /// The frame holding `position`, handed to `body` with its payload.
        func withFrame<R>(containing position: UInt64, _ body: (FrameHeader, UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
            guard let f = frames.first(where: { position < $0.header.firstPosition + UInt64($0.header.eventCount) }),
                  f.header.firstPosition <= position else { return nil }
            return try content.withUnsafeBytes { try body(f.header, UnsafeRawBufferPointer(rebasing: $0[f.payload])) }
        }
    }

    private struct Key: Hashable {
        let file: ObjectIdentifier
        let offset: UInt64
    }

    private struct Entry {
        /// Held so that the file object, and with it its identity, outlives the entry.
        let file: FileDescriptor
        let block: Block
        var lastUse: UInt64
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        var bytes = 0
        var clock: UInt64 = 0
        var hits = 0
        var misses = 0
    }

    let capacityBytes: Int
    private let state = Mutex(State())

    init(capacityBytes: Int) {
        self.capacityBytes = capacityBytes
    }

    /// The block at `offset` of `file`, if it is cached.
    func block(in file: FileDescriptor, at offset: UInt64) -> Block? {
        state.withLock { s in
            s.clock += 1
            let key = Key(file: ObjectIdentifier(file), offset: offset)
            guard var entry = s.entries[key] else { s.misses += 1; return nil }
            s.hits += 1
            entry.lastUse = s.clock
            s.entries[key] = entry
            return entry.block
        }
    }

    /// Keeps `block`, evicting the least recently used blocks past the budget. A block larger
    /// than the whole budget is not kept.
    func insert(_ block: Block, in file: FileDescriptor, at offset: UInt64) {
        let size = block.content.count
        guard size <= capacityBytes else { return }
        state.withLock { s in
            s.clock += 1
            let key = Key(file: ObjectIdentifier(file), offset: offset)
            if let old = s.entries.updateValue(Entry(file: file, block: block, lastUse: s.clock), forKey: key) {
                s.bytes -= old.block.content.count
            }
            s.bytes += size
            // At most a few hundred entries: a linear pass for the oldest is cheaper than
            // keeping a list in order on every hit.
            while s.bytes > capacityBytes, let oldest = s.entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
                s.bytes -= oldest.value.block.content.count
                s.entries[oldest.key] = nil
            }
        }
    }

    /// Drops every block of `file` (a segment replaced by its packed form, or closed).
    func forget(_ file: FileDescriptor) {
        let id = ObjectIdentifier(file)
        state.withLock { s in
            for (key, entry) in s.entries where key.file == id {
                s.bytes -= entry.block.content.count
                s.entries[key] = nil
            }
        }
    }

    /// Blocks and decoded bytes held, and lookups answered from the cache or not, since opening.
    var statistics: (blocks: Int, bytes: Int, hits: Int, misses: Int) {
        state.withLock { ($0.entries.count, $0.bytes, $0.hits, $0.misses) }
    }
}
