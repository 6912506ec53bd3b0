import Foundation
import Journal

/// Writes a simulation straight into a journal, in bulk appends of up to `maximumEventsPerAppend`
/// events, on a thread of its own so that generating the next batch overlaps writing this one.
///
/// Bulk appends keep every stream's expected version (the first decision's), so the journal still
/// refuses a simulation written over a journal it does not fit. They do merge the simulated
/// decisions' atomic boundaries, which is acceptable for a history loaded in bulk.
public final class JournalSink: EventSink, @unchecked Sendable {
    public let journal: Journal
    private let maximumEvents: Int
    private let maximumBytes: Int
    private var pending = AppendRequest(events: [], expectedVersions: [:])
    private var pendingBytes = 0

    private let condition = NSCondition()
    private var queue: [AppendRequest] = []
    private var inFlight = 0
    private var failure: (any Error)?
    private var closed = false
    private var thread: Thread?
    /// Events the journal acknowledged.
    public private(set) var eventsWritten: UInt64 = 0

    public init(journal: Journal, maximumEventsPerAppend: Int = 4_000, maximumBytesPerAppend: Int = 4 << 20) {
        self.journal = journal
        maximumEvents = max(1, min(maximumEventsPerAppend, JournalLimits().maximumEventsPerAppend))
        maximumBytes = max(1 << 16, min(maximumBytesPerAppend, JournalLimits().maximumAppendBytes / 2))
        // The thread holds the sink until `finish()` lets it stop.
        let thread = Thread { self.drain() }
        thread.name = "simulator-journal-sink"
        self.thread = thread
        thread.start()
    }

    public func write(_ appends: [SimulatedAppend]) throws {
        for append in appends {
            let size = append.events.reduce(0) { $0 + $1.data.count + $1.stream.utf8.count + 80 }
            if !pending.events.isEmpty, pending.events.count + append.events.count > maximumEvents || pendingBytes + size > maximumBytes {
                try submit()
            }
            pending.merge(append)
            pendingBytes += size
        }
    }

    public func finish() throws {
        if !pending.events.isEmpty { try submit() }
        condition.lock()
        closed = true
        condition.broadcast()
        while inFlight > 0 || !queue.isEmpty { condition.wait() }
        let failure = failure
        condition.unlock()
        if let failure { throw SimulationError.sinkFailed("\(failure)") }
    }

    private func submit() throws {
        condition.lock()
        defer { condition.unlock() }
        // Two appends queued are enough to keep the writer busy; more would only hold memory.
        while queue.count >= 2 && failure == nil { condition.wait() }
        if let failure { throw SimulationError.sinkFailed("\(failure)") }
        queue.append(pending)
        condition.broadcast()
        pending = AppendRequest(events: [], expectedVersions: [:])
        pendingBytes = 0
    }

    private func drain() {
        while true {
            condition.lock()
            while queue.isEmpty && !closed { condition.wait() }
            if queue.isEmpty && closed {
                condition.unlock()
                return
            }
            let request = queue.removeFirst()
            inFlight += 1
            condition.broadcast()
            condition.unlock()

            var error: (any Error)?
            do { _ = try journal.appendAndWait(request) } catch let caught { error = caught }

            condition.lock()
            inFlight -= 1
            if let error, failure == nil { failure = error }
            if error == nil { eventsWritten += UInt64(request.events.count) }
            if failure != nil { queue.removeAll() }
            condition.broadcast()
            condition.unlock()
        }
    }
}
