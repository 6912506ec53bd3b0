import Domain
import Foundation
import Journal
import Testing
@testable import Projections

/// Two releases: slot A (2 places) and B (1 place) in the first, C (1 place) in the second. A
/// third booking of A is refused by the decisions (overbooking attempt), B is cancelled and
/// reinstated, one booking of A is cancelled, and C is withdrawn.
struct SlotScenario {
    static let t0 = Sample.time("2024-09-03T09:00:00Z")
    static let releaseOne = Sample.uuid(0xE1), releaseTwo = Sample.uuid(0xE2)
    static let a = Sample.uuid(0xA), b = Sample.uuid(0xB), c = Sample.uuid(0xC)
    let history = History()
    var overbookingRefusal: RuleName?

    init() throws {
        let h = history
        let t0 = Self.t0
        h.record(try Decide.publish(Sample.publication(Self.a, start: Sample.time("2024-09-10T08:00:00Z"), capacity: 2, release: Self.releaseOne, at: t0), onto: h.slot(Self.a)))
        h.record(try Decide.publish(Sample.publication(Self.b, start: Sample.time("2024-09-11T08:00:00Z"), capacity: 1, release: Self.releaseOne, at: t0), onto: h.slot(Self.b)))
        h.record(try Decide.publish(Sample.publication(Self.c, site: .vienne, motif: .biometrics, category: .worker, start: Sample.time("2024-09-10T09:00:00Z"),
                                                       capacity: 1, release: Self.releaseTwo, at: t0 + 3600), onto: h.slot(Self.c, .vienne)))
        h.record(try Decide.book(Sample.uuid(1), in: h.slot(Self.a), for: h.applicant(Sample.identity(1)), from: Sample.fingerprint(1), at: t0 + 1))
        h.record(try Decide.book(Sample.uuid(2), in: h.slot(Self.a), for: h.applicant(Sample.identity(2)), from: Sample.fingerprint(2), at: t0 + 2))
        do {
            _ = try Decide.book(Sample.uuid(3), in: h.slot(Self.a), for: h.applicant(Sample.identity(3)), from: Sample.fingerprint(3), at: t0 + 3)
        } catch {
            overbookingRefusal = error.rule
            h.record(try Decide.recordEvidence(.bookingAttemptsRejected(BookingAttemptsRejected(
                fingerprint: Sample.fingerprint(3), minute: t0, rule: error.rule, count: 1, occurredAt: t0 + 3))))
        }
        h.record(try Decide.book(Sample.uuid(4), in: h.slot(Self.b), for: h.applicant(Sample.identity(3)), from: Sample.fingerprint(3), at: t0 + 4))
        h.record(try Decide.cancelByApplicant(Sample.uuid(4), of: h.applicant(Sample.identity(3)), in: h.slot(Self.b), at: t0 + 3600))
        h.record(try Decide.reinstate(Sample.uuid(4), of: h.applicant(Sample.identity(3)), in: h.slot(Self.b), at: t0 + 7200))
        h.record(try Decide.withdraw(h.slot(Self.c, .vienne), because: .staffShortage, at: t0 + 7200))
        h.record(try Decide.cancelByApplicant(Sample.uuid(2), of: h.applicant(Sample.identity(2)), in: h.slot(Self.a), at: t0 + 10_800))
    }
}

