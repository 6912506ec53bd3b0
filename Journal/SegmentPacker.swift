import CJournalSupport
import Foundation

/// How sealed segments are packed: their frames rewritten into blocks compressed together.
///
/// A live frame is compressed alone, right before its fdatasync: 100 events of the simulated mix
/// share too little for zstd to find (about 94 bytes an event). Once a segment is sealed nothing
/// waits on it, so a background thread rewrites it with a few hundred kilobytes of frames per
/// zstd frame and positions and times left to their neighbours, which stores the same events
/// about 10 % smaller: 83 bytes an event instead of 93 (FORMAT.md, section 3.1).
public struct SegmentPacking: Sendable, Equatable {
    /// Decoded bytes of frames per block. A read of one event decompresses its whole block, so
    /// this trades size against the cost of a random read: on the bench mix, 256 KiB blocks
    /// store 83.1 bytes an event and 1 MiB blocks 81.1, for four times the work per read.
    public var blockBytes: Int = 256 << 10
    /// zstd level of the blocks; it costs only background CPU. 0 stores blocks as is, which only
    /// a reader without zstd wants: otherwise a segment is packed only when that makes it smaller.
    public var compressionLevel: Int32 = 1

    public init() {}
}

/// The background thread that packs sealed segments, one at a time, oldest first.
///
/// It starts only after the sealed-segment check of opening has ended, because that check may
/// swap in rebuilt indexes; afterwards the writer hands it each segment it seals.
final class SegmentPacker: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [UInt64] = []
    /// Set by `stop`: no more segments are taken; `abandoning` also cuts the current one short.
    private var stopping = false
    private var abandoning = false
    private var busy = false
    private var thread: Thread?
    private let stopped = DispatchSemaphore(value: 0)

    /// Queues the sealed segment starting at `firstPosition`.
    func enqueue(_ firstPosition: UInt64) {
        condition.withLock {
            pending.append(firstPosition)
            condition.broadcast()
        }
    }

    private var isStopping: Bool { condition.withLock { stopping } }

    /// True once `stop(finishingQueued: false)` was called: a pack in progress gives up at its next block.
    var isAbandoning: Bool { condition.withLock { abandoning } }

    func start(for journal: Journal, packing: SegmentPacking) {
        let thread = Thread { [weak journal, self] in
            defer { self.stopped.signal() }
            // Packing must not take CPU or disk from appends: nice 19, idle I/O class (like an
            // LSM store's compaction pool). It still runs whenever the writer waits on fdatasync.
            _ = SegmentPacker.makeCurrentThreadBackground()
            // Wait for the opening check; a journal closed before it ends leaves the packing to
            // its next opening rather than wait for a check of every segment.
            while true {
                guard let j = journal else { return }
                if j.backgroundCheck.wait(timeout: 0.2) { break }
                if self.isStopping { return }
            }
            while let first = self.take() {
                defer { self.condition.withLock { self.busy = false; self.condition.broadcast() } }
                guard let j = journal else { return }
                do {
                    _ = try j.packSealedSegment(firstPosition: first, packing: packing, shouldStop: { self.isAbandoning })
                } catch {
                    // The segment stays as it was: packing is an optimisation, never a repair.
                    j.options.log("packing the segment at position \(first) failed, it stays unpacked: \(error)")
                }
            }
        }
        thread.name = "registre-packer"
        self.thread = thread
        thread.start()
    }

    /// Lowers the calling thread to nice 19 and the idle I/O class; the bits of what was refused.
    static func makeCurrentThreadBackground() -> Int32 {
        registre_make_thread_background()
    }

    private func take() -> UInt64? {
        condition.withLock {
            while pending.isEmpty, !stopping { condition.wait() }
            if abandoning || pending.isEmpty { return nil }
            busy = true
            return pending.removeFirst()
        }
    }

    /// Waits until every queued segment is packed (or failed to be); false after `timeout`.
    func waitUntilIdle(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        return condition.withLock {
            while !pending.isEmpty || busy {
                if !condition.wait(until: deadline) { return false }
            }
            return true
        }
    }

    /// Stops the thread and waits for it. `close` finishes the queue, so a closed journal's files
    /// do not depend on timing; a journal dropped without `close` abandons it, and the segments
    /// left are packed by a later opening.
    ///
    /// Called on the packer's own thread it does not wait: a journal dropped while a segment was
    /// being packed is released by the packer when it lets go of it, so its `deinit` runs there,
    /// and waiting would wait for itself. The thread ends once that call returns, as it finds
    /// the queue stopped and the journal gone.
    func stop(finishingQueued: Bool) {
        condition.withLock {
            stopping = true
            if !finishingQueued { abandoning = true }
            condition.broadcast()
        }
        if let thread, thread !== Thread.current {
            stopped.wait()
            stopped.signal()
        }
    }
}

