import Foundation

/// The single writer: turns batches of queued appends into one frame and one sync.
///
/// Runs on its own `Thread`, not on the Swift concurrency pool, because fdatasync blocks for
/// milliseconds and must not starve the tasks that serve clients. A blocking `appendAndWait`
/// that finds nothing queued or being written commits its append itself (`commit`), holding
/// the writer's role from `AppendQueue`: one batch is written at a time either way, and a bulk
/// load's batches, which follow one another, skip two thread hand-offs each (W1 about a sixth
/// faster).
final class JournalWriter: @unchecked Sendable {
    // unowned(unsafe): the journal waits in deinit for this thread to stop, so its memory is
    // still there; plain `unowned` would trap once deinit has begun.
    private unowned(unsafe) let journal: Journal
    private let compressor: ZstdCompressor
    private let stopped = DispatchSemaphore(value: 0)
    /// The frame being written, reused so each commit does not allocate and zero a new buffer.
    private var frame: [UInt8] = []
    /// Versions of the streams the writer has looked up or written, and those of the frame
    /// being built.
    private var streams: StreamVersionCache
    /// Zeros for preallocation, allocated on first use.
    private var zeros: [UInt8] = []
    /// False once preallocating failed in the open segment (a full disk): frames then just append
    /// until the next segment.
    private var preallocating = true

    init(journal: Journal) {
        self.journal = journal
        compressor = ZstdCompressor(level: journal.options.compressionLevel)
        streams = StreamVersionCache(capacity: journal.options.writerCachedStreams)
    }

    func run() {
        while let batch = journal.queue.take(maximumBytes: journal.options.maximumFrameBytes) {
            commit(batch)
        }
        if journal.options.durability == .relaxed, journal.lock.withLock({ journal.failure == nil }) {
            // The last checkpoint is signed below only if this holds.
            try? journal.syncOpenSegmentOrStop("while closing")
        }
        journal.writeCheckpointIfDue(closing: true)
        stopped.signal()
    }

    /// Processes one batch as the holder of the writer's role (`AppendQueue.take` or
    /// `claimIfIdle`), on whichever thread holds it, and gives the role back.
    func commit(_ batch: [AppendQueue.Item]) {
        journal.checkSignedRecordOnce()
        process(batch)
        journal.writeCheckpointIfDue(closing: false)
        journal.queue.finished()
    }

    func waitUntilStopped() {
        stopped.wait()
        stopped.signal()
    }

    // MARK: One batch

    /// An event of the frame, for the open segment's table once the frame is durable.
    private typealias TableEvent = (position: UInt64, recordOffset: Int, streamHash: UInt64, version: UInt64, id: UUID)

    private struct Accepted {
        var item: AppendQueue.Item
        var result: AppendResult
    }

