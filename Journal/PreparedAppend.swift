import Foundation

/// An append checked against the limits and given its event ids, before it reaches the writer.
///
/// All of this runs on the caller's thread, so the single writer thread spends its time only on
/// what must be serial: version checks, positions, the frame and the sync. Even the event records
/// are encoded here (`records`), with their position, version and time left zero: the writer
/// copies an append's records into the frame at once and fills those three fields in place, so
/// it touches neither the events' strings nor their reference counts.
struct PreparedAppend: Sendable {
    struct Event: Sendable {
        var stream: String
        var id: UUID
        var idWasGiven: Bool
        /// Index of the event's stream in `expectations`, so the writer never hashes stream names per event.
        var streamIndex: Int
        /// Where the event's record starts in `records`.
        var recordOffset: Int
    }

    var events: [Event]
    /// The events' records, back to back, as FORMAT.md lays them out, with position, version and
    /// recorded-at zero (see `RecordCodec.fill`).
    var records: [UInt8]
    /// Every stream the append writes, in order of first appearance, with its expectation.
    var expectations: [(stream: String, expected: ExpectedVersion)]
    /// By expectation: the stream id's `StreamNameHash` with the process seed, computed here on
    /// the caller's thread so the writer thread does not hash stream ids.
    var streamHashes: [UInt64]
    var byteSize: Int

    init(_ request: AppendRequest, limits: JournalLimits) throws {
        guard !request.events.isEmpty else { throw JournalError.emptyAppend }
        guard request.events.count <= limits.maximumEventsPerAppend else {
            throw JournalError.tooManyEvents(count: request.events.count, limit: limits.maximumEventsPerAppend)
        }
        var events: [Event] = []
        events.reserveCapacity(request.events.count)
        var records = ByteWriter(capacity: request.events.reduce(0) { $0 + JournalFormat.recordFixedSize + 64 + $1.metadata.count + $1.data.count })
        var seenIDs = PositionTable(capacity: request.events.count)
        var streamOrder: [String] = []
        var streamHashes: [UInt64] = []
        var streamIndexes = StreamIndexes(capacity: request.events.count)
        var total = 0
        for (i, e) in request.events.enumerated() {
            if let problem = limits.streamIDProblem(e.stream) { throw JournalError.invalidStreamID(eventIndex: i, stream: e.stream, reason: problem) }
            if let problem = limits.typeProblem(e.type) { throw JournalError.invalidEventType(eventIndex: i, type: e.type, reason: problem) }
            let size = JournalLimits.recordBytes(stream: e.stream, type: e.type, metadata: e.metadata.count, data: e.data.count)
            guard size <= limits.maximumEventBytes else { throw JournalError.eventTooLarge(eventIndex: i, size: size, limit: limits.maximumEventBytes) }
            total += size
            guard total <= limits.maximumAppendBytes else { throw JournalError.appendTooLarge(size: total, limit: limits.maximumAppendBytes) }
            if !request.jsonAlreadyValidated {
                do { try JSONValidation.validateObject(e.data) } catch { throw JournalError.invalidJSON(eventIndex: i, field: "data", failure: error) }
                do { try JSONValidation.validateObject(e.metadata) } catch { throw JournalError.invalidJSON(eventIndex: i, field: "metadata", failure: error) }
            }
            let id = e.id ?? UUID()
            let hash = IndexHash.hash(id)
            var duplicate = false
            seenIDs.forEachCandidate(hash: hash) { k in
                duplicate = events[Int(k)].id == id
                return !duplicate
            }
            if duplicate { throw JournalError.duplicateEventInAppend(id) }
            seenIDs.insert(hash: hash, value: UInt64(i))
            let streamHash = StreamNameHash.hash(e.stream, seed: StreamNameHash.processSeed)
            let found = streamIndexes.find(e.stream, hash: streamHash, among: streamOrder)
            let streamIndex: Int
            if let known = found.index {
                streamIndex = known
            } else {
                streamIndex = streamOrder.count
                streamIndexes.insert(streamIndex, hash: streamHash, at: found.slot)
                streamOrder.append(e.stream)
                streamHashes.append(streamHash)
            }
            events.append(Event(stream: e.stream, id: id, idWasGiven: e.id != nil, streamIndex: streamIndex, recordOffset: records.count))
            RecordCodec.append(position: 0, version: 0, id: id, recordedAtMicros: 0, endsAppend: i == request.events.count - 1,
                               stream: e.stream, type: e.type, metadata: e.metadata, data: e.data, to: &records)
        }
        if !request.expectedVersions.isEmpty {
            let written = Set(streamOrder)
            for stream in request.expectedVersions.keys where !written.contains(stream) {
                throw JournalError.expectationForUnwrittenStream(stream)
            }
        }
        self.events = events
        self.records = records.bytes
        expectations = request.expectedVersions.isEmpty
            ? streamOrder.map { ($0, .any) }
            : streamOrder.map { ($0, request.expectedVersions[$0] ?? .any) }
        self.streamHashes = streamHashes
        byteSize = total
    }