@Suite("Slot availability")
struct SlotAvailabilityTests {
    @Test("free slots, days and releases after an overbooking attempt, a cancellation, a reinstatement and a withdrawal")
    func availabilityByHand() throws {
        let scenario = try SlotScenario()
        #expect(scenario.overbookingRefusal == .slotCapacityExceeded)
        let dir = TemporaryDirectory("slots")
        try scenario.history.write(to: dir.path)
        let set = try ProjectionRebuild.rebuild(journal: dir.path)

        let free = set.freeSlots(site: .grenoble, category: .student, from: Sample.time("2024-09-09T00:00:00Z"), to: Sample.time("2024-09-12T00:00:00Z"))
        #expect(free.map(\.slotId) == [SlotScenario.a])
        #expect(free.first?.booked == 1)
        #expect(free.first?.free == 1)
        #expect(set.freeSlots(site: .grenoble, category: .student, from: Sample.time("2024-09-11T00:00:00Z"), to: Sample.time("2024-09-12T00:00:00Z")) == [])
        #expect(set.freeSlots(site: .vienne, category: .worker, from: Sample.time("2024-09-01T00:00:00Z"), to: Sample.time("2024-10-01T00:00:00Z")) == [])

        let days = set.slotDays()
        #expect(days.count == 3)
        let aDay = try #require(days.first { $0.site == .grenoble && $0.day == "2024-09-10" })
        #expect([aDay.slotsPublished, aDay.slotsWithdrawn, aDay.placesOffered, aDay.placesBooked, aDay.placesFree] == [1, 0, 2, 1, 1] as [Int])
        let bDay = try #require(days.first { $0.site == .grenoble && $0.day == "2024-09-11" })
        #expect([bDay.slotsPublished, bDay.slotsWithdrawn, bDay.placesOffered, bDay.placesBooked, bDay.placesFree] == [1, 0, 1, 1, 0] as [Int])
        let cDay = try #require(days.first { $0.site == .vienne })
        #expect([cDay.slotsPublished, cDay.slotsWithdrawn, cDay.placesOffered, cDay.placesBooked, cDay.placesFree] == [1, 1, 0, 0, 0] as [Int])

        let releases = set.releases()
        #expect(releases.count == 2)
        let one = try #require(releases.first { $0.releaseId == SlotScenario.releaseOne })
        // Three places, booked at +1 s, +2 s and +4 s: run out 4 s after opening; three distinct clients.
        #expect(one.slots == 2 && one.places == 3 && one.bookings == 3 && one.placesBooked == 2)
        #expect(one.exhaustedAt == SlotScenario.t0 + 4)
        #expect(one.secondsToExhaustion == 4)
        #expect(one.distinctFingerprints == 3)
        let two = try #require(releases.first { $0.releaseId == SlotScenario.releaseTwo })
        #expect(two.places == 0 && two.exhaustedAt == nil && two.secondsToExhaustion == nil)
        #expect(set.anomalies() == [])
        // Each booking is in two streams; it is counted once.
        #expect(set.eventCounts()["AppointmentBooked"] == 6)
        #expect(set.appointments.count == 3)
    }

    /// Copies of an event in one append are counted once; two different events about one
    /// appointment in the same append (here two reschedules at the same instant) are not copies.
    @Test("two reschedules of one appointment in a single append leave it in the last slot")
    func twoReschedulesInOneAppend() throws {
        let h = History()
        let t0 = SlotScenario.t0
        let s1 = Sample.uuid(0x61), s2 = Sample.uuid(0x62), s3 = Sample.uuid(0x63)
        for (k, slot) in [s1, s2, s3].enumerated() {
            h.record(try Decide.publish(Sample.publication(slot, start: t0 + Double(86_400 * (7 + k)), capacity: 1, release: Sample.uuid(0x64), at: t0), onto: h.slot(slot)))
        }
        let appointment = Sample.uuid(0x65), who = Sample.identity(5)
        h.record(try Decide.book(appointment, in: h.slot(s1), for: h.applicant(who), from: Sample.fingerprint(5), at: t0 + 1))
        let first = try Decide.reschedule(appointment, of: h.applicant(who), from: h.slot(s1), to: h.slot(s2), at: t0 + 60)
        h.record(first)
        let second = try Decide.reschedule(appointment, of: h.applicant(who), from: h.slot(s2), to: h.slot(s3), at: t0 + 60)
        h.record(second)
        h.plans.removeLast(2)
        h.plans.append(PlannedAppend(events: first.events + second.events, expectedVersions: [:]))
        let dir = TemporaryDirectory("two-reschedules")
        try h.write(to: dir.path)
        let set = try ProjectionRebuild.rebuild(journal: dir.path)
        let booked = Dictionary(uniqueKeysWithValues: set.slotAvailability.allSlots().map { ($0.slotId, $0.booked) })
        #expect(booked == [s1: 0, s2: 0, s3: 1], "\(booked)")
        #expect(set.anomalies() == [])
        #expect(set.eventCounts()["AppointmentRescheduled"] == 6)
    }