    private func process(_ batch: [AppendQueue.Item]) {
        if let failure = journal.lock.withLock({ journal.failure }) {
            for item in batch { item.completion(.failure(failure)) }
            return
        }
        let firstPosition = journal.nextPosition
        var position = firstPosition
        let time = max(journal.options.clock(), journal.lastRecordedAt)
        streams.beginFrame()
        var idsInFrame = PositionTable(capacity: batch.count * 4)
        var accepted: [Accepted] = []
        var retriesInFrame: [(item: AppendQueue.Item, of: Int)] = []
        var payload = ByteWriter(capacity: batch.reduce(0) { $0 + $1.append.byteSize })
        var tableEvents: [TableEvent] = []
        tableEvents.reserveCapacity(batch.reduce(0) { $0 + $1.append.events.count })
        var damage: JournalError? = nil

        for item in batch {
            let append = item.append
            // Idempotency: a retry of a committed append answers with the original result.
            if append.events.contains(where: \.idWasGiven) {
                let retry: RetryClass
                do { retry = try classifyRetry(append, idsInFrame: idsInFrame, accepted: accepted) } catch {
                    // A committed event could not be read to tell whether this is a retry: damage,
                    // as for a stream's version below (writing it could store it twice).
                    let failure = error as? JournalError ?? .writerFailed(reason: "\(error)")
                    journal.poison(failure)
                    damage = failure
                    item.completion(.failure(failure))
                    continue
                }
                switch retry {
                case .new: break
                case .failed(let error): item.completion(.failure(error)); continue
                case .committed(let result): item.completion(.success(result)); continue
                case .inThisFrame(let k): retriesInFrame.append((item, k)); continue
                }
            }
            // Expected versions, against what is committed plus what this frame already holds.
            // `next[i]` is the version the next event of stream i gets (0 for a new stream).
            var next: [UInt64] = []
            next.reserveCapacity(append.expectations.count)
            var slots: [Int] = []
            slots.reserveCapacity(append.expectations.count)
            var conflicts: [VersionConflict] = []
            do {
                for (i, (stream, expected)) in append.expectations.enumerated() {
                    let slot = streams.slot(of: stream, hash: append.streamHashes[i])
                    let nextVersion = try streams.nextVersion(ofSlot: slot) { try journal.committedLastVersion(of: stream) }
                    slots.append(slot)
                    next.append(nextVersion)
                    let version = nextVersion == 0 ? nil : nextVersion - 1
                    if !expected.isSatisfied(by: version) {
                        conflicts.append(VersionConflict(stream: stream, expected: expected, actual: version))
                    }
                }
            } catch {
                // A sealed segment could not be read to learn a stream's version: that is damage.
                let failure = error as? JournalError ?? .writerFailed(reason: "\(error)")
                journal.poison(failure)
                damage = failure
                item.completion(.failure(failure))
                continue
            }
            if !conflicts.isEmpty {
                item.completion(.failure(.wrongExpectedVersion(conflicts)))
                continue
            }
            let first = position
            let base = payload.count
            payload.bytes.append(contentsOf: append.records)
            payload.bytes.withUnsafeMutableBytes { frameBytes in
                for e in append.events {
                    let version = next[e.streamIndex]
                    next[e.streamIndex] = version + 1
                    RecordCodec.fill(record: base + e.recordOffset, position: position, version: version, recordedAtMicros: time, in: frameBytes)
                    tableEvents.append((position, base + e.recordOffset, append.streamHashes[e.streamIndex], version, e.id))
                    idsInFrame.insert(hash: IndexHash.hash(e.id), value: UInt64(accepted.count))
                    position += 1
                }
            }
            var versions: [String: UInt64] = [:]
            versions.reserveCapacity(append.expectations.count)
            for (i, (stream, _)) in append.expectations.enumerated() {
                streams.setPendingNextVersion(next[i], ofSlot: slots[i])
                versions[stream] = next[i] - 1
            }
            accepted.append(Accepted(item: item, result: AppendResult(firstPosition: first, lastPosition: position - 1, versions: versions, wasAlreadyCommitted: false)))
        }
        if let failure = damage {
            // Damage found while deciding this batch: none of it is written.
            for a in accepted { a.item.completion(.failure(failure)) }
            for r in retriesInFrame { r.item.completion(.failure(failure)) }
            return
        }
        guard !accepted.isEmpty else { return }

        do {
            let (frameBytes, writeAndSync) = try writeFrame(payload: payload.bytes, firstPosition: firstPosition, eventCount: UInt32(position - firstPosition),
                                                            time: time, tableEvents: tableEvents)
            journal.options.onCommit?(CommitStatistics(events: Int(position - firstPosition), appends: accepted.count,
                                                       frameBytes: frameBytes, writeAndSync: writeAndSync))
        } catch {
            let failure = error as? JournalError ?? .writerFailed(reason: "\(error)")
            for a in accepted { a.item.completion(.failure(failure)) }
            for r in retriesInFrame { r.item.completion(.failure(failure)) }
            return
        }
        streams.commitFrame()
        for a in accepted { a.item.completion(.success(a.result)) }
        for r in retriesInFrame {
            var result = accepted[r.of].result
            result.wasAlreadyCommitted = true
            r.item.completion(.success(result))
        }
        if journal.openEnd >= UInt64(journal.options.segmentSizeLimit) { seal() }
    }

