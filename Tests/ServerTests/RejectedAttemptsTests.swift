import Domain
import Foundation
import Testing
@testable import Server

@Suite struct RejectedAttemptsTests {
    let a = Fingerprint(hex: String(repeating: "a", count: 64))!
    let b = Fingerprint(hex: String(repeating: "b", count: 64))!

    @Test func countsPerFingerprintMinuteAndRuleAndWritesOnlyEndedMinutes() {
        let attempts = RejectedAttempts()
        let nine = Date(timeIntervalSince1970: 1_725_354_000)  // 2024-09-03T09:00:00Z
        for s in 0..<1000 { attempts.record(a, rule: .slotCapacityExceeded, at: nine.addingTimeInterval(Double(s % 60))) }
        for _ in 0..<3 { attempts.record(a, rule: .oneActiveAppointmentPerMotif, at: nine.addingTimeInterval(5)) }
        for _ in 0..<2 { attempts.record(b, rule: .slotCapacityExceeded, at: nine.addingTimeInterval(61)) }
        #expect(attempts.pendingAttempts == 1005)

        // At 09:01:30 only the 09:00 minute has ended.
        let first = attempts.drain(endedBefore: nine.addingTimeInterval(90))
        #expect(first.count == 2)
        #expect(first.map(\.count).sorted() == [3, 1000])
        #expect(first.allSatisfy { $0.fingerprint == a && $0.minute == nine })
        #expect(first.first { $0.rule == .slotCapacityExceeded }?.occurredAt == nine.addingTimeInterval(59))

        // Shutdown writes the rest, the current minute included.
        let rest = attempts.drain(endedBefore: nil)
        #expect(rest.count == 1)
        #expect(rest[0].fingerprint == b && rest[0].count == 2 && rest[0].minute == nine.addingTimeInterval(60))
        #expect(attempts.pendingAttempts == 0)
    }

    /// A client picks its fingerprint, so a fresh one per attempt makes a new bucket each time:
    /// the buffer says it is full at its capacity (the server then writes it at once) and never
    /// holds more than twice that, counting what it could not keep.
    @Test func aFloodOfFreshFingerprintsIsBoundedAndCountedNotKeptWithoutLimit() {
        let attempts = RejectedAttempts(capacity: 4)
        let t = Date(timeIntervalSince1970: 1_725_354_000)
        let fingerprints = (0..<20).map { Fingerprint(hex: String(repeating: "0", count: 62) + String(format: "%02x", $0))! }
        var full: [Bool] = []
        for f in fingerprints { full.append(attempts.record(f, rule: .slotNotPublished, at: t)) }
        #expect(full == Array(repeating: false, count: 3) + Array(repeating: true, count: 17))
        #expect(attempts.isFull && attempts.pendingAttempts == 8)
        #expect(attempts.takeDropped() == 12 && attempts.takeDropped() == 0)
        // A bucket already held still counts.
        attempts.record(fingerprints[0], rule: .slotNotPublished, at: t)
        #expect(attempts.pendingAttempts == 9 && attempts.takeDropped() == 0)
        #expect(attempts.drain(endedBefore: nil).count == 8 && !attempts.isFull)
    }

    /// One event carries at most a million attempts (the catalogue's bound): a minute with more
    /// takes several events, whose counts add up to every attempt.
    @Test func moreThanAMillionAttemptsInAMinuteAreWrittenWholeAcrossSeveralEvents() {
        let attempts = RejectedAttempts()
        let t = Date(timeIntervalSince1970: 1_725_354_000)
        attempts.restore([BookingAttemptsRejected(fingerprint: a, minute: t, rule: .slotCapacityExceeded, count: 1, occurredAt: t)])
        attempts.restore([BookingAttemptsRejected(fingerprint: a, minute: t, rule: .slotCapacityExceeded, count: 2_500_000, occurredAt: t)])
        let written = attempts.drain(endedBefore: nil)
        #expect(written.map(\.count) == [1_000_000, 1_000_000, 500_001])
        #expect(written.allSatisfy { $0.fingerprint == a && $0.minute == t && $0.rule == .slotCapacityExceeded })
        #expect(written.allSatisfy { e in (try? DomainEvent.decode(type: BookingAttemptsRejected.typeName,
                                                                  data: DomainEvent.bookingAttemptsRejected(e).encodedData(), eventIndex: 0)) != nil },
                "each event is one the catalogue accepts")
    }

    @Test func evidenceThatCouldNotBeWrittenIsKeptForTheNextFlush() {
        let attempts = RejectedAttempts()
        let t = Date(timeIntervalSince1970: 1_725_354_000)
        attempts.record(a, rule: .slotNotPublished, at: t)
        let taken = attempts.drain(endedBefore: nil)
        attempts.record(a, rule: .slotNotPublished, at: t.addingTimeInterval(1))
        attempts.restore(taken)
        let again = attempts.drain(endedBefore: nil)
        #expect(again.count == 1 && again[0].count == 2)
    }
}
