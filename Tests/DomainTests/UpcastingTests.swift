import Foundation
import Testing
import Domain

@Suite("Upcasting older schema versions")
struct UpcastingTests {
    @Test("a version 0 SlotPublished with end and places is read as durationMinutes and capacity")
    func slotPublishedVersion0() throws {
        let old = #"{"schemaVersion":0,"slotId":"00000000-0000-4000-8000-000000000001","site":"grenoble","motif":"filing","category":"student","start":"2024-09-10T08:30:00Z","end":"2024-09-10T08:50:00Z","counter":"guichet 3","places":2,"releaseId":"00000000-0000-4000-8000-000000009000","occurredAt":"2024-09-03T09:00:00Z"}"#
        let event = try DomainEvent.decode(type: "SlotPublished", data: bytes(old), eventIndex: 0)
        #expect(event == .slotPublished(Sample.publication()))
        #expect(event.encodedData().text.contains(#""schemaVersion":1"#))
        #expect(event.encodedData().text.contains(#""durationMinutes":20"#))
    }

    @Test("a version 0 SlotPublished still has its own rules: end after start, no current-only fields")
    func slotPublishedVersion0IsValidatedInItsOwnShape() {
        let old = #"{"schemaVersion":0,"slotId":"00000000-0000-4000-8000-000000000001","site":"grenoble","motif":"filing","category":"student","start":"2024-09-10T08:30:00Z","end":"2024-09-10T08:00:00Z","counter":"guichet 3","places":2,"capacity":2,"releaseId":"00000000-0000-4000-8000-000000009000","occurredAt":"2024-09-03T09:00:00Z"}"#
        let failure = #expect(throws: ValidationFailure.self) { try DomainEvent.decode(type: "SlotPublished", data: bytes(old), eventIndex: 4) }
        let problems = failure?.problems ?? []
        #expect(problems.contains { $0.field == "end" && $0.rule == "endBeforeStart" && $0.eventIndex == 4 })
        #expect(problems.contains { $0.field == "capacity" && $0.rule == "unknownField" })
    }

    @Test("a version 0 DossierSubmitted without channel is read as filed online")
    func dossierSubmittedVersion0() throws {
        let old = #"{"schemaVersion":0,"dossierId":"00000000-0000-4000-8000-0000000000d1","identityKey":"\#(Sample.identity(1))","category":"student","kind":"first","site":"grenoble","occurredAt":"2024-09-03T09:00:00Z"}"#
        let event = try DomainEvent.decode(type: "DossierSubmitted", data: bytes(old), eventIndex: 0)
        guard case .dossierSubmitted(let submitted) = event else { Issue.record("wrong type \(event)"); return }
        #expect(submitted.channel == .online)
        #expect(submitted.identityKey == Sample.identity(1))
    }

    @Test("a schema version this build does not know is refused with the versions it reads")
    func unknownSchemaVersion() {
        let future = #"{"schemaVersion":7,"dossierId":"00000000-0000-4000-8000-0000000000d1","occurredAt":"2024-09-03T09:00:00Z"}"#
        let failure = #expect(throws: ValidationFailure.self) { try DomainEvent.decode(type: "DossierWithdrawn", data: bytes(future), eventIndex: 0) }
        #expect(failure?.problems.first?.rule == "schemaVersion.unsupported")
        #expect(failure?.problems.first?.message == "`schemaVersion` 7 is not supported for DossierWithdrawn; this build reads version 1")
        let olderSlot = #"{"schemaVersion":3}"#
        let slotFailure = #expect(throws: ValidationFailure.self) { try DomainEvent.decode(type: "SlotPublished", data: bytes(olderSlot), eventIndex: 0) }
        #expect(slotFailure?.problems.first?.message == "`schemaVersion` 3 is not supported for SlotPublished; this build reads versions 0 to 1")
    }
}
