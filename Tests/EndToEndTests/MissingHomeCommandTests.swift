import Foundation
import Testing
@testable import Journal

/// A booking lives in two streams, its slot's and its applicant's, and the server writes both
/// copies in one append (`stream.missingHome` otherwise). `registre import` must not cut a
/// faithful history's bookings in two at its batch boundaries, and `registre audit` must report
/// a booking imported into one of its streams only, as the server would have refused it.
@Suite(.serialized) struct MissingHomeCommandTests {
    static let slot = "slot-grenoble-00000000-0000-4000-8000-000000000001"

    static func applicant(_ n: Int) -> String { "applicant-" + identity(n) }

    static func identity(_ n: Int) -> String { String(repeating: "a", count: 63) + String(n, radix: 16) }

    /// A slot of `capacity` places, published a week before its start.
    static var publication: String {
        #"{"stream":"\#(slot)","type":"SlotPublished","data":{"schemaVersion":1,"slotId":"00000000-0000-4000-8000-000000000001","site":"grenoble","motif":"filing","category":"student","start":"2024-09-10T08:30:00Z","durationMinutes":20,"counter":"guichet 3","capacity":2,"releaseId":"00000000-0000-4000-8000-000000009000","occurredAt":"2024-09-03T09:00:00Z"}}"#
    }

    /// Applicant `n`'s booking in the slot, as the line for `stream` (the slot's or the applicant's).
    static func booking(_ n: Int, in stream: String) -> String {
        #"{"stream":"\#(stream)","type":"AppointmentBooked","data":{"schemaVersion":1,"appointmentId":"00000000-0000-4000-8000-0000000000a\#(n)","identityKey":"\#(identity(n))","site":"grenoble","slotId":"00000000-0000-4000-8000-000000000001","motif":"filing","category":"student","start":"2024-09-10T08:30:00Z","fingerprint":"\#(String(repeating: "b", count: 64))","occurredAt":"2024-09-03T09:00:00Z"}}"#
    }

    /// Where each append ends, as positions of its last event.
    static func appendEnds(_ journal: String) throws -> [UInt64] {
        try allEvents(journal).filter(\.endsAppend).map(\.position)
    }

    /// Imports `lines` with a signing key, as an insider can, and audits the journal with the public key.
    static func importAndAudit(_ lines: [String], batch: Int, in scratch: ScratchDirectory) throws -> (journal: String, audit: Outcome) {
        let keygen = try registre(["keygen", "--out", scratch.file("writer")])
        #expect(keygen.exited(0), "\(keygen)")
        try writeLines(lines, to: scratch.file("history.ndjson"))
        let journal = scratch.file("journal")
        let imported = try registre(["import", "--journal", journal, "--batch", String(batch), "--signing-key", scratch.file("writer.key"),
                                     scratch.file("history.ndjson")])
        #expect(imported.exited(0), "\(imported)")
        return (journal, try registre(["audit", "--journal", journal, "--public-key", scratch.file("writer.pub")]))
    }

    @Test func importDoesNotEndABatchBetweenTheTwoCopiesOfABookingAndTheAuditOfTheHistoryIsClean() throws {
        let scratch = ScratchDirectory("import-copies")
        // With --batch 2 the batches would end after the first booking's slot copy and after the
        // second booking's slot copy.
        let (journal, audit) = try Self.importAndAudit([Self.publication, Self.booking(1, in: Self.slot), Self.booking(1, in: Self.applicant(1)),
                                                        Self.booking(2, in: Self.slot), Self.booking(2, in: Self.applicant(2))],
                                                       batch: 2, in: scratch)
        #expect(try Self.appendEnds(journal) == [2, 4], "each booking's copies in one append")
        #expect(audit.exited(0) && audit.out.contains("audit: clean"), "\(audit)")
    }

    @Test func auditReportsABookingOfAFullSlotImportedIntoTheApplicantsStreamOnly() throws {
        let full = [Self.publication, Self.booking(1, in: Self.slot), Self.booking(1, in: Self.applicant(1)),
                    Self.booking(2, in: Self.slot), Self.booking(2, in: Self.applicant(2))]
        // Past capacity, in the applicant's stream alone: no stream's own rule sees it.
        let lone = ScratchDirectory("audit-lone-copy")
        let (_, audit) = try Self.importAndAudit(full + [Self.booking(3, in: Self.applicant(3))], batch: 1000, in: lone)
        #expect(audit.exited(1), "\(audit)")
        #expect(audit.out.contains("FINDING stream.missingHome: 00000000000000000000.seg byte "), "\(audit.out)")
        #expect(audit.out.contains(" position 5 event "), "\(audit.out)")
        #expect(audit.out.contains("AppointmentBooked in stream '\(Self.applicant(3))': a AppointmentBooked is appended to all of \(Self.slot), \(Self.applicant(3)) in one append; this one is missing from \(Self.slot)"), "\(audit.out)")
        #expect(!audit.out.contains("audit: clean"), "\(audit.out)")
        // In both streams, the slot's capacity rule reports it, and nothing is missing.
        let both = ScratchDirectory("audit-both-copies")
        let (_, overbooked) = try Self.importAndAudit(full + [Self.booking(3, in: Self.slot), Self.booking(3, in: Self.applicant(3))], batch: 1000, in: both)
        #expect(overbooked.exited(1), "\(overbooked)")
        #expect(overbooked.out.contains("FINDING slot.capacityExceeded") && !overbooked.out.contains("stream.missingHome"), "\(overbooked.out)")
    }
}
