import Foundation
import Testing
@testable import Domain

private func envelope(_ stream: StreamName, _ event: DomainEvent) -> (stream: String, type: String, data: [UInt8]) {
    (stream.description, event.typeName, event.encodedData())
}

private func violations(_ entries: [(stream: String, type: String, data: [UInt8])]) -> [RuleViolation] {
    var checker = RuleChecker()
    var found: [RuleViolation] = []
    for (position, entry) in entries.enumerated() {
        found += checker.check(stream: entry.stream, type: entry.type, data: entry.data, position: UInt64(position))
    }
    return found
}

private func booking(_ appointment: Int, for identity: Int, at time: Date = Sample.releaseTime) -> DomainEvent {
    .appointmentBooked(AppointmentBooked(appointmentId: Sample.uuid(appointment), identityKey: Sample.identity(identity), site: .grenoble,
                                         slotId: Sample.uuid(1), motif: .filing, category: .student, start: Sample.slotStart,
                                         fingerprint: Sample.fingerprint(1), occurredAt: time))
}

private let slot = StreamName.slot(site: .grenoble, slotId: Sample.uuid(1))

@Suite("Replay checker")
struct RuleCheckerTests {
    @Test("an overbooked slot in an imported journal is reported at the event that broke capacity")
    func overbooking() {
        let found = violations([
            envelope(slot, .slotPublished(Sample.publication(capacity: 1))),
            envelope(slot, booking(0xA1, for: 1)),
            envelope(slot, booking(0xA2, for: 2)),
        ])
        #expect(found.map(\.rule) == [.slotCapacityExceeded])
        #expect(found.first?.position == 2)
        #expect(found.first?.message == "slot 00000000-0000-4000-8000-000000000001 is full: 1 of 1 places are taken")
    }

    @Test("a second active appointment for one identity and motif is reported in the applicant's stream")
    func duplicateIdentity() {
        let applicant = StreamName.applicant(Sample.identity(1))
        let found = violations([
            envelope(applicant, booking(0xA1, for: 1)),
            envelope(applicant, booking(0xA2, for: 1)),
        ])
        #expect(found.map(\.rule) == [.oneActiveAppointmentPerMotif])
        #expect(found.first?.stream == applicant.description)
    }

    @Test("booking an unpublished or started slot, and attendance before the start, are reported")
    func timeRules() {
        let applicant = StreamName.applicant(Sample.identity(1))
        let attended = DomainEvent.appointmentAttended(AppointmentAttended(appointmentId: Sample.uuid(0xA1), identityKey: Sample.identity(1), site: .grenoble,
                                                                           slotId: Sample.uuid(1), identityMatched: true, occurredAt: Sample.slotStart.addingTimeInterval(-1)))
        let found = violations([
            envelope(slot, booking(0xA1, for: 1)),
            envelope(slot, .slotPublished(Sample.publication())),
            envelope(slot, booking(0xA2, for: 2, at: Sample.slotStart)),
            envelope(applicant, booking(0xA1, for: 1)),
            envelope(applicant, attended),
        ])
        #expect(found.map(\.rule) == [.slotNotPublished, .slotAlreadyStarted, .appointmentNotStartedYet])
        #expect(found.map(\.position) == [0, 2, 4])
    }

    @Test("a dossier that skips its lifecycle is reported")
    func dossierSkips() {
        let id = Sample.uuid(0xD1)
        let dossier = StreamName.dossier(id)
        let t = Sample.releaseTime
        let found = violations([
            envelope(dossier, .dossierSubmitted(DossierSubmitted(dossierId: id, identityKey: Sample.identity(1), category: .student, kind: .first, channel: .online, site: .grenoble, occurredAt: t))),
            envelope(dossier, .decisionRecorded(DecisionRecorded(dossierId: id, outcome: .granted, occurredAt: t))),
            envelope(dossier, .permitHandedOver(PermitHandedOver(dossierId: id, site: .grenoble, occurredAt: t))),
        ])
        #expect(found.map(\.rule) == [.dossierInvalidTransition, .handoverBeforeAvailable])
    }

