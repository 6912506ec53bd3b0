import Domain
import Foundation
import Journal
import Testing
@testable import Projections

@Suite("Abuse signals")
struct AbuseSignalsTests {
    static let bot = Sample.fingerprint(0xB0), person = Sample.fingerprint(0x9E)

    /// A release of six single-place slots: a bot takes five within five seconds for five
    /// identities and cancels three of them within the hour; someone sends another person to the
    /// counter for a fourth; a genuine applicant takes the last place after ten minutes and cancels
    /// it three days later.
    static func botBurst() throws -> History {
        let h = History()
        let t0 = Sample.time("2024-09-03T09:00:00Z")
        let slots = (0..<6).map { Sample.uuid(0x500 + $0) }
        for (n, slot) in slots.enumerated() {
            h.record(try Decide.publish(Sample.publication(slot, start: t0 + Double(7 * 86_400 + n * 900), capacity: 1, release: Sample.uuid(0x5E), at: t0), onto: h.slot(slot)))
        }
        for n in 0..<5 {
            h.record(try Decide.book(Sample.uuid(0xA00 + n), in: h.slot(slots[n]), for: h.applicant(Sample.identity(11 + n)), from: bot, at: t0 + Double(n + 1)))
        }
        h.record(try Decide.book(Sample.uuid(0xA05), in: h.slot(slots[5]), for: h.applicant(Sample.identity(20)), from: person, at: t0 + 600))
        for n in 0..<3 {
            h.record(try Decide.cancelByApplicant(Sample.uuid(0xA00 + n), of: h.applicant(Sample.identity(11 + n)), in: h.slot(slots[n]), at: t0 + 3600))
        }
        h.record(try Decide.cancelByApplicant(Sample.uuid(0xA05), of: h.applicant(Sample.identity(20)), in: h.slot(slots[5]), at: t0 + 3 * 86_400))
        h.record(try Decide.checkIn(Sample.uuid(0xA03), of: h.applicant(Sample.identity(14)), presenting: Sample.identity(99), at: t0 + Double(7 * 86_400 + 3 * 900 + 60)))
        h.record(try Decide.recordNoShow(Sample.uuid(0xA04), of: h.applicant(Sample.identity(15)), at: t0 + Double(7 * 86_400 + 4 * 900 + 60)))
        return h
    }

    @Test("a bot burst is ranked first, each flag naming its rule and the events behind it")
    func botBurstByHand() throws {
        let dir = TemporaryDirectory("abuse")
        let events = try Self.botBurst().write(to: dir.path)
        let set = try ProjectionRebuild.rebuild(journal: dir.path)

        let release = try #require(set.releases().first)
        #expect(release.secondsToExhaustion == 600)
        #expect(release.distinctFingerprints == 2)

        let ranking = set.abuseRanking(limit: 10)
        #expect(ranking.map(\.fingerprint) == [Self.bot])
        let bot = try #require(ranking.first)
        #expect(bot.rank == 1)
        #expect([bot.bookings, bot.distinctIdentities, bot.cancelledByApplicant, bot.bookCancelChurn, bot.snipedBookings, bot.identityMismatches] == [5, 5, 3, 3, 5, 1] as [Int])
        #expect(bot.flags.map(\.rule) == [.manyIdentities, .bookCancelChurn, .releaseSniping, .identityMismatch])
        // Observed ÷ threshold: 5/5 + 3/3 + 5/3 + 1/1.
        #expect(abs(bot.score - (1 + 1 + 5.0 / 3 + 1)) < 1e-12)

        let bookings = events.ids(of: "AppointmentBooked")
        let cancellations = events.ids(of: "AppointmentCancelledByApplicant")
        let evidence = Dictionary(uniqueKeysWithValues: bot.flags.map { ($0.rule, $0.evidenceEventIds) })
        #expect(evidence[.manyIdentities] == Array(bookings.prefix(5)))
        #expect(evidence[.releaseSniping] == Array(bookings.prefix(5)))
        #expect(evidence[.bookCancelChurn] == Array(cancellations.prefix(3)))
        #expect(evidence[.identityMismatch] == events.ids(of: "IdentityMismatchAtCounter"))
        #expect(bot.flags.map(\.evidenceCount) == [5, 3, 5, 1])

        let person = try #require(set.fingerprint(Self.person))
        #expect(person.rank == nil && person.flags == [])
        #expect([person.bookings, person.cancelledByApplicant, person.bookCancelChurn, person.snipedBookings] == [1, 1, 0, 0] as [Int])
    }

    @Test("evidence events recorded in fingerprint streams raise their own flags")
    func recordedEvidence() throws {
        let h = History()
        let t0 = Sample.time("2024-09-03T09:00:00Z")
        let fp = Sample.fingerprint(7)
        for n in 0..<3 {
            h.record(try Decide.recordEvidence(.bookingAttemptsRejected(BookingAttemptsRejected(fingerprint: fp, minute: t0 + Double(n * 60), rule: .slotCapacityExceeded, count: 40, occurredAt: t0 + Double(n * 60 + 30)))))
        }
        h.record(try Decide.recordEvidence(.rateLimitTriggered(RateLimitTriggered(fingerprint: fp, windowSeconds: 60, limit: 10, observed: 50, occurredAt: t0 + 200))))
        let dir = TemporaryDirectory("evidence")
        let events = try h.write(to: dir.path)
        let set = try ProjectionRebuild.rebuild(journal: dir.path)
        let flagged = try #require(set.abuseRanking().first)
        #expect(flagged.rejectedAttempts == 120)
        #expect(flagged.flags.map(\.rule) == [.rejectedAttempts, .rateLimited])
        #expect(flagged.flags[0].evidenceEventIds == events.ids(of: "BookingAttemptsRejected"))
        #expect(flagged.flags[0].evidenceCount == 3)
        #expect(flagged.flags[1].evidenceEventIds == events.ids(of: "RateLimitTriggered"))
    }
}