extension Journal {
    /// Packs one sealed segment: the packed copy is written beside it, read back with every
    /// chain hash recomputed (`checkPacked`), given the segment's own index with its frames
    /// repointed to their blocks, then renamed over the segment.
    /// Returns false when there was nothing to do (already packed, gone, or no smaller).
    ///
    /// The index is renamed before the segment. A crash between the two renames leaves an index
    /// whose segment length does not match the file, which opening rebuilds (and readers skip);
    /// either way each file on disk is whole. Readers holding the old segment open keep reading
    /// the old file, which stays valid until they close it.
    func packSealedSegment(firstPosition first: UInt64, packing: SegmentPacking, shouldStop: () -> Bool) throws -> Bool {
        let found: SealedSegment? = lock.withLock {
            guard failure == nil, let k = sealed.firstIndex(where: { $0.index.firstPosition == first }) else { return nil }
            return sealed[k]
        }
        guard let segment = found, segment.index.hasSoundChecksum() else { return false }
        let header = try Self.readHeader(segment.file, name: segment.name)
        guard header.minimumReaderVersion < JournalFormat.packedVersion else { return false }
        let final = paths.segmentPath(firstPosition: first)
        let temporary = final + ".packing"
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        guard let packed = try Self.writePacked(segment: segment.file, name: segment.name, length: segment.index.segmentLength, header: header,
                                                to: temporary, packing: packing, maximumPayload: JournalFormat.maximumPayloadBytes, shouldStop: shouldStop)
        else { return false }
        try Self.checkPacked(packed, of: segment, header: header, maximumPayload: JournalFormat.maximumPayloadBytes)
        // The index keeps its positions, ids and runs: only the frames' offsets and the file change.
        guard let bytes = segment.index.repointed(segmentLength: packed.length, segmentChecksum: packed.checksum, frameOffsets: packed.frameOffsets) else {
            throw JournalError.writerFailed(reason: "the packed copy of \(segment.name) has another number of frames than its index")
        }
        let index = try Self.writeIndex(bytes: bytes, firstPosition: first, paths: paths)
        guard rename(temporary, final) == 0 else { throw JournalError.io(operation: "rename", path: final, errno: errno) }
        renamed = true
        try FileDescriptor.syncDirectory(paths.path)
        lock.withLock {
            if let k = sealed.firstIndex(where: { $0.index.firstPosition == first }) {
                blockCache.forget(sealed[k].file)
                sealed[k] = SealedSegment(index: index, file: packed.file, name: segment.name)
            }
        }
        return true
    }