    @Test("invalid data and misplaced events are reported with their validation problems")
    func invalidAndMisplaced() {
        let dossierEvent = DomainEvent.dossierWithdrawn(DossierWithdrawn(dossierId: Sample.uuid(0xD1), occurredAt: Sample.releaseTime))
        let found = violations([
            (slot.description, "SlotPublished", bytes(#"{"schemaVersion":1}"#)),
            envelope(slot, dossierEvent),
            ("not-a-stream", dossierEvent.typeName, dossierEvent.encodedData()),
        ])
        #expect(found.map(\.rule) == [.invalidEvent, .wrongStream, .invalidEvent])
        #expect(found[0].problems.count == 10, "every missing field of SlotPublished is listed")
        #expect(found[1].problems.map(\.rule) == ["stream.wrongKind"])
        #expect(found[2].problems.map(\.rule) == ["stream.malformed"])
    }

    @Test("an integrator's own event is not the domain's: no rule applies, while anything in a domain stream is still judged")
    func nonDomainEventsAreLeftAlone() {
        let found = violations([
            ("ops-notes", "NoteTaken", bytes(#"{"text":"counter 3 closed early"}"#)),
            ("ops-notes", "NoteTaken", bytes(#"not even JSON"#)),
            ("slot-notes", "NoteTaken", bytes(#"{}"#)),
            ("slot-grenoble-1", "NoteTaken", bytes(#"{}"#)),
        ])
        #expect(found.map(\.position) == [2, 3])
        #expect(found.allSatisfy { $0.rule == .invalidEvent })
    }

    @Test("an appointment id booked again for another applicant or slot is found across the whole history, and a booking's two copies are not")
    func appointmentIdsReusedAcrossAggregates() {
        var checker = RuleChecker()
        let other = StreamName.slot(site: .grenoble, slotId: Sample.uuid(2))
        func publish(_ slotId: UUID) -> DomainEvent {
            guard case .slotPublished(var p) = Sample.everyEvent[0] else { fatalError() }
            p.slotId = slotId
            p.capacity = 5
            return .slotPublished(p)
        }
        func booked(_ appointment: Int, _ identity: Int, in slotId: UUID) -> DomainEvent {
            guard case .appointmentBooked(var b) = booking(appointment, for: identity) else { fatalError() }
            b.slotId = slotId
            return .appointmentBooked(b)
        }
        let entries = [
            envelope(slot, publish(Sample.uuid(1))), envelope(other, publish(Sample.uuid(2))),
            envelope(slot, booked(0xA1, 1, in: Sample.uuid(1))), envelope(.applicant(Sample.identity(1)), booked(0xA1, 1, in: Sample.uuid(1))),
            // Another applicant, another slot, the same appointment id: each stream accepts it.
            envelope(other, booked(0xA1, 2, in: Sample.uuid(2))), envelope(.applicant(Sample.identity(2)), booked(0xA1, 2, in: Sample.uuid(2))),
            envelope(slot, booked(0xA3, 3, in: Sample.uuid(1))), envelope(.applicant(Sample.identity(3)), booked(0xA3, 3, in: Sample.uuid(1))),
        ]
        var perEvent: [RuleViolation] = []
        for (position, e) in entries.enumerated() { perEvent += checker.check(stream: e.stream, type: e.type, data: e.data, position: UInt64(position)) }
        #expect(perEvent.isEmpty, "\(perEvent)")
        #expect(checker.bookings.map(\.position) == [3, 5, 7])
        let reused = RuleChecker.appointmentIdConflicts(checker.bookings)
        #expect(reused.map(\.position) == [5] && reused.map(\.rule) == [.appointmentIdReused], "\(reused)")
        #expect(reused.first?.message.contains("already booked at position 3 for another applicant") == true)

        // Split between two checkers (the audit's shards), in either order and unsorted, the
        // later booking is still the one reported.
        let bookings = checker.bookings
        for lists in [[[bookings[0], bookings[2]], [bookings[1]]], [[bookings[1]], [bookings[2], bookings[0]]]] {
            let found = RuleChecker.appointmentIdConflicts(inLists: lists)
            #expect(found.map(\.position) == [5], "\(lists.map { $0.map(\.position) }): \(found)")
        }
        // A forged journal can give two bookings one position: the second is still a reuse.
        var forged = bookings[1]
        forged.position = bookings[0].position
        #expect(RuleChecker.appointmentIdConflicts(inLists: [[bookings[0]], [forged]]).count == 1)
    }

    /// The audit judges `stream.missingHome` with the copies of each append, gathered from the
    /// checkers of several shards: a checker says how many streams the event it just placed lives
    /// in, and 0 for an event that the server would not have counted as a copy.
    @Test("the checker tells how many streams an event it decoded and placed lives in, and 0 for any event it did not place")
    func placedHomeCounts() {
        var checker = RuleChecker()
        let applicant = StreamName.applicant(Sample.identity(1))
        let booked = booking(0xA1, for: 1)
        func homes(after stream: StreamName, _ event: DomainEvent, _ type: String? = nil, _ data: [UInt8]? = nil, at position: UInt64) -> Int {
            _ = checker.check(stream: stream.description, type: type ?? event.typeName, data: data ?? event.encodedData(), position: position)
            return checker.lastPlacedHomeCount
        }
        #expect(homes(after: slot, .slotPublished(Sample.publication(capacity: 1)), at: 0) == 1)
        #expect(homes(after: slot, booked, at: 1) == 2)
        // The twin, decoded once, in its own stream; a rule it breaks does not change the count.
        #expect(homes(after: applicant, booked, at: 2) == 2)
        #expect(checker.check(stream: slot.description, type: "AppointmentBooked", data: booking(0xA3, for: 3).encodedData(), position: 3).map(\.rule) == [.slotCapacityExceeded])
        #expect(checker.lastPlacedHomeCount == 2)
        // Not placed, not decoded: not a copy the server would have counted.
        #expect(homes(after: .applicant(Sample.identity(9)), booked, at: 4) == 0, "another applicant's stream")
        #expect(homes(after: slot, booked, "AppointmentBooked", Array(#"{"schemaVersion":1}"#.utf8), at: 5) == 0, "invalid data")
        #expect(homes(after: applicant, .appointmentAttended(AppointmentAttended(appointmentId: Sample.uuid(0xA1), identityKey: Sample.identity(1), site: .grenoble,
                                                                             slotId: Sample.uuid(1), identityMatched: true, occurredAt: Sample.slotStart)), at: 6) == 1)
        let rescheduled = Sample.everyEvent.first { $0.typeName == "AppointmentRescheduled" }!
        #expect(homes(after: slot, rescheduled, at: 7) == 3)
        #expect(checker.check(stream: "notes-1", type: "NoteAdded", data: Array("{}".utf8), position: 8) == [] && checker.lastPlacedHomeCount == 0)
    }

    @Test("the checker accepts any collection of bytes, not only arrays")
    func anyCollection() {
        var checker = RuleChecker()
        let data = DomainEvent.slotPublished(Sample.publication()).encodedData()
        #expect(checker.check(stream: slot.description, type: "SlotPublished", data: data[...], position: 0) == [])
        #expect(checker.check(stream: slot.description, type: "SlotPublished", data: Data(data), position: 1).map(\.rule) == [.slotAlreadyPublished])
        #expect(checker.eventsChecked == 2)
    }
}