    @Test("withdrawing the only slot of a release with free places exhausts the release when its other places are all booked")
    func withdrawalExhaustsRelease() throws {
        let h = History()
        let t0 = SlotScenario.t0
        let full = Sample.uuid(0x91), empty = Sample.uuid(0x92), release = Sample.uuid(0x93)
        h.record(try Decide.publish(Sample.publication(full, start: t0 + 86_400 * 7, capacity: 1, release: release, at: t0), onto: h.slot(full)))
        h.record(try Decide.publish(Sample.publication(empty, start: t0 + 86_400 * 8, capacity: 2, release: release, at: t0), onto: h.slot(empty)))
        h.record(try Decide.book(Sample.uuid(0x94), in: h.slot(full), for: h.applicant(Sample.identity(9)), from: Sample.fingerprint(9), at: t0 + 5))
        h.record(try Decide.withdraw(h.slot(empty), because: .staffShortage, at: t0 + 60))
        let dir = TemporaryDirectory("withdrawal-exhausts")
        try h.write(to: dir.path)
        let summary = try #require(try ProjectionRebuild.rebuild(journal: dir.path).releases().first)
        #expect(summary.places == 1 && summary.placesBooked == 1)
        #expect(summary.exhaustedAt == t0 + 60)
        #expect(summary.secondsToExhaustion == 60)
    }

    /// Byte-identical events in one append are different events, each written to two streams: a
    /// cancellation, a reinstatement and a second cancellation at the same instant leave the
    /// appointment cancelled, whichever way the events are folded.
    @Test("a cancellation, a reinstatement and an identical second cancellation in one append leave the appointment cancelled")
    func cancelReinstateCancelInOneAppend() throws {
        let h = History()
        let t0 = SlotScenario.t0
        let slot = Sample.uuid(0x71), appointment = Sample.uuid(0x72), who = Sample.identity(7)
        h.record(try Decide.publish(Sample.publication(slot, start: t0 + 86_400 * 7, capacity: 1, release: Sample.uuid(0x73), at: t0), onto: h.slot(slot)))
        h.record(try Decide.book(appointment, in: h.slot(slot), for: h.applicant(who), from: Sample.fingerprint(7), at: t0 + 1))
        var merged: [PlannedEvent] = []
        for step in 0..<3 {
            let plan = step == 1 ? try Decide.reinstate(appointment, of: h.applicant(who), in: h.slot(slot), at: t0 + 60)
                                 : try Decide.cancelByApplicant(appointment, of: h.applicant(who), in: h.slot(slot), at: t0 + 60)
            h.record(plan)
            merged += plan.events
        }
        #expect(merged[0].data == merged[4].data && merged[0].stream == merged[4].stream)
        h.plans.removeLast(3)
        h.plans.append(PlannedAppend(events: merged, expectedVersions: [:]))
        let dir = TemporaryDirectory("cancel-reinstate-cancel")
        let events = try h.write(to: dir.path)
        for set in try foldedEveryWay(events, journal: dir.path) {
            #expect(set.slotAvailability.allSlots().map(\.booked) == [0])
            #expect(set.fingerprint(Sample.fingerprint(7))?.cancelledByApplicant == 2)
            #expect(set.anomalies() == [])
            #expect(set.eventCounts()["AppointmentCancelledByApplicant"] == 4 && set.eventCounts()["AppointmentReinstated"] == 2)
        }
    }

