import Foundation

/// Wakes tasks waiting for the journal to grow: live subscriptions and projections follow the
/// log through this instead of polling.
final class CommitNotifier: @unchecked Sendable {
    private let lock = NSLock()
    private var waiters: [Int: (position: UInt64, continuation: CheckedContinuation<Bool, Never>)] = [:]
    private var nextID = 0
    private var end: UInt64
    private var closed = false

    /// Tests only: runs in `wait` after the wait's id is taken and before it is registered, to
    /// widen the window in which its timer could fire first.
    var beforeRegistering: (@Sendable () -> Void)?

    init(end: UInt64) { self.end = end }

    /// Called by the writer after each commit, outside the journal lock.
    func committed(through newEnd: UInt64) {
        let ready: [CheckedContinuation<Bool, Never>] = lock.withLock {
            end = newEnd
            let due = waiters.filter { $0.value.position < newEnd }
            for key in due.keys { waiters.removeValue(forKey: key) }
            return due.map(\.value.continuation)
        }
        for c in ready { c.resume(returning: true) }
    }

    var isClosed: Bool { lock.withLock { closed } }

    func close() {
        let all: [CheckedContinuation<Bool, Never>] = lock.withLock {
            closed = true
            defer { waiters.removeAll() }
            return waiters.values.map(\.continuation)
        }
        for c in all { c.resume(returning: false) }
    }

    /// True once the journal holds an event at `position` or later; false on timeout or close.
    ///
    /// The timer starts only once the wait is registered: a timer that fired before would find
    /// nothing to expire, and the wait would then sleep until the next commit (on a quiet
    /// journal, indefinitely: no heartbeat, no check for shutdown or a vanished client).
    func wait(beyond position: UInt64, timeout: Duration) async -> Bool {
        let id: Int? = lock.withLock {
            if end > position || closed { return nil }
            nextID += 1
            return nextID
        }
        guard let id else { return lock.withLock { end > position } }
        beforeRegistering?()
        var timer: Task<Void, Never>?
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let resumeNow: Bool = lock.withLock {
                if end > position || closed { return true }
                waiters[id] = (position, continuation)
                return false
            }
            if resumeNow {
                continuation.resume(returning: lock.withLock { end > position })
                return
            }
            timer = Task {
                // Cancelled when the wait ended first: nothing to expire.
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
                self.expire(id)
            }
        }
        timer?.cancel()
        return result
    }

    private func expire(_ id: Int) {
        let waiter = lock.withLock { waiters.removeValue(forKey: id) }
        waiter?.continuation.resume(returning: false)
    }
}

extension Journal {
    /// Suspends until an event exists at `position` or later (true), or `timeout` passes or the
    /// journal closes (false). Subscriptions use it to follow the log and send heartbeats.
    public func waitForEvents(beyond position: UInt64, timeout: Duration = .seconds(5)) async -> Bool {
        await notifier.wait(beyond: position, timeout: timeout)
    }

    /// True once `close()` has begun: `waitForEvents` then returns at once, so a follower that
    /// waits in a loop must stop.
    public var isClosedForFollowers: Bool { notifier.isClosed }
}