    /// Reads a packed copy back as a reader will: every block checked and decoded, every frame's
    /// position and chain hash recomputed from its restored payload. The chain covers every byte
    /// of every event, so a copy that passes holds exactly the original's events.
    static func checkPacked(_ packed: PackedSegment, of segment: SealedSegment, header: SegmentHeader, maximumPayload: Int) throws {
        func mismatch(_ detail: String) -> JournalError {
            .writerFailed(reason: "the packed copy of \(segment.name) does not read back as the segment it was made from: \(detail)")
        }
        let cursor = FrameCursor(file: packed.file, from: UInt64(JournalFormat.segmentHeaderSize), limit: packed.length, maximumPayload: maximumPayload)
        var chain = header.previousChainHash
        var position = header.firstPosition
        var frames = 0
        while true {
            switch try cursor.next() {
            case .end:
                guard frames == segment.index.frameCount, position == segment.index.endPosition, chain == segment.index.chainHash else {
                    throw mismatch("it ends after \(frames) frames at position \(position)")
                }
                return
            case .incomplete(let offset, let reason), .invalid(let offset, _, let reason):
                throw mismatch("byte \(offset): \(reason)")
            case .frame(let frame, let offset, let payload):
                guard frames < packed.frameOffsets.count, offset == packed.frameOffsets[frames], frame.firstPosition == position else {
                    throw mismatch("frame \(frames) at byte \(offset) starts at position \(frame.firstPosition), expected \(position)")
                }
                chain = FrameHeader.chainHash(previous: chain, firstPosition: frame.firstPosition, eventCount: frame.eventCount, payload: payload)
                guard chain == frame.chainHash else { throw mismatch("the chain hash of frame \(frames) does not follow") }
                position += UInt64(frame.eventCount)
                frames += 1
            }
        }
    }

    static func packedHeader(_ header: SegmentHeader) -> SegmentHeader {
        var packed = header
        packed.formatVersion = JournalFormat.packedVersion
        packed.minimumReaderVersion = JournalFormat.packedVersion
        return packed
    }

    /// Writes the packed form of a segment to `path` and makes it durable; nil when it would not
    /// be smaller than the original or `shouldStop` said so. Damage in the original is thrown.
    static func writePacked(segment file: FileDescriptor, name: String, length: UInt64, header: SegmentHeader, to path: String,
                            packing: SegmentPacking, maximumPayload: Int, shouldStop: () -> Bool) throws -> PackedSegment? {
        let out = try FileDescriptor.open(path, flags: O_RDWR | O_CREAT | O_TRUNC, mode: 0o644)
        var writer = BlockWriter(packing: packing, start: packedHeader(header).encoded())
        let cursor = FrameCursor(file: file, from: UInt64(JournalFormat.segmentHeaderSize), limit: length, maximumPayload: maximumPayload)
        scan: while true {
            switch try cursor.next() {
            case .end:
                break scan
            case .incomplete(let offset, let reason), .invalid(let offset, _, let reason):
                throw JournalError.corrupt(JournalDamage(kind: .truncatedSealedSegment, file: name, offset: offset, position: nil,
                                                         detail: "cannot pack a sealed segment with a bad frame (\(reason))"))
            case .frame(let frame, let offset, let payload):
                if writer.wouldOverflow(adding: frame, payloadBytes: payload.count) {
                    if shouldStop() { return nil }
                    writer.finishBlock()
                    if writer.output.count >= 1 << 20 { try writer.flush(to: out) }
                }
                // A sound CRC does not make sound records: nothing before packing walked them.
                if let reason = writer.add(frame, payload: payload) {
                    throw JournalError.corrupt(JournalDamage(kind: .badRecord, file: name, offset: offset, position: frame.firstPosition,
                                                             detail: "cannot pack a sealed segment whose records do not decode (\(reason))"))
                }
            }
        }
        writer.finishBlock()
        try writer.flush(to: out)
        // Level 0 (blocks stored as is, for readers without zstd) is packed even though larger.
        guard writer.written < length || packing.compressionLevel == 0 else { return nil }
        try out.syncData()
        return PackedSegment(file: out, length: writer.written, checksum: writer.checksum, frameOffsets: writer.frameOffsets)
    }
}

