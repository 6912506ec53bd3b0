import Audit
import Domain
import Foundation
import Testing
@testable import Journal

/// The rule replay splits streams between shards, and a stream whose first event is the twin of
/// the event before it (a booking written to the slot's stream, then to the applicant's) joins
/// that event's shard, where the twin is decoded once. None of it may change what is found.
@Suite("Rule shards")
struct RuleShardTests {
    private static func audit(_ dir: TemporaryDirectory, shards: Int) throws -> AuditReport {
        var options = AuditOptions()
        options.publicKey = testSigner.publicKey
        options.ruleShards = shards
        return try Auditor.audit(directory: dir.path, options: options)
    }

    /// What a report found, in a form two reports can be compared by.
    private static func found(_ report: AuditReport) -> [String] {
        report.findings.map { "\($0.rule) \($0.position.map(String.init) ?? "-") \($0.eventID?.uuidString ?? "-") \($0.message)" }
    }

    @Test("one, two and three shards find the same breaches, in twins and in events of their own")
    func shardsAgree() throws {
        let dir = TemporaryDirectory("shards")
        let options = auditOptions(segmentSize: 20_000)
        try History.write(slots: 12, into: dir.path, options: options)
        let journal = try Journal.open(directory: dir.path, options: options)
        func append(_ plan: PlannedAppend) throws -> AppendResult {
            try journal.appendAndWait(AppendRequest(events: plan.events.map {
                ProposedEvent(stream: $0.stream, type: $0.event.typeName, id: UUID(), data: $0.event.encodedData())
            }))
        }
        // Bookings of a slot that was never published, each written as the server writes it:
        // to the slot's stream and to a new applicant's stream, with the same data.
        let unpublished = SlotState(site: .grenoble, slotId: History.uuid(777)).publishedForTest()
        var breaches: [UInt64] = []
        for n in 0..<6 {
            let plan = try Decide.book(History.uuid(0xB00 + n), in: unpublished, for: ApplicantState(identityKey: IdentityKey(History.hash(0xB00 + n))),
                                       from: Fingerprint(History.hash(1)), at: History.release)
            #expect(plan.events.count == 2)
            breaches.append(try append(plan).firstPosition)
        }
        // Twins whose data is invalid: both are reported.
        let broken = Array(#"{"schemaVersion":1,"phone":"0600000000"}"#.utf8)
        let invalid = try journal.appendAndWait(AppendRequest(events: [
            ProposedEvent(stream: "slot-grenoble-" + History.uuid(778).uuidString.lowercased(), type: "AppointmentBooked", id: UUID(), data: broken),
            ProposedEvent(stream: "applicant-" + History.hash(0xBAD).description, type: "AppointmentBooked", id: UUID(), data: broken),
        ]))
        journal.close()

        let reports = try [1, 2, 3].map { try Self.audit(dir, shards: $0) }
        #expect(Self.found(reports[0]) == Self.found(reports[1]))
        #expect(Self.found(reports[0]) == Self.found(reports[2]))
        #expect(Set(reports.map(\.eventsRuleChecked)).count == 1)
        #expect(reports[0].eventsRuleChecked == Int(reports[0].events))
        let positions = Set(reports[1].findings.compactMap(\.position))
        for first in breaches { #expect(positions.contains(first) || positions.contains(first + 1), "the booking at \(first)") }
        #expect(positions.contains(invalid.firstPosition) && positions.contains(invalid.firstPosition + 1))
    }
}
