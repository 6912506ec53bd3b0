import Foundation
import Testing
import Domain

/// The replay checker decodes an event once when the next one is its twin (same type, same data
/// bytes: a booking written to the slot's stream and to the applicant's). Every check that
/// depends on the stream, and every invalid event, must still be reported as if each event had
/// been decoded on its own.
@Suite("Replay checker with twin events")
struct RuleCheckerTwinTests {
    private static let slot = StreamName.slot(site: .grenoble, slotId: Sample.uuid(1))
    private static let applicant = StreamName.applicant(Sample.identity(1))

    private static func booking(_ appointment: Int, for identity: Int) -> DomainEvent {
        .appointmentBooked(AppointmentBooked(appointmentId: Sample.uuid(appointment), identityKey: Sample.identity(identity), site: .grenoble,
                                             slotId: Sample.uuid(1), motif: .filing, category: .student, start: Sample.slotStart,
                                             fingerprint: Sample.fingerprint(1), occurredAt: Sample.releaseTime))
    }

    private static func run(_ entries: [(stream: String, type: String, data: [UInt8])]) -> [RuleViolation] {
        var checker = RuleChecker()
        var found: [RuleViolation] = []
        for (position, entry) in entries.enumerated() {
            found += checker.check(stream: entry.stream, type: entry.type, data: entry.data, position: UInt64(position))
        }
        return found
    }

    private static func entry(_ stream: StreamName, _ event: DomainEvent) -> (stream: String, type: String, data: [UInt8]) {
        (stream.description, event.typeName, event.encodedData())
    }

    @Test("twins in the slot's and the applicant's streams find what the same events find apart")
    func twinsMatchEventsApart() {
        let publication = Self.entry(Self.slot, .slotPublished(Sample.publication(capacity: 1)))
        let first = Self.booking(0xA1, for: 1), second = Self.booking(0xA2, for: 2)
        let secondApplicant = StreamName.applicant(Sample.identity(2))
        let twins = Self.run([
            publication,
            Self.entry(Self.slot, first), Self.entry(Self.applicant, first),
            Self.entry(Self.slot, second), Self.entry(secondApplicant, second),
        ])
        // The same events with a publication of another slot between twins, so none follows its twin.
        let spacer = Self.entry(.slot(site: .vienne, slotId: Sample.uuid(2)), .slotPublished(Sample.publication(slot: 2, site: .vienne)))
        let apart = Self.run([
            publication,
            Self.entry(Self.slot, first), spacer, Self.entry(Self.applicant, first),
            Self.entry(Self.slot, second), spacer, Self.entry(secondApplicant, second),
        ])
        #expect(twins.map(\.rule) == [.slotCapacityExceeded])
        #expect(twins.first?.position == 3)
        // The spacer's second publication is refused; nothing else differs.
        #expect(apart.map(\.rule) == [.slotCapacityExceeded, .slotAlreadyPublished])
        #expect(twins.map(\.message) == apart.filter { $0.rule == .slotCapacityExceeded }.map(\.message))
    }

    @Test("the twin of a sound event, put in a stream of the wrong kind, is refused there")
    func misplacedTwin() {
        let withdrawn = DomainEvent.dossierWithdrawn(DossierWithdrawn(dossierId: Sample.uuid(0xD1), occurredAt: Sample.releaseTime))
        let found = Self.run([
            Self.entry(.dossier(Sample.uuid(0xD1)), withdrawn),
            Self.entry(Self.slot, withdrawn),
        ])
        #expect(found.map(\.rule).contains(.wrongStream))
        #expect(found.first { $0.rule == .wrongStream }?.position == 1)
    }

    @Test("an invalid event repeated is reported every time, with its problems")
    func invalidTwins() {
        let broken = Array(#"{"schemaVersion":1,"phone":"0600000000"}"#.utf8)
        let found = Self.run([
            (Self.slot.description, "SlotPublished", broken),
            (Self.applicant.description, "SlotPublished", broken),
            (Self.slot.description, "SlotPublished", broken),
        ])
        #expect(found.map(\.rule) == [.invalidEvent, .invalidEvent, .invalidEvent])
        #expect(found.map(\.position) == [0, 1, 2])
        #expect(Set(found.map(\.problems.count)).count == 1)
        #expect(found.allSatisfy { !$0.problems.isEmpty }, "each report lists the event's problems")
    }

    @Test("the same data bytes under another type are decoded as that type")
    func sameDataOtherType() {
        let cancellation = AppointmentCancelledByApplicant(appointmentId: Sample.uuid(0xA1), identityKey: Sample.identity(1), site: .grenoble,
                                                           slotId: Sample.uuid(1), occurredAt: Sample.releaseTime)
        let cancelled = DomainEvent.appointmentCancelledByApplicant(cancellation)
        let data = cancelled.encodedData()
        let found = Self.run([
            Self.entry(Self.slot, .slotPublished(Sample.publication(capacity: 1))),
            Self.entry(Self.slot, Self.booking(0xA1, for: 1)),
            (Self.slot.description, cancelled.typeName, data),
            // The very bytes of the cancellation, as a reinstatement: it takes the place back...
            (Self.slot.description, "AppointmentReinstated", data),
            // ...so the slot is full again for another booking.
            Self.entry(Self.slot, Self.booking(0xA2, for: 2)),
        ])
        #expect(found.map(\.rule) == [.slotCapacityExceeded])
        #expect(found.first?.position == 4)
    }
}
