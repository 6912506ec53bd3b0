import Domain
import Foundation
import Journal
import Testing
@testable import Projections

@Suite("Reading events")
struct EventReadingTests {
    /// One event of every catalogue type.
    static func everyType() -> [DomainEvent] {
        let t = Sample.time("2024-09-03T09:00:00.125Z")
        let fp = Sample.fingerprint(1), who = Sample.identity(1), id = Sample.uuid(1), slot = Sample.uuid(2), dossier = Sample.uuid(3)
        return [
            .slotPublished(Sample.publication(slot, start: t + 86_400, capacity: 3, release: Sample.uuid(4), at: t)),
            .slotWithdrawn(SlotWithdrawn(slotId: slot, site: .vienne, reason: .other, occurredAt: t)),
            .appointmentBooked(AppointmentBooked(appointmentId: id, identityKey: who, site: .laTourDuPin, slotId: slot, motif: .handover, category: .humanitarian, start: t + 60, fingerprint: fp, occurredAt: t)),
            .appointmentRescheduled(AppointmentRescheduled(appointmentId: id, identityKey: who, motif: .filing, fromSite: .grenoble, fromSlotId: slot, toSite: .vienne, toSlotId: Sample.uuid(5), toStart: t + 120, occurredAt: t)),
            .appointmentCancelledByApplicant(AppointmentCancelledByApplicant(appointmentId: id, identityKey: who, site: .grenoble, slotId: slot, occurredAt: t)),
            .appointmentCancelledByService(AppointmentCancelledByService(appointmentId: id, identityKey: who, site: .grenoble, slotId: slot, reason: .fraud, occurredAt: t)),
            .appointmentReinstated(AppointmentReinstated(appointmentId: id, identityKey: who, site: .grenoble, slotId: slot, occurredAt: t)),
            .appointmentAttended(AppointmentAttended(appointmentId: id, identityKey: who, site: .grenoble, slotId: slot, identityMatched: false, occurredAt: t)),
            .appointmentNoShow(AppointmentNoShow(appointmentId: id, identityKey: who, site: .grenoble, slotId: slot, occurredAt: t)),
            .identityMismatchAtCounter(IdentityMismatchAtCounter(appointmentId: id, identityKey: who, site: .grenoble, slotId: slot, presentedIdentityKey: Sample.identity(2), occurredAt: t)),
            .identityMismatchAtCounter(IdentityMismatchAtCounter(appointmentId: id, identityKey: who, site: .grenoble, slotId: slot, occurredAt: t)),
            .dossierSubmitted(DossierSubmitted(dossierId: dossier, identityKey: who, category: .visitor, kind: .renewal, channel: .post, site: .vienne, occurredAt: t)),
            .documentsRequested(DocumentsRequested(dossierId: dossier, documents: ["a", "b"], dueBy: t + 86_400, occurredAt: t)),
            .documentsReceived(DocumentsReceived(dossierId: dossier, documents: ["a"], occurredAt: t)),
            .dossierDeclaredComplete(DossierDeclaredComplete(dossierId: dossier, occurredAt: t)),
            .provisionalPermitIssued(ProvisionalPermitIssued(dossierId: dossier, kind: .attestation, validFrom: t, validUntil: t + 86_400, occurredAt: t)),
            .biometricsCaptured(BiometricsCaptured(dossierId: dossier, site: .grenoble, appointmentId: id, occurredAt: t)),
            .biometricsCaptured(BiometricsCaptured(dossierId: dossier, site: .grenoble, appointmentId: nil, occurredAt: t)),
            .consultationRequested(ConsultationRequested(dossierId: dossier, consultationId: id, authority: .ofii, occurredAt: t)),
            .consultationAnswered(ConsultationAnswered(dossierId: dossier, consultationId: id, outcome: .noAnswer, occurredAt: t)),
            .decisionRecorded(DecisionRecorded(dossierId: dossier, outcome: .refused, occurredAt: t)),
            .permitProductionOrdered(PermitProductionOrdered(dossierId: dossier, occurredAt: t)),
            .permitAvailable(PermitAvailable(dossierId: dossier, site: .vienne, occurredAt: t)),
            .permitHandedOver(PermitHandedOver(dossierId: dossier, site: .vienne, appointmentId: nil, occurredAt: t)),
            .dossierWithdrawn(DossierWithdrawn(dossierId: dossier, occurredAt: t)),
            .dossierClosedForNoFollowUp(DossierClosedForNoFollowUp(dossierId: dossier, occurredAt: t)),
            .implicitRejectionDeadlineReached(ImplicitRejectionDeadlineReached(dossierId: dossier, occurredAt: t)),
            .bookingAttemptsRejected(BookingAttemptsRejected(fingerprint: fp, minute: Sample.time("2024-09-03T09:00:00Z"), rule: .slotCapacityExceeded, count: 12, occurredAt: t)),
            .rateLimitTriggered(RateLimitTriggered(fingerprint: fp, windowSeconds: 60, limit: 10, observed: 11, occurredAt: t)),
            .duplicateBookingDetected(DuplicateBookingDetected(fingerprint: fp, identityKey: who, motif: .filing, existingAppointmentId: id, occurredAt: t)),
            .bookingFlagged(BookingFlagged(fingerprint: fp, appointmentId: id, pattern: .manyIdentities, score: 0.75, evidenceEventIds: [Sample.uuid(9)], occurredAt: t)),
        ]
    }