    /// The streams of one append, by first appearance: open addressing over indexes into the
    /// append's stream list, so finding an event's stream hashes its id once and compares bytes
    /// only when hashes agree.
    private struct StreamIndexes {
        private var hashes: [UInt64]
        private var indexes: [Int32]
        private let mask: Int

        init(capacity: Int) {
            var size = 8
            while size < capacity * 2 { size <<= 1 }
            hashes = Array(repeating: 0, count: size)
            indexes = Array(repeating: -1, count: size)
            mask = size - 1
        }

        /// The index of `stream` in `order`, or the free slot where it goes.
        func find(_ stream: String, hash: UInt64, among order: [String]) -> (index: Int?, slot: Int) {
            var i = Int(truncatingIfNeeded: hash) & mask
            while indexes[i] >= 0 {
                if hashes[i] == hash, order[Int(indexes[i])] == stream { return (Int(indexes[i]), i) }
                i = (i + 1) & mask
            }
            return (nil, i)
        }

        mutating func insert(_ index: Int, hash: UInt64, at slot: Int) {
            hashes[slot] = hash
            indexes[slot] = Int32(index)
        }
    }

    var allIDsGiven: Bool { events.allSatisfy(\.idWasGiven) }
}

/// The hand-off between appending threads and the writer thread, and the writer's role: one
/// batch is processed at a time, by the writer thread or, when nothing is queued or being
/// written, by a blocking caller itself (`claimIfIdle`), which then skips two thread hand-offs.
final class AppendQueue: @unchecked Sendable {
    typealias Completion = @Sendable (Result<AppendResult, JournalError>) -> Void

    struct Item {
        var append: PreparedAppend
        var completion: Completion
    }

    private let condition = NSCondition()
    private var pending: [Item] = []
    private var closed = false
    /// A batch is being processed (by the writer thread or a caller that claimed the role).
    private var busy = false

    func enqueue(_ append: PreparedAppend, completion: @escaping Completion) {
        condition.lock()
        if closed {
            condition.unlock()
            completion(.failure(.closed))
            return
        }
        pending.append(Item(append: append, completion: completion))
        condition.signal()
        condition.unlock()
    }

    /// Waits for work and for the writer's role, and takes everything pending up to
    /// `maximumBytes` (at least one append). Returns nil once closed, drained and idle. The
    /// caller processes the batch and then calls `finished()`.
    func take(maximumBytes: Int) -> [Item]? {
        condition.lock()
        defer { condition.unlock() }
        while busy || (pending.isEmpty && !closed) { condition.wait() }
        if pending.isEmpty { return nil }
        var bytes = 0
        var n = 0
        while n < pending.count {
            bytes += pending[n].append.byteSize
            if n > 0 && bytes > maximumBytes { break }
            n += 1
        }
        let batch = Array(pending[0..<n])
        pending.removeFirst(n)
        busy = true
        return batch
    }

    /// Takes the writer's role for the calling thread when nothing is queued or being written
    /// (so no earlier append is overtaken); true when it did. The caller then processes its own
    /// batch and calls `finished()`.
    func claimIfIdle() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !busy, pending.isEmpty, !closed else { return false }
        busy = true
        return true
    }

    /// The batch taken or claimed is processed: the role is free again.
    func finished() {
        condition.lock()
        busy = false
        // Only the writer thread waits on the role, and only for work: a caller that committed
        // its own append with nothing queued behind it wakes nobody.
        if !pending.isEmpty || closed { condition.broadcast() }
        condition.unlock()
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
