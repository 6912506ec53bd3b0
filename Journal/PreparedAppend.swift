import Foundation

/// An append checked against the limits and given its event ids, before it reaches the writer.
///
/// All of this runs on the caller's thread, so the single writer thread spends its time only on
/// what must be serial: version checks, positions, the frame and the sync.
struct PreparedAppend: Sendable {
    struct Event: Sendable {
        var stream: String
        var type: String
        var id: UUID
        var idWasGiven: Bool
        /// Index of the event's stream in `expectations`, so the writer never hashes stream names per event.
        var streamIndex: Int
        var metadata: [UInt8]
        var data: [UInt8]
    }

    var events: [Event]
    /// Every stream the append writes, in order of first appearance, with its expectation.
    var expectations: [(stream: String, expected: ExpectedVersion)]
    var byteSize: Int

    init(_ request: AppendRequest, limits: JournalLimits) throws {
        guard !request.events.isEmpty else { throw JournalError.emptyAppend }
        guard request.events.count <= limits.maximumEventsPerAppend else {
            throw JournalError.tooManyEvents(count: request.events.count, limit: limits.maximumEventsPerAppend)
        }
        var events: [Event] = []
        events.reserveCapacity(request.events.count)
        var seenIDs = PositionTable(capacity: request.events.count)
        var streamOrder: [String] = []
        var streamIndexes: [String: Int] = [:]
        var total = 0
        for (i, e) in request.events.enumerated() {
            if let problem = limits.streamIDProblem(e.stream) { throw JournalError.invalidStreamID(eventIndex: i, stream: e.stream, reason: problem) }
            if let problem = limits.typeProblem(e.type) { throw JournalError.invalidEventType(eventIndex: i, type: e.type, reason: problem) }
            let size = JournalFormat.recordFixedSize + e.stream.utf8.count + e.type.utf8.count + e.metadata.count + e.data.count
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
            let streamIndex: Int
            if let known = streamIndexes[e.stream] {
                streamIndex = known
            } else {
                streamIndex = streamOrder.count
                streamIndexes[e.stream] = streamIndex
                streamOrder.append(e.stream)
            }
            events.append(Event(stream: e.stream, type: e.type, id: id, idWasGiven: e.id != nil, streamIndex: streamIndex, metadata: e.metadata, data: e.data))
        }
        for stream in request.expectedVersions.keys where streamIndexes[stream] == nil {
            throw JournalError.expectationForUnwrittenStream(stream)
        }
        self.events = events
        expectations = streamOrder.map { ($0, request.expectedVersions[$0] ?? .any) }
        byteSize = total
    }

    var allIDsGiven: Bool { events.allSatisfy(\.idWasGiven) }
}

/// The hand-off between appending threads and the writer thread.
final class AppendQueue: @unchecked Sendable {
    typealias Completion = @Sendable (Result<AppendResult, JournalError>) -> Void

    struct Item {
        var append: PreparedAppend
        var completion: Completion
    }

    private let condition = NSCondition()
    private var pending: [Item] = []
    private var closed = false

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

    /// Waits for work and takes everything pending up to `maximumBytes` (at least one append).
    /// Returns nil once closed and drained.
    func take(maximumBytes: Int) -> [Item]? {
        condition.lock()
        defer { condition.unlock() }
        while pending.isEmpty && !closed { condition.wait() }
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
        return batch
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
