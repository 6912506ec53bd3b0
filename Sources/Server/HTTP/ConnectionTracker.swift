import Foundation
import NIOCore
import Synchronization

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
        /// Writing the connection's last answer, after which it closes: bounded by the idle
        /// timeout, so a client that never reads it cannot hold the connection (and the
        /// server's shutdown) for ever.
        case writingLast(until: ContinuousClock.Instant)
        /// A subscription, which watches its own writes.
        case streaming
    }

    /// One connection's place in the table, held by its handler so that a change of phase (three
    /// per request) is a store under the lock, not a lookup. Its fields belong to the tracker's lock.
    final class Slot: @unchecked Sendable {
        fileprivate let id: Int
        fileprivate let channel: any Channel
        fileprivate var phase: Phase

        fileprivate init(id: Int, channel: any Channel, phase: Phase) {
            self.id = id
            self.channel = channel
            self.phase = phase
        }
    }

    private let lock = NSLock()
    private var entries: [Int: Slot] = [:]
    private var nextID = 0
    /// Set under the lock (so no connection registers after a drain has listed them), read
    /// without it: every request asks.
    private let isDraining = Atomic<Bool>(false)
    private var emptyWaiters: [CheckedContinuation<Void, Never>] = []

    /// Refusals since the last one logged, and when that was: a client that loops on connect
    /// while the server is full must not write a log line per attempt.
    private var unloggedRefusals = 0
    private var lastRefusalLogged: ContinuousClock.Instant?

    var draining: Bool { isDraining.load(ordering: .acquiring) }

    /// Counts a connection refused as over the limit; returns how many to log now (this one and
    /// those not logged yet), or nil while the last line is less than a second old.
    func noteRefusal(now: ContinuousClock.Instant = .now) -> Int? {
        lock.withLock {
            unloggedRefusals += 1
            if let last = lastRefusalLogged, now - last < .seconds(1) { return nil }
            lastRefusalLogged = now
            defer { unloggedRefusals = 0 }
            return unloggedRefusals
        }
    }
    var count: Int { lock.withLock { entries.count } }

    /// Why a connection was not registered.
    enum Refusal: Error, Equatable {
        /// The server is shutting down: nothing new is served.
        case draining
        /// Every one of the `limit` connections is taken; one client cannot exhaust the server's
        /// descriptors and memory by opening connections it never uses.
        case full(limit: Int)
    }

    /// Refused once draining, or when `limit` connections are already open.
    func register(_ channel: any Channel, idleTimeout: Duration, limit: Int = .max) -> Result<Slot, Refusal> {
        lock.withLock {
            if isDraining.load(ordering: .relaxed) { return .failure(.draining) }
            if entries.count >= limit { return .failure(.full(limit: limit)) }
            nextID += 1
            let slot = Slot(id: nextID, channel: channel, phase: .waiting(until: .now + idleTimeout))
            entries[nextID] = slot
            return .success(slot)
        }
    }

    func set(_ slot: Slot, _ phase: Phase) {
        lock.withLock { slot.phase = phase }
    }

    func remove(_ slot: Slot) {
        let waiters: [CheckedContinuation<Void, Never>] = lock.withLock {
            entries.removeValue(forKey: slot.id)
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
                case .waiting(let until), .receiving(let until), .writingLast(let until): until < now ? e.channel : nil
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
            isDraining.store(true, ordering: .releasing)
            return entries.values.compactMap { if case .waiting = $0.phase { $0.channel } else { nil } }
        }
        for channel in idle { channel.close(promise: nil) }
    }
}