    private enum RetryClass {
        case new
        case committed(AppendResult)
        case inThisFrame(Int)
        case failed(JournalError)
    }

    /// Decides whether an append with caller-chosen ids is new, a retry, or a conflicting reuse.
    private func classifyRetry(_ append: PreparedAppend, idsInFrame: PositionTable, accepted: [Accepted]) throws -> RetryClass {
        var found: [(event: PreparedAppend.Event, committed: RecordedEvent?)] = []
        var inFrame: Set<Int> = []
        var missing: [UUID] = []
        for e in append.events {
            var frameMatch: Int? = nil
            idsInFrame.forEachCandidate(hash: IndexHash.hash(e.id)) { k in
                if accepted[Int(k)].item.append.events.contains(where: { $0.id == e.id }) { frameMatch = Int(k) }
                return frameMatch == nil
            }
            if let k = frameMatch {
                inFrame.insert(k)
                found.append((e, nil))
            } else if e.idWasGiven, let committed = try journal.committedEvent(id: e.id) {
                found.append((e, committed))
            } else {
                missing.append(e.id)
            }
        }
        if found.isEmpty { return .new }
        if !missing.isEmpty { return .failed(.partialDuplicate(committed: found.map(\.event.id), new: missing)) }
        if !inFrame.isEmpty {
            guard inFrame.count == 1, found.allSatisfy({ $0.committed == nil }), let k = inFrame.first else {
                return .failed(.partialDuplicate(committed: found.map(\.event.id), new: []))
            }
            let original = accepted[k].item.append.events
            guard original.count == append.events.count else {
                return .failed(.partialDuplicate(committed: found.map(\.event.id), new: original.map(\.id).filter { id in !append.events.contains { $0.id == id } }))
            }
            for (a, b) in zip(append.events, original) where a.id != b.id || a.stream != b.stream {
                return .failed(.idempotencyMismatch(eventID: a.id, committedStream: b.stream, requestedStream: a.stream))
            }
            return .inThisFrame(k)
        }
        var versions: [String: UInt64] = [:]
        var low = UInt64.max, high: UInt64 = 0
        for (e, committed) in found {
            let c = committed!
            guard c.stream == e.stream else { return .failed(.idempotencyMismatch(eventID: e.id, committedStream: c.stream, requestedStream: e.stream)) }
            versions[c.stream] = max(versions[c.stream] ?? 0, c.version)
            low = min(low, c.position)
            high = max(high, c.position)
        }
        return .committed(AppendResult(firstPosition: low, lastPosition: high, versions: versions, wasAlreadyCommitted: true))
    }

    // MARK: Disk