    @Test("reschedules s1 → s2 → s1 → s2 at one instant in one append leave the appointment in s2")
    func reschedulesBackAndForthInOneAppend() throws {
        let h = History()
        let t0 = SlotScenario.t0
        let s1 = Sample.uuid(0x81), s2 = Sample.uuid(0x82), appointment = Sample.uuid(0x83), who = Sample.identity(8)
        for (k, slot) in [s1, s2].enumerated() {
            h.record(try Decide.publish(Sample.publication(slot, start: t0 + Double(86_400 * (7 + k)), capacity: 1, release: Sample.uuid(0x84), at: t0), onto: h.slot(slot)))
        }
        h.record(try Decide.book(appointment, in: h.slot(s1), for: h.applicant(who), from: Sample.fingerprint(8), at: t0 + 1))
        var merged: [PlannedEvent] = []
        for (from, to) in [(s1, s2), (s2, s1), (s1, s2)] {
            let plan = try Decide.reschedule(appointment, of: h.applicant(who), from: h.slot(from), to: h.slot(to), at: t0 + 60)
            h.record(plan)
            merged += plan.events
        }
        #expect(merged[0].data == merged[6].data)
        h.plans.removeLast(3)
        h.plans.append(PlannedAppend(events: merged, expectedVersions: [:]))
        let dir = TemporaryDirectory("reschedules-back-and-forth")
        let events = try h.write(to: dir.path)
        for set in try foldedEveryWay(events, journal: dir.path) {
            let booked = Dictionary(uniqueKeysWithValues: set.slotAvailability.allSlots().map { ($0.slotId, $0.booked) })
            #expect(booked == [s1: 0, s2: 1], "\(booked)")
            #expect(set.anomalies() == [])
            #expect(set.eventCounts()["AppointmentRescheduled"] == 9)
        }
    }

    /// The three ways into the fold: the offline rebuild (copies not read again), every record
    /// read in full, and events already decoded with their streams (a live server).
    private func foldedEveryWay(_ events: [RecordedEvent], journal: String) throws -> [ProjectionSet] {
        var read = ProjectionSet(), decoded = ProjectionSet()
        for event in events {
            try read.apply(event)
            try decoded.apply(try DomainEvent.decode(type: event.type, data: event.data, eventIndex: 0), stream: event.stream, id: event.id,
                              position: event.position, recordedAtMicros: event.recordedAtMicros, endsAppend: event.endsAppend)
        }
        let rebuilt = try ProjectionRebuild.rebuild(journal: journal)
        #expect(rebuilt == read && read == decoded)
        return [rebuilt, read, decoded]
    }

    @Test("a journal that broke the capacity rule shows the slot full and counts the anomaly")
    func overbookedJournal() throws {
        let h = History()
        let t0 = SlotScenario.t0
        let slot = Sample.uuid(0x51)
        h.record(try Decide.publish(Sample.publication(slot, start: t0 + 86_400 * 7, capacity: 1, release: Sample.uuid(0x52), at: t0), onto: h.slot(slot)))
        let published = h.slot(slot)
        h.record(try Decide.book(Sample.uuid(1), in: published, for: h.applicant(Sample.identity(1)), from: Sample.fingerprint(1), at: t0 + 1))
        // Decided on the stale slot state, as a buggy writer without expected versions would.
        h.record(try Decide.book(Sample.uuid(2), in: published, for: h.applicant(Sample.identity(2)), from: Sample.fingerprint(2), at: t0 + 2))
        let dir = TemporaryDirectory("overbooked")
        let events = try h.write(to: dir.path)
        let set = try ProjectionRebuild.rebuild(journal: dir.path)
        let row = try #require(set.slotAvailability.allSlots().first)
        #expect(row.booked == 2 && row.free == 0)
        #expect(set.anomalies().map(\.kind) == [.overbooked])
        #expect(set.anomalies().first?.firstEventId == events.ids(of: "AppointmentBooked")[1])
    }
}