    @Test("the light reader gives the same facts as the full decoder, for every event type")
    func lightReaderAgreesWithDecoder() throws {
        let events = Self.everyType()
        #expect(Set(events.map(\.typeName)) == Set(DomainEvent.allTypeNames))
        for event in events {
            let data = event.encodedData()
            let kind = try #require(Array(event.typeName.utf8).withUnsafeBytes { EventKind.named($0) })
            let light = data.withUnsafeBytes { Fact.read(kind, $0) }
            let full = Fact(try DomainEvent.decode(type: event.typeName, data: data, eventIndex: 0))
            #expect(light == full, "\(event.typeName)")
        }
    }

    @Test("a member of fixed length taken unread by the scan is checked byte by byte by its typed reader")
    func fixedLengthMembersAreChecked() throws {
        var corrupted = 0
        for event in Self.everyType() {
            let kind = try #require(Array(event.typeName.utf8).withUnsafeBytes { EventKind.named($0) })
            // Times in whole seconds, as writers spell them: the length the scan relies on.
            let text = String(decoding: event.encodedData(), as: UTF8.self).replacingOccurrences(of: ".125Z", with: "Z")
            let data = Array(text.utf8)
            let light = data.withUnsafeBytes { Fact.read(kind, $0) }
            #expect(light == Fact(try DomainEvent.decode(type: event.typeName, data: data, eventIndex: 0)), "\(event.typeName)")
            for name in Fact.keyNames(kind) {
                let n = Int(Fact.fixedLength(name))
                guard n > 0, let start = Self.offset(of: Array("\"\(name)\":\"".utf8), in: data) else { continue }
                #expect(data[start + n] == UInt8(ascii: "\""), "\(event.typeName).\(name)")
                for offset in start..<(start + n) {
                    for bad in [UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x01, UInt8(ascii: "g"), UInt8(ascii: "A")] where bad != data[offset] {
                        var copy = data
                        copy[offset] = bad
                        #expect(copy.withUnsafeBytes { Fact.read(kind, $0) } == nil, "\(event.typeName).\(name) byte \(offset - start) = \(bad)")
                        corrupted += 1
                    }
                }
            }
        }
        #expect(corrupted > 10_000)
    }

    /// Where the bytes after the first occurrence of `pattern` start.
    private static func offset(of pattern: [UInt8], in data: [UInt8]) -> Int? {
        guard data.count >= pattern.count else { return nil }
        for i in 0...(data.count - pattern.count) where data[i..<(i + pattern.count)].elementsEqual(pattern) { return i + pattern.count }
        return nil
    }

    private func recorded(_ type: String, _ json: String, position: UInt64 = 0) -> RecordedEvent {
        RecordedEvent(position: position, stream: "x", version: 0, id: Sample.uuid(0xEE), type: type, recordedAtMicros: 0,
                      metadata: Array("{}".utf8), data: Array(json.utf8), endsAppend: true)
    }

    @Test("what the light reader does not take goes to the full decoder: escapes and older schema versions are read")
    func fallbackReadsWhatTheDecoderAccepts() throws {
        let escaped = #"{"schemaVersion":1,"dossierId":"00000000-0000-4000-8000-000000000003","identityKey":"\#(Sample.identity(1))","category":"stud\u0065nt","kind":"first","channel":"online","site":"grenoble","occurredAt":"2024-09-03T09:00:00Z"}"#
        let kind = EventKind.dossierSubmitted
        #expect(Array(escaped.utf8).withUnsafeBytes { Fact.read(kind, $0) } == nil)
        var set = ProjectionSet()
        try set.apply(recorded("DossierSubmitted", escaped))
        #expect(set.dossier(id: Sample.uuid(3))?.category == .student)

        let versionZero = #"{"schemaVersion":0,"slotId":"00000000-0000-4000-8000-000000000002","site":"grenoble","motif":"filing","category":"worker","start":"2024-09-10T08:00:00Z","end":"2024-09-10T08:30:00Z","counter":"g1","places":2,"releaseId":"00000000-0000-4000-8000-000000000004","occurredAt":"2024-09-03T09:00:00Z"}"#
        try set.apply(recorded("SlotPublished", versionZero, position: 1))
        #expect(set.slotAvailability.allSlots().first?.capacity == 2)
    }