    private func writeFrame(payload: [UInt8], firstPosition: UInt64, eventCount: UInt32, time: Int64,
                            tableEvents: [TableEvent]) throws -> (bytes: Int, writeAndSync: Duration) {
        let chain = payload.withUnsafeBytes {
            FrameHeader.chainHash(previous: journal.chainHash, firstPosition: firstPosition, eventCount: eventCount, payload: $0)
        }
        frame.removeAll(keepingCapacity: true)
        payload.withUnsafeBytes { raw in
            let compressed = journal.options.compressionLevel > 0 ? compressor.compress(raw) : nil
            let stored = compressed ?? raw
            let header = FrameHeader(storedLength: UInt32(stored.count), payloadLength: UInt32(payload.count),
                                     codec: compressed == nil ? .none : .zstd, firstPosition: firstPosition, eventCount: eventCount, chainHash: chain)
            frame.append(contentsOf: header.encodedWithoutChecksum())
            let crc = CRC32C.checksum(stored, extending: CRC32C.checksum(frame))
            withUnsafeBytes(of: crc.littleEndian) { frame.append(contentsOf: $0) }
            frame.append(contentsOf: stored)
        }

        let offset = journal.openEnd
        let file = journal.openFile
        let started = ContinuousClock.now
        do {
            try file.writeAll(frame, at: offset)
        } catch {
            // Nothing of a failed write may stay behind a later frame: cut the file back.
            do { try file.truncate(to: offset) } catch {
                journal.poison(.writerFailed(reason: "could not remove a partly written frame from \(journal.openName) after a failed write: \(error)"))
            }
            journal.openFileSize = offset
            throw error
        }
        let end = offset + UInt64(frame.count)
        if end > journal.openFileSize { journal.openFileSize = preallocate(after: end, in: file) }
        if journal.options.durability == .durable { try journal.syncOpenSegmentOrStop() }
        let writeAndSync = ContinuousClock.now - started
        journal.lock.withLock {
            journal.openTable.addFrame(firstPosition: firstPosition, offset: offset)
            payload.withUnsafeBytes { records in
                for e in tableEvents {
                    journal.openTable.addEvent(position: e.position, stream: RecordCodec.streamBytes(ofRecordAt: e.recordOffset, in: records),
                                               streamHash: e.streamHash, version: e.version, id: e.id)
                }
            }
            journal.openEnd = offset + UInt64(frame.count)
            journal.nextPosition = firstPosition + UInt64(eventCount)
            journal.chainHash = chain
            journal.lastRecordedAt = time
        }
        journal.merkle.enqueue(payload: payload, firstPosition: firstPosition, eventCount: eventCount)
        journal.notifier.committed(through: firstPosition + UInt64(eventCount))
        return (frame.count, writeAndSync)
    }

    /// Writes zeros after the frame that ends at `end`, up to `options.preallocationBytes` more but
    /// not past the segment size limit, to be made durable by the frame's own fdatasync. Returns
    /// the file's size. A failure (a full disk) is not the frame's: the zeros are cut off again and
    /// the segment goes on without them.
    private func preallocate(after end: UInt64, in file: FileDescriptor) -> UInt64 {
        let options = journal.options
        let target = min(end + UInt64(max(options.preallocationBytes, 0)), UInt64(options.segmentSizeLimit))
        guard preallocating, target > end else { return end }
        if zeros.isEmpty { zeros = [UInt8](repeating: 0, count: min(options.preallocationBytes, 1 << 20)) }
        var at = end
        do {
            try zeros.withUnsafeBytes { raw in
                while at < target {
                    let n = Int(min(UInt64(raw.count), target - at))
                    try file.writeAll(UnsafeRawBufferPointer(rebasing: raw[0..<n]), at: at)
                    at += UInt64(n)
                }
            }
            return target
        } catch {
            preallocating = false
            options.log("preallocating \(journal.openName) after byte \(end) failed, frames append without it until the next segment: \(error)")
            // Zeros written before the failure are harmless (a preallocated tail), but cut them
            // so the file ends at the frame, as a writer without preallocation leaves it.
            do { try file.truncate(to: end); return end } catch { return (try? file.size()) ?? at }
        }
    }

