import Foundation
import Testing
@testable import Domain

/// A booking's copies carry ids fixed by the appointment id, so the journal can refuse a second
/// booking of the same id.
@Suite struct BookingEventIDTests {
    private let site = Site.grenoble
    private func slot(_ id: UUID) -> StreamName { .slot(site: site, slotId: id) }
    private func applicant(_ c: Character) -> StreamName { .applicant(IdentityKey(hex: String(repeating: c, count: 64))!) }

    @Test func eachCopyHasItsOwnIdAndTheIdDependsOnTheRoleNotOnTheStream() {
        let appointment = UUID()
        let inSlot = AppointmentBooked.eventID(appointmentId: appointment, in: slot(UUID()))
        let inOtherSlot = AppointmentBooked.eventID(appointmentId: appointment, in: slot(UUID()))
        let forAlice = AppointmentBooked.eventID(appointmentId: appointment, in: applicant("a"))
        let forBob = AppointmentBooked.eventID(appointmentId: appointment, in: applicant("b"))
        #expect(inSlot != nil && forAlice != nil)
        #expect(inSlot != forAlice, "the slot's copy and the applicant's copy are two events")
        // The same appointment id booked elsewhere proposes the same ids: that is what lets the
        // journal see the reuse.
        #expect(inSlot == inOtherSlot && forAlice == forBob)
    }

    @Test func differentAppointmentsGetDifferentIds() {
        let home = slot(UUID())
        var seen = Set<UUID>()
        for _ in 0..<1000 { seen.insert(AppointmentBooked.eventID(appointmentId: UUID(), in: home)!) }
        #expect(seen.count == 1000)
    }

    @Test func theIdIsAVersion8UUIDThatDoesNotChangeBetweenRuns() throws {
        let appointment = try #require(UUID(uuidString: "3f1c2a9e-5b7d-4e2a-9c41-0d8e6f7a1b2c"))
        let id = try #require(AppointmentBooked.eventID(appointmentId: appointment, in: slot(UUID())))
        let text = id.canonicalString
        #expect(Array(text)[14] == "8", "version 8: \(text)")
        #expect("89ab".contains(Array(text)[19]), "RFC 9562 variant: \(text)")
        // Pinned to values computed from the description in docs/EVENTS.md by another
        // implementation (Python's hashlib): clients derive these ids on their own, so the
        // derivation must never drift.
        #expect(text == "57631d4a-579e-813a-ae95-e8fdeb76ad8a")
        #expect(AppointmentBooked.eventID(appointmentId: appointment, in: applicant("c"))?.canonicalString == "7b3e0edf-b62e-8ccf-9115-5af8f5eec4f2")
    }

    @Test func aCommandsEventIdsAndAppointmentIdFollowFromItsCommandIdAsDocumented() {
        let command = UUID(uuidString: "3f1c2a9e-5b7d-4e2a-9c41-0d8e6f7a1b2c")!
        // Pinned to values computed from docs/SERVER.md's description with Python's hashlib.
        #expect(CommandEventID.eventID(commandId: command, index: 0).canonicalString == "88fc8716-6fe1-8752-9842-552dd1a8d426")
        #expect(CommandEventID.eventID(commandId: command, index: 1).canonicalString == "54919d83-1372-859a-8fa6-9648d42c91e8")
        #expect(CommandEventID.appointmentId(commandId: command).canonicalString == "295e5137-130a-8904-a1dc-a7a136ee3eb4")
    }

    @Test func aCommandsFieldsDigestIsTheDocumentedHashWhateverTheOrderOfItsFields() {
        let dossier = (name: "dossierId", value: Array("s0c7a2e4d-3f5b-4c1a-9e8d-7b6a5c4d3e2f".utf8))
        let outcome = (name: "outcome", value: Array("sgranted".utf8))
        // Pinned to values computed from docs/SERVER.md's description with Python's hashlib.
        #expect(CommandEventID.fieldsDigest([outcome, dossier]) == "b8af7194cdf0bbaec782018cbefe36d47e785bf76ea75532f8ad1db69132bf96")
        #expect(CommandEventID.fieldsDigest([dossier, outcome]) == CommandEventID.fieldsDigest([outcome, dossier]))
        #expect(CommandEventID.fieldsDigest([]) == "aa4d73251ff5f646572ef7d74c4073222c7c713987b8c9a4b35eb692f47b965a")
        // The length before each value keeps one field's value from passing for several fields:
        // without it both inputs would be a\0s1b\0s2.
        #expect(CommandEventID.fieldsDigest([(name: "a", value: Array("s1".utf8)), (name: "b", value: Array("s2".utf8))])
                != CommandEventID.fieldsDigest([(name: "a", value: Array("s1b\u{0}s2".utf8))]))
    }

    @Test func onlyABookingInItsTwoHomesHasARequiredId() {
        let appointment = UUID()
        #expect(AppointmentBooked.eventID(appointmentId: appointment, in: .dossier(UUID())) == nil)
        #expect(AppointmentBooked.eventID(appointmentId: appointment, in: .fingerprint(Fingerprint(hex: String(repeating: "f", count: 64))!)) == nil)
    }
}
