import Foundation
import NIOCore

/// Every open connection and the deadline it must meet, so that one reaper task can close idle
/// and slow connections (a client that sends nothing, or a byte a second) and shutdown can close
/// the idle ones at once, then wait for the others to finish.
final class ConnectionTracker: @unchecked Sendable {
    enum Phase {
        /// Between requests, or while the head arrives: bounded by the idle timeout.
        case waiting(until: ContinuousClock.Instant)
        /// Reading a body: bounded by the request timeout.
        case receiving(until: ContinuousClock.Instant)
        /// Working on a response; the server's own pace.
        case responding
        /// A subscription, which watches its own writes.
        case streaming
    }

    private struct Entry {
        var channel: any Channel
        var phase: Phase
    }

    private let lock = NSLock()
    private var entries: [Int: Entry] = [:]
    private var nextID = 0
    private var isDraining = false
    private var emptyWaiters: [CheckedContinuation<Void, Never>] = []

    var draining: Bool { lock.withLock { isDraining } }
    var count: Int { lock.withLock { entries.count } }

    /// Nil once draining: a connection accepted then is closed unserved.
    func register(_ channel: any Channel, idleTimeout: Duration) -> Int? {
        lock.withLock {
            if isDraining { return nil }
            nextID += 1
            entries[nextID] = Entry(channel: channel, phase: .waiting(until: .now + idleTimeout))
            return nextID
        }
    }

    func set(_ id: Int, _ phase: Phase) {
        lock.withLock { entries[id]?.phase = phase }
    }

    func remove(_ id: Int) {
        let waiters: [CheckedContinuation<Void, Never>] = lock.withLock {
            entries.removeValue(forKey: id)
            guard entries.isEmpty else { return [] }
            defer { emptyWaiters.removeAll() }
            return emptyWaiters
        }
        for w in waiters { w.resume() }
    }

    /// Returns once no connection is open (after `drain()`, once the last one has closed).
    func waitUntilEmpty() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now: Bool = lock.withLock {
                if entries.isEmpty { return true }
                emptyWaiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    /// Closes every connection whose deadline has passed; returns how many.
    @discardableResult
    func reap(now: ContinuousClock.Instant = .now) -> Int {
        let late: [any Channel] = lock.withLock {
            entries.values.compactMap { e in
                switch e.phase {
                case .waiting(let until), .receiving(let until): until < now ? e.channel : nil
                case .responding, .streaming: nil
                }
            }
        }
        for channel in late { channel.close(promise: nil) }
        return late.count
    }

    /// Stops new requests: connections between requests are closed now, the others after their response.
    func drain() {
        let idle: [any Channel] = lock.withLock {
            isDraining = true
            return entries.values.compactMap { if case .waiting = $0.phase { $0.channel } else { nil } }
        }
        for channel in idle { channel.close(promise: nil) }
    }
}