    @Test("an event neither reader accepts stops the fold, naming its position, id and problem")
    func invalidEventsThrow() throws {
        let unknownField = #"{"schemaVersion":1,"dossierId":"00000000-0000-4000-8000-000000000003","occurredAt":"2024-09-03T09:00:00Z","phone":"0600000000"}"#
        let upperCase = #"{"schemaVersion":1,"dossierId":"00000000-0000-4000-8000-00000000000A","occurredAt":"2024-09-03T09:00:00Z"}"#
        let truncated = #"{"schemaVersion":1,"dossierId":"00000000-0000-4000-8000-000000000003","occurredAt":"2024-09-03"#
        for json in [unknownField, upperCase, truncated] {
            var set = ProjectionSet()
            do {
                try set.apply(recorded("DossierWithdrawn", json))
                Issue.record("accepted \(json)")
            } catch {
                guard case .invalidEvent(let position, let id, let type, let problem) = error else { Issue.record("\(error)"); continue }
                #expect(position == 0 && id == Sample.uuid(0xEE) && type == "DossierWithdrawn" && !problem.isEmpty)
            }
            #expect(set.position == 0)
        }
    }

    /// The live server folds the new events into its one set in place (`JournalProjections`),
    /// which is right only if a refused event changes nothing, inside an append too.
    @Test("an event apply refuses, unreadable or out of order, leaves the whole set as it was, in the middle of an append too")
    func refusedEventsChangeNothing() throws {
        let dir = TemporaryDirectory("refused-events")
        let events = try combinedHistory().write(to: dir.path)
        let cut = try #require(events.firstIndex { $0.type == "AppointmentBooked" && !$0.endsAppend }) + 1
        var set = ProjectionSet()
        for event in events.prefix(cut) { try set.apply(event) }
        #expect(!set.copiesInAppend.isEmpty)
        let before = set
        let unreadable = RecordedEvent(position: UInt64(cut), stream: events[cut].stream, version: 0, id: Sample.uuid(0xEE), type: events[cut].type,
                                       recordedAtMicros: events[cut].recordedAtMicros, metadata: Array("{}".utf8), data: Array(#"{"x":1}"#.utf8),
                                       endsAppend: events[cut].endsAppend)
        #expect(throws: ProjectionError.self) { try set.apply(unreadable) }
        #expect(set == before)
        #expect(throws: ProjectionError.outOfOrder(expected: UInt64(cut), got: UInt64(cut + 1))) { try set.apply(events[cut + 1]) }
        #expect(set == before)
        try set.apply(events[cut])
        #expect(set.position == UInt64(cut + 1))
    }

    @Test("events of types outside the catalogue are counted, not folded")
    func foreignTypes() throws {
        var set = ProjectionSet()
        try set.apply(recorded("Probe", "{}"))
        #expect(set.position == 1)
        #expect(set.eventCounts() == ["Probe": 1])
        #expect(set.anomalies().map(\.kind) == [.foreignEventType])
    }

    @Test("past 1,000 names, events of types outside the catalogue are counted under one bucket, and the total stays exact")
    func foreignTypeNamesAreCapped() throws {
        var set = ProjectionSet()
        let names = (0..<1_005).map { "Probe.\($0)" } + ["Probe.0", "Probe.0", "Probe.0", "Probe.1004", "Probe.1004"]
        for (n, name) in names.enumerated() { try set.apply(recorded(name, "{}", position: UInt64(n))) }
        let counts = set.eventCounts()
        #expect(counts.count == ProjectionSet.maximumForeignTypeNames + 1)
        #expect(counts["Probe.0"] == 4 && counts["Probe.999"] == 1 && counts["Probe.1000"] == nil)
        #expect(counts[ProjectionSet.otherForeignTypes] == 5 + 2)
        #expect(counts.values.reduce(0, +) == set.position)
        #expect(set.firstInconsistency() == nil)
        // A state naming more is refused when it is loaded.
        var forged = set
        forged.foreignTypes["Probe.1000"] = 1
        forged.foreignTypes[ProjectionSet.otherForeignTypes]! -= 1
        #expect(forged.firstInconsistency() == "it names 1001 types outside the catalogue; at most 1000 are named")
    }

    @Test("times are read to the millisecond as the catalogue rounds them")
    func millisecondTimes() {
        func millis(_ text: String) -> Int64? {
            let quoted = Array("\"\(text)\"".utf8)
            return quoted.withUnsafeBytes { FieldScanner.millis($0, ValueSpan(start: 0, end: quoted.count, kind: .plainString)) }
        }
        #expect(millis("1970-01-01T00:00:00Z") == 0)
        #expect(millis("2024-02-29T23:59:59.9996Z") == Millis.of(UTCTime.parse("2024-02-29T23:59:59.9996Z")!))
        #expect(millis("2024-09-03T09:00:00.125Z") == 1_725_354_000_125)
        #expect(millis("2023-02-29T00:00:00Z") == nil)
        #expect(millis("2024-09-03T09:00:00+02:00") == nil)
    }
}