/// A packed copy on disk, with what its index needs.
struct PackedSegment {
    var file: FileDescriptor
    var length: UInt64
    /// CRC32C of the whole file, as an index records it.
    var checksum: UInt32
    /// For each frame in order, the offset of the block holding it.
    var frameOffsets: [UInt64]
}

/// Gathers frames into blocks and blocks into output bytes for one packed segment.
private struct BlockWriter {
    let packing: SegmentPacking
    let compressor: ZstdCompressor
    var output: [UInt8]
    /// Bytes of the packed file already written out of `output`, and their CRC32C.
    var written: UInt64 = 0
    var checksum: UInt32 = 0
    /// The block offset of every frame added so far.
    private(set) var frameOffsets: [UInt64] = []
    private var content: [UInt8] = []
    private var firstPosition: UInt64 = 0
    private var eventCount: UInt32 = 0
    private var frameCount: UInt32 = 0

    init(packing: SegmentPacking, start: [UInt8]) {
        self.packing = packing
        compressor = ZstdCompressor(level: packing.compressionLevel)
        output = start
        content.reserveCapacity(packing.blockBytes + JournalFormat.frameHeaderSize)
    }

    /// A block holds whole frames; one larger than `blockBytes` gets a block of its own, and so
    /// does one whose events or frames would not fit the block header's 32-bit counts.
    func wouldOverflow(adding frame: FrameHeader, payloadBytes: Int) -> Bool {
        !content.isEmpty && (content.count + JournalFormat.frameHeaderSize + payloadBytes > packing.blockBytes
            || frame.eventCount > UInt32.max - eventCount || frameCount == UInt32.max)
    }

    /// Appends the frame stored as is, with its own header and chain hash and its records
    /// rewritten by `BlockRecords.encode`. Its CRC field stays zero: the block's CRC covers it.
    /// Returns why the records cannot be walked, or nil; after a failure the block is unusable.
    mutating func add(_ frame: FrameHeader, payload: UnsafeRawBufferPointer) -> String? {
        if frameCount == 0 { firstPosition = frame.firstPosition }
        frameOffsets.append(written + UInt64(output.count))
        let inner = FrameHeader(storedLength: UInt32(payload.count), payloadLength: UInt32(payload.count), codec: .none,
                                firstPosition: frame.firstPosition, eventCount: frame.eventCount, chainHash: frame.chainHash)
        content.append(contentsOf: inner.encodedWithoutChecksum())
        content.append(contentsOf: [0, 0, 0, 0])
        let payloadAt = content.count
        content.append(contentsOf: payload)
        let failure = content.withUnsafeMutableBytes { raw in
            BlockRecords.encode(UnsafeMutableRawBufferPointer(rebasing: raw[payloadAt...]), eventCount: frame.eventCount)
        }
        if let failure { return failure }
        eventCount += frame.eventCount
        frameCount += 1
        return nil
    }

    mutating func finishBlock() {
        guard frameCount > 0 else { return }
        content.withUnsafeBytes { raw in
            let compressed = packing.compressionLevel > 0 ? compressor.compress(raw) : nil
            let stored = compressed ?? raw
            let header = BlockHeader(storedLength: UInt32(stored.count), contentLength: UInt32(raw.count), codec: compressed == nil ? .none : .zstd,
                                     firstPosition: firstPosition, eventCount: eventCount, frameCount: frameCount)
            let head = header.encodedWithoutChecksum()
            output.append(contentsOf: head)
            let crc = CRC32C.checksum(stored, extending: CRC32C.checksum(head))
            withUnsafeBytes(of: crc.littleEndian) { output.append(contentsOf: $0) }
            output.append(contentsOf: stored)
        }
        content.removeAll(keepingCapacity: true)
        eventCount = 0
        frameCount = 0
    }

    mutating func flush(to file: FileDescriptor) throws {
        try file.writeAll(output, at: written)
        checksum = CRC32C.checksum(output, extending: checksum)
        written += UInt64(output.count)
        output.removeAll(keepingCapacity: true)
    }
}
