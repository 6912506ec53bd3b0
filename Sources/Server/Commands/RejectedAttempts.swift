import Domain
import Foundation

/// Booking attempts refused by a rule, counted in memory per client fingerprint, minute and rule.
///
/// A bot can send thousands of refused bookings a second; one event each would flood the
/// journal. Counting them and writing one `BookingAttemptsRejected` per fingerprint, minute and
/// rule keeps every attempt on the record at a cost bounded by the number of clients.
final class RejectedAttempts: @unchecked Sendable {
    struct Key: Hashable {
        var fingerprint: Fingerprint
        var minute: Date
        var rule: RuleName
    }

    private let lock = NSLock()
    private var counts: [Key: (count: Int, last: Date)] = [:]
    private var dropped = 0
    /// At this many distinct buckets the server writes the evidence at once, the current minute
    /// included. A client picks its fingerprint, so buckets are not bounded by the number of
    /// real clients: past twice this many (the journal not keeping up, or refusing writes), a
    /// new bucket is counted as dropped instead of growing memory without bound.
    let capacity: Int

    init(capacity: Int = 100_000) { self.capacity = capacity }

    var isFull: Bool { lock.withLock { counts.count >= capacity } }

    /// Attempts refused while the buffer was at its hard limit, since the last call.
    func takeDropped() -> Int { lock.withLock { defer { dropped = 0 }; return dropped } }

    static func minute(of time: Date) -> Date {
        Date(timeIntervalSince1970: (time.timeIntervalSince1970 / 60).rounded(.down) * 60)
    }

    /// Counts one refused attempt; true when the buffer is full and should be flushed now.
    @discardableResult
    func record(_ fingerprint: Fingerprint, rule: RuleName, at time: Date) -> Bool {
        let key = Key(fingerprint: fingerprint, minute: Self.minute(of: time), rule: rule)
        return lock.withLock {
            let previous = counts[key]
            if previous == nil, counts.count >= 2 * capacity {
                dropped += 1
                return true
            }
            counts[key] = ((previous?.count ?? 0) + 1, max(previous?.last ?? time, time))
            return counts.count >= capacity
        }
    }

    var pendingAttempts: Int { lock.withLock { counts.values.reduce(0) { $0 + $1.count } } }

    /// Removes and returns the evidence of every minute that ended before `now`, or of every
    /// minute when `now` is nil (shutdown).
    func drain(endedBefore now: Date?) -> [BookingAttemptsRejected] {
        let current = now.map(Self.minute(of:))
        let taken: [(Key, (count: Int, last: Date))] = lock.withLock {
            let due = counts.filter { current == nil || $0.key.minute < current! }
            for key in due.keys { counts.removeValue(forKey: key) }
            return Array(due)
        }
        return taken
            .sorted { ($0.0.minute, $0.0.fingerprint, $0.0.rule.rawValue) < ($1.0.minute, $1.0.fingerprint, $1.0.rule.rawValue) }
            .flatMap { key, value in
                // An event holds at most `maximumCount` (the catalogue's bound); more attempts in
                // one minute take several events, whose counts add up, rather than being cut off.
                stride(from: 0, to: value.count, by: Self.maximumCount).map { done in
                    BookingAttemptsRejected(fingerprint: key.fingerprint, minute: key.minute, rule: key.rule,
                                            count: min(value.count - done, Self.maximumCount), occurredAt: value.last)
                }
            }
    }

    /// The largest `count` one `BookingAttemptsRejected` may carry.
    static let maximumCount = 1_000_000

    /// Puts evidence back after a failed write, so it is tried again at the next flush.
    func restore(_ evidence: [BookingAttemptsRejected]) {
        lock.withLock {
            for e in evidence {
                let key = Key(fingerprint: e.fingerprint, minute: e.minute, rule: e.rule)
                let previous = counts[key]
                counts[key] = ((previous?.count ?? 0) + e.count, max(previous?.last ?? e.occurredAt, e.occurredAt))
            }
        }
    }
}
