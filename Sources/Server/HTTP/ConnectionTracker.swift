import Foundation
import NIOCore
import Synchronization

/// Every open connection and the deadline it must meet, so that one reaper task can close idle
/// and slow connections (a client that sends nothing, or a byte a second) and shutdown can close
/// the idle ones at once, then wait for the others to finish.
///
/// Connections are counted by where they came from, each against its own limit: TCP peers (any
/// user on the host, with no credentials) cannot take the places of the Unix socket's, while
/// drain, reap and shutdown cover every connection alike.
final class ConnectionTracker: @unchecked Sendable {
    /// The listener a connection came in on.
    enum Origin: Int, Sendable, CaseIterable {
        case unix, tcp
    }

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
        fileprivate let origin: Origin
        fileprivate var phase: Phase

        fileprivate init(id: Int, channel: any Channel, origin: Origin, phase: Phase) {
            self.id = id
            self.channel = channel
            self.origin = origin
            self.phase = phase
        }
    }

    private let lock = NSLock()
    private var entries: [Int: Slot] = [:]
    /// Open connections of each origin (indexed by `Origin.rawValue`).
    private var openCounts = [Int](repeating: 0, count: Origin.allCases.count)
    private var nextID = 0
    /// Set under the lock (so no connection registers after a drain has listed them), read
    /// without it: every request asks.
    private let isDraining = Atomic<Bool>(false)
    private var emptyWaiters: [CheckedContinuation<Void, Never>] = []

    /// Refusals since the last one logged, and when that was, for each origin: a client that
    /// loops on connect while the server is full must not write a log line per attempt (nor hide
    /// the other listener's refusals behind its own).
    private var unloggedRefusals = [Int](repeating: 0, count: Origin.allCases.count)
    private var lastRefusalLogged = [ContinuousClock.Instant?](repeating: nil, count: Origin.allCases.count)

    var draining: Bool { isDraining.load(ordering: .acquiring) }

    /// Counts a connection of `origin` refused as over its limit; returns how many to log now
    /// (this one and those of the same origin not logged yet), or nil while the last line for
    /// that origin is less than a second old.
    func noteRefusal(_ origin: Origin, now: ContinuousClock.Instant = .now) -> Int? {
        lock.withLock {
            let k = origin.rawValue
            unloggedRefusals[k] += 1
            if let last = lastRefusalLogged[k], now - last < .seconds(1) { return nil }
            lastRefusalLogged[k] = now
            defer { unloggedRefusals[k] = 0 }
            return unloggedRefusals[k]
        }
    }
    /// Every open connection, whatever its origin.
    var count: Int { lock.withLock { entries.count } }
    /// The open connections that came in on `origin`.
    func count(_ origin: Origin) -> Int { lock.withLock { openCounts[origin.rawValue] } }

    /// Why a connection was not registered.
    enum Refusal: Error, Equatable {
        /// The server is shutting down: nothing new is served.
        case draining
        /// Every one of the `limit` connections of `origin` is taken; one client cannot exhaust
        /// the server's descriptors and memory by opening connections it never uses.
        case full(limit: Int, origin: Origin)
    }

    /// Refused once draining, or when `limit` connections of the same origin are already open
    /// (those of the other origin do not count).
    func register(_ channel: any Channel, origin: Origin, idleTimeout: Duration, limit: Int = .max) -> Result<Slot, Refusal> {
        lock.withLock {
            if isDraining.load(ordering: .relaxed) { return .failure(.draining) }
            if openCounts[origin.rawValue] >= limit { return .failure(.full(limit: limit, origin: origin)) }
            nextID += 1
            let slot = Slot(id: nextID, channel: channel, origin: origin, phase: .waiting(until: .now + idleTimeout))
            entries[nextID] = slot
            openCounts[origin.rawValue] += 1
            return .success(slot)
        }
    }

    func set(_ slot: Slot, _ phase: Phase) {
        lock.withLock { slot.phase = phase }
    }

    func remove(_ slot: Slot) {
        let waiters: [CheckedContinuation<Void, Never>] = lock.withLock {
            if entries.removeValue(forKey: slot.id) != nil { openCounts[slot.origin.rawValue] -= 1 }
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