    /// Seals the open segment: index written and durable, then a new segment created. A failure
    /// leaves the current segment open (it just grows past the limit) and is retried next frame.
    private func seal() {
        let j = journal
        do {
            // A sealed segment ends at its last frame: the preallocated zeros go first, durably,
            // before the index records the segment's length and a later segment makes it sealed.
            // A failed sync here stops the writer as one after a frame does: the kernel may have
            // dropped the pages and reports that once, so a later sync (a checkpoint's, the next
            // seal's) would succeed over frames that are not on disk.
            if try j.openFile.size() > j.openEnd {
                try j.openFile.truncate(to: j.openEnd)
                try j.syncOpenSegmentOrStop("while sealing it")
                j.openFileSize = j.openEnd
            } else if j.options.durability == .relaxed {
                try j.syncOpenSegmentOrStop("while sealing it")
            }
            let checksum = try j.openFile.checksum(length: j.openEnd)
            let contents = j.openTable.indexContents(segmentLength: j.openEnd, segmentChecksum: checksum, chainHash: j.chainHash,
                                                     lastRecordedAt: j.lastRecordedAt, merkle: j.merkle.frontier(through: j.nextPosition))
            let index = try Journal.writeIndex(contents, paths: j.paths)
            let ids = EventIDFilter(count: contents.eventIDs.count) { insert in
                for id in contents.eventIDs { insert(IndexHash.hash(id)) }
            }
            let header = SegmentHeader(journalID: j.journalID, firstPosition: j.nextPosition, previousChainHash: j.chainHash, createdAtMicros: j.options.clock())
            let newFile: FileDescriptor
            do {
                newFile = try Journal.createSegment(paths: j.paths, header: header, options: j.options)
            } catch {
                unlink(j.paths.indexPath(firstPosition: contents.firstPosition))
                if case .io(_, let path, EEXIST)? = error as? JournalError {
                    // Something else holds the next segment's name (a stray copy, a restored
                    // file): retrying each commit would seal again and again, and the file would
                    // make a gap at the next open. Stop taking appends and say why.
                    j.poison(.writerFailed(reason: "\(path) already exists where the next segment goes; the journal stopped taking appends (everything acknowledged is in \(j.openName)): move that file away and reopen"))
                    return
                }
                throw error
            }
            var retired = OpenSegmentTable(firstPosition: header.firstPosition)
            j.lock.withLock {
                j.sealed.append(SealedSegment(index: index, file: j.openFile, name: j.openName))
                j.idFilters.append(ids)
                j.openFile = newFile
                j.openName = JournalFormat.segmentName(firstPosition: header.firstPosition)
                swap(&j.openTable, &retired)
                j.openEnd = UInt64(JournalFormat.segmentHeaderSize)
                j.openFileSize = j.openEnd
            }
            preallocating = true
            let sealedFirst = contents.firstPosition
            // The old table (shared with `contents`) is a few hundred thousand small allocations:
            // freeing them took a tenth of a second that the next appends waited for. They are
            // handed over whole and freed on another thread.
            let garbage = (consume retired, consume contents)
            DispatchQueue.global(qos: .utility).async { withExtendedLifetime(garbage) {} }
            if j.options.packing != nil { j.packer.enqueue(sealedFirst) }
        } catch JournalError.writerFailed(let reason) {
            // A file the writer could not clean up, or a failed sync (already stopped): retrying
            // would build on a state nobody knows.
            j.poison(.writerFailed(reason: reason))
        } catch {
            if j.lock.withLock({ j.failure != nil }) {
                j.options.log("sealing \(j.openName) failed and the writer has stopped: \(error)")
            } else {
                j.options.log("sealing \(j.openName) failed, it stays open and sealing is retried: \(error)")
            }
        }
    }
}

extension Journal {
    /// fdatasync of the open segment. After a failed one the kernel may have dropped the pages:
    /// the file's state is unknown until recovery reads it back, so the writer stops here
    /// (PostgreSQL's fsyncgate lesson) and the error is rethrown.
    func syncOpenSegmentOrStop(_ context: String? = nil) throws {
        do { try openFile.syncData() } catch {
            poison(.writerFailed(reason: "fdatasync failed on \(openName)\(context.map { " " + $0 } ?? ""): \(error)"))
            throw error
        }
    }

    func poison(_ error: JournalError) {
        lock.withLock { if failure == nil { failure = error } }
        options.log("journal writer stopped: \(error)")
    }
}
