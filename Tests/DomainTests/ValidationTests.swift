import Foundation
import Testing
import Domain

/// Builds a SlotPublished payload from raw JSON values, so each test changes only what it breaks.
private func slotData(_ changes: [String: String] = [:], removing removed: Set<String> = [], extra: [(String, String)] = []) -> [UInt8] {
    var fields: [(String, String)] = [
        ("schemaVersion", "1"), ("slotId", #""00000000-0000-4000-8000-000000000001""#), ("site", #""grenoble""#),
        ("motif", #""filing""#), ("category", #""student""#), ("start", #""2024-09-10T08:30:00Z""#),
        ("durationMinutes", "20"), ("counter", #""guichet 3""#), ("capacity", "2"),
        ("releaseId", #""00000000-0000-4000-8000-000000009000""#), ("occurredAt", #""2024-09-03T09:00:00Z""#),
    ]
    fields = fields.filter { !removed.contains($0.0) }.map { key, value in (key, changes[key] ?? value) }
    fields += extra
    return bytes("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
}

private let slotStream = "slot-grenoble-00000000-0000-4000-8000-000000000001"

private func problems(_ data: [UInt8], type: String = "SlotPublished", stream: String = slotStream) -> [ValidationProblem] {
    validateAppend([(stream: stream, type: type, data: data)])
}

@Suite("Validation")
struct ValidationTests {
    @Test("a valid event has no problem")
    func validEvent() {
        #expect(problems(slotData()) == [])
    }

    @Test("a missing field is named")
    func missingField() {
        #expect(problems(slotData(removing: ["capacity"])) == [
            ValidationProblem(eventIndex: 0, field: "capacity", rule: "required", message: "`capacity` is missing; SlotPublished requires it"),
        ])
    }

    @Test("null counts as missing for a required field")
    func nullField() {
        #expect(problems(slotData(["counter": "null"])).map(\.rule) == ["required"])
    }

    @Test("a value of the wrong type names both types")
    func wrongType() {
        #expect(problems(slotData(["capacity": #""2""#])) == [
            ValidationProblem(eventIndex: 0, field: "capacity", rule: "type", message: "`capacity` must be an integer, not a string"),
        ])
        #expect(problems(slotData(["capacity": "2.5"])).first?.message == "`capacity` must be an integer, not a decimal number")
    }

    @Test("a site, category or motif outside its closed set lists the accepted values", arguments: [
        ("site", #""Grenoble""#, "`site` must be one of \"grenoble\", \"vienne\", \"la-tour-du-pin\"; \"Grenoble\" is not"),
        ("category", #""students""#, "`category` must be one of \"student\", \"worker\", \"family\", \"visitor\", \"humanitarian\", \"other\"; \"students\" is not"),
        ("motif", #""renewal""#, "`motif` must be one of \"filing\", \"completion\", \"biometrics\", \"handover\"; \"renewal\" is not"),
    ])
    func closedSets(field: String, value: String, message: String) {
        #expect(problems(slotData([field: value])) == [ValidationProblem(eventIndex: 0, field: field, rule: "closedSet", message: message)])
    }

    @Test("malformed dates are refused, offsets and impossible days included", arguments: [
        "2024-09-10T08:30:00+02:00", "2024-09-10 08:30:00Z", "2024-02-30T08:30:00Z", "2024-09-10T24:00:00Z", "2024-09-10T08:30:00.Z", "10/09/2024",
    ])
    func malformedDate(_ text: String) {
        #expect(problems(slotData(["start": "\"\(text)\""])) == [
            ValidationProblem(eventIndex: 0, field: "start", rule: "format.date", message: "`start` must be an ISO-8601 UTC time ending in Z, such as 2024-09-03T09:00:00Z (fractional seconds allowed)"),
        ])
    }

    @Test("fractional seconds are accepted")
    func fractionalSeconds() {
        #expect(problems(slotData(["occurredAt": #""2024-09-03T09:00:00.250Z""#])) == [])
        #expect(UTCTime.string(UTCTime.parse("2024-09-03T09:00:00.250Z")!) == "2024-09-03T09:00:00.250Z")
        // Years outside 0000...9999 come from arithmetic on imported times (a cut-off a day
        // before a slot of 0000-01-01): written with a sign or more digits, never a trap.
        #expect(UTCTime.string(UTCTime.parse("0000-01-01T12:00:00Z")!.addingTimeInterval(-86_400)) == "-0001-12-31T12:00:00Z")
        #expect(UTCTime.string(UTCTime.adding(months: 4, to: UTCTime.parse("9999-12-01T00:00:00Z")!)) == "10000-04-01T00:00:00Z")
        #expect(UTCTime.string(UTCTime.parse("0007-03-04T05:06:07.008Z")!) == "0007-03-04T05:06:07.008Z")
    }

    @Test("malformed UUIDs are refused, uppercase included")
    func malformedUUID() {
        let found = problems(slotData(["slotId": #""00000000-0000-4000-8000-00000000000G""#, "releaseId": #""00000000-0000-4000-8000-00000000000A""#]))
        #expect(found.map(\.field) == ["slotId", "releaseId"])
        #expect(found.allSatisfy { $0.rule == "format.uuid" })
    }

    @Test("malformed hashes are refused")
    func malformedHash() {
        let booked = DomainEvent.appointmentBooked(AppointmentBooked(
            appointmentId: Sample.uuid(0xA1), identityKey: Sample.identity(1), site: .grenoble, slotId: Sample.uuid(1),
            motif: .filing, category: .student, start: Sample.slotStart, fingerprint: Sample.fingerprint(1), occurredAt: Sample.releaseTime))
        var text = booked.encodedData().text
        text = text.replacingOccurrences(of: Sample.identity(1).description, with: String(repeating: "A", count: 64))
        text = text.replacingOccurrences(of: Sample.fingerprint(1).description, with: "abc")
        let found = problems(bytes(text), type: "AppointmentBooked")
        #expect(found == [
            ValidationProblem(eventIndex: 0, field: "identityKey", rule: "format.hash", message: "`identityKey` must be the applicant's salted identity hash written as exactly 64 lowercase hex characters"),
            ValidationProblem(eventIndex: 0, field: "fingerprint", rule: "format.hash", message: "`fingerprint` must be a client fingerprint hash written as exactly 64 lowercase hex characters"),
        ])
    }

    @Test("an end before its start is refused")
    func endBeforeStart() {
        var permit = ProvisionalPermitIssued(dossierId: Sample.uuid(0xD1), kind: .receipt, validFrom: Sample.time("2024-12-03T00:00:00Z"),
                                             validUntil: Sample.time("2024-09-03T00:00:00Z"), occurredAt: Sample.releaseTime)
        let found = validateAppend([(stream: "dossier-00000000-0000-4000-8000-0000000000d1", type: "ProvisionalPermitIssued",
                                     data: DomainEvent.provisionalPermitIssued(permit).encodedData())])
        #expect(found == [ValidationProblem(eventIndex: 0, field: "validUntil", rule: "endBeforeStart",
                                            message: "`validUntil` (2024-09-03T00:00:00Z) must be after `validFrom` (2024-12-03T00:00:00Z)")])
        permit.validUntil = permit.validFrom
        #expect(!validateAppend([(stream: "dossier-00000000-0000-4000-8000-0000000000d1", type: "ProvisionalPermitIssued",
                                  data: DomainEvent.provisionalPermitIssued(permit).encodedData())]).isEmpty, "an empty validity is refused too")
    }

    @Test("a zero or negative capacity is refused", arguments: ["0", "-3"])
    func nonPositiveCapacity(_ capacity: String) {
        #expect(problems(slotData(["capacity": capacity])) == [
            ValidationProblem(eventIndex: 0, field: "capacity", rule: "range", message: "`capacity` must be greater than zero, and at most 500; \(capacity) is not"),
        ])
    }

    @Test("an oversized string gives its length and the limit")
    func oversizedString() {
        #expect(problems(slotData(["counter": "\"\(String(repeating: "x", count: 40))\""])) == [
            ValidationProblem(eventIndex: 0, field: "counter", rule: "length", message: "`counter` is 40 characters long; at most 32 are allowed"),
        ])
    }

    @Test("an unknown field is refused, not ignored")
    func unknownField() {
        #expect(problems(slotData(extra: [("applicantName", #""Jean Dupont""#)])) == [
            ValidationProblem(eventIndex: 0, field: "applicantName", rule: "unknownField",
                              message: "`applicantName` is not a field of SlotPublished; unknown fields are refused so that nothing, personal data in particular, enters the journal unnoticed"),
        ])
    }

    @Test("an unknown event type is refused")
    func unknownEventType() {
        #expect(problems(slotData(), type: "SlotSold") == [
            ValidationProblem(eventIndex: 0, field: "type", rule: "unknownEventType", message: "\"SlotSold\" is not an event type of the catalogue (see docs/EVENTS.md)"),
        ])
    }

    @Test("an event in a stream of the wrong kind is refused")
    func wrongStreamKind() {
        let dossierEvent = DomainEvent.dossierWithdrawn(DossierWithdrawn(dossierId: Sample.uuid(0xD1), occurredAt: Sample.releaseTime))
        #expect(validateAppend([(stream: slotStream, type: dossierEvent.typeName, data: dossierEvent.encodedData())]) == [
            ValidationProblem(eventIndex: 0, field: "stream", rule: "stream.wrongKind",
                              message: "DossierWithdrawn belongs in a dossier stream, not in the slot stream \(slotStream)"),
        ])
    }

    @Test("an event in another aggregate's stream of the right kind is refused")
    func streamIdMismatch() {
        let found = problems(slotData(), stream: "slot-vienne-00000000-0000-4000-8000-000000000001")
        #expect(found.map(\.rule) == ["stream.idMismatch"])
        #expect(found.first?.message == "a SlotPublished with these ids belongs in \(slotStream), not in slot-vienne-00000000-0000-4000-8000-000000000001")
    }

    @Test("an event of several streams appended to only some of them is refused, naming the missing ones")
    func missingHome() {
        let booked = Sample.everyEvent.first { $0.typeName == "AppointmentBooked" }!
        let rescheduled = Sample.everyEvent.first { $0.typeName == "AppointmentRescheduled" }!
        func envelope(_ stream: StreamName, _ event: DomainEvent) -> (stream: String, type: String, data: [UInt8]) {
            (stream.description, event.typeName, event.encodedData())
        }
        let slot = StreamName.slot(site: .grenoble, slotId: Sample.uuid(1)), applicant = StreamName.applicant(Sample.identity(1))
        // Both homes: accepted, in either order.
        #expect(validateAppend([envelope(slot, booked), envelope(applicant, booked)]) == [])
        #expect(validateAppend([envelope(applicant, booked), envelope(slot, booked)]) == [])
        // One home only: the applicant's rule (one appointment per motif) or the slot's
        // (capacity) would never see it.
        for (home, missing) in [(slot, applicant), (applicant, slot)] {
            let found = validateAppend([envelope(home, booked)])
            #expect(found.map(\.rule) == ["stream.missingHome"])
            #expect(found.first?.message.hasSuffix("this one is missing from \(missing)") == true, "\(found)")
        }
        // Another booking in the other stream is not this one.
        var other = booked
        if case .appointmentBooked(var b) = booked { b.appointmentId = Sample.uuid(0xA2); other = .appointmentBooked(b) }
        #expect(validateAppend([envelope(slot, booked), envelope(applicant, other)]).map(\.eventIndex) == [0, 1])
        // A reschedule lives in three streams.
        let to = StreamName.slot(site: .vienne, slotId: Sample.uuid(2))
        #expect(validateAppend([envelope(slot, rescheduled), envelope(to, rescheduled), envelope(applicant, rescheduled)]) == [])
        #expect(validateAppend([envelope(slot, rescheduled), envelope(applicant, rescheduled)]).map(\.rule) == ["stream.missingHome", "stream.missingHome"])
    }

    /// Past 16 events the copies are looked up in a set instead of compared pairwise: the verdicts
    /// and messages must not change, and an append of thousands of events must not cost millions
    /// of comparisons (the audit judges every journal append this way).
    @Test("a large append is judged as a small one: each copy missing a home is found, wherever it lies")
    func missingHomeInALargeAppend() {
        func booking(_ n: Int, late: Bool = false) -> DomainEvent {
            .appointmentBooked(AppointmentBooked(appointmentId: Sample.uuid(0xB000 + n), identityKey: Sample.identity(n), site: .grenoble, slotId: Sample.uuid(1),
                                                 motif: .filing, category: .student, start: Sample.slotStart, fingerprint: Sample.fingerprint(1),
                                                 occurredAt: Sample.releaseTime.addingTimeInterval(late ? 60 : 0)))
        }
        let slot = StreamName.slot(site: .grenoble, slotId: Sample.uuid(1))
        var placed: [(index: Int, stream: StreamName, event: DomainEvent)] = []
        for n in 0..<3_000 {
            // Booking 1,000 lacks its applicant copy; booking 2,000's "copies" differ in one field,
            // so each lacks the other.
            placed.append((placed.count, slot, booking(n)))
            if n == 1_000 { continue }
            placed.append((placed.count, .applicant(Sample.identity(n)), booking(n, late: n == 2_000)))
        }
        let found = missingHomeProblems(placed)
        #expect(found.map(\.eventIndex) == [2_000, 3_999, 4_000], "\(found.map(\.eventIndex))")
        // The same words as for a two-event append.
        let small = missingHomeProblems([(0, slot, booking(1_000))])
        #expect(found.first?.message == small.first?.message && small.count == 1)
    }

    @Test("a malformed stream name is refused")
    func malformedStream() {
        let found = problems(slotData(), stream: "slot-Grenoble-1")
        #expect(found.map(\.field) == ["stream"])
        #expect(found.map(\.rule) == ["stream.malformed"])
    }

    @Test("data that is not JSON, or not an object, is refused with the reason", arguments: [
        ("{\"schemaVersion\":1,", "json.syntax"),
        ("{\"a\":1} x", "json.syntax"),
        ("[1,2]", "json.notObject"),
    ])
    func notJSON(data: String, rule: String) {
        let found = problems(bytes(data))
        #expect(found.map(\.rule) == [rule])
        #expect(found.map(\.field) == ["$"])
    }

    @Test("problems inside an array name the element by its index")
    func arrayElementPaths() {
        let data = bytes(#"{"schemaVersion":1,"dossierId":"00000000-0000-4000-8000-0000000000d1","documents":["proof-of-address","",42],"occurredAt":"2024-09-03T09:00:00Z"}"#)
        let found = validateAppend([(stream: "dossier-00000000-0000-4000-8000-0000000000d1", type: "DocumentsReceived", data: data)])
        #expect(found == [
            ValidationProblem(eventIndex: 0, field: "documents[1]", rule: "length", message: "`documents[1]` must not be empty"),
            ValidationProblem(eventIndex: 0, field: "documents[2]", rule: "type", message: "`documents[2]` must be a string, not an integer"),
        ])
    }

    @Test("evidence counts are per whole minute")
    func wholeMinute() {
        var attempts = BookingAttemptsRejected(fingerprint: Sample.fingerprint(1), minute: Sample.releaseTime.addingTimeInterval(7),
                                               rule: .slotCapacityExceeded, count: 3, occurredAt: Sample.releaseTime.addingTimeInterval(60))
        let stream = StreamName.fingerprint(Sample.fingerprint(1)).description
        let found = validateAppend([(stream: stream, type: "BookingAttemptsRejected", data: DomainEvent.bookingAttemptsRejected(attempts).encodedData())])
        #expect(found.map(\.rule) == ["format.wholeMinute"])
        attempts.minute = Sample.releaseTime
        #expect(validateAppend([(stream: stream, type: "BookingAttemptsRejected", data: DomainEvent.bookingAttemptsRejected(attempts).encodedData())]) == [])
    }

    @Test("all problems of an append are reported at once, each with its event index")
    func allProblemsAtOnce() {
        let good = DomainEvent.dossierWithdrawn(DossierWithdrawn(dossierId: Sample.uuid(0xD1), occurredAt: Sample.releaseTime))
        let found = validateAppend([
            (stream: slotStream, type: "SlotPublished", data: slotData(["capacity": "0", "site": #""lyon""#], extra: [("email", #""x@y.fr""#)])),
            (stream: "dossier-00000000-0000-4000-8000-0000000000d1", type: good.typeName, data: good.encodedData()),
            (stream: "nowhere", type: "Nope", data: bytes("{}")),
        ])
        #expect(found.map { "\($0.eventIndex) \($0.field) \($0.rule)" } == [
            "0 site closedSet",
            "0 capacity range",
            "0 email unknownField",
            "2 stream stream.malformed",
            "2 type unknownEventType",
        ])
    }

    @Test("decode throws every problem of one event together")
    func decodeThrowsAll() {
        let failure = #expect(throws: ValidationFailure.self) {
            try DomainEvent.decode(type: "SlotPublished", data: slotData(["start": #""soon""#, "durationMinutes": "0"], removing: ["slotId"]), eventIndex: 3)
        }
        #expect(failure?.problems.map(\.field) == ["slotId", "start", "durationMinutes"])
        #expect(failure?.problems.allSatisfy { $0.eventIndex == 3 } == true)
    }

    @Test("a validation problem encodes to the wire shape the server sends")
    func wireShape() throws {
        let problem = ValidationProblem(eventIndex: 2, field: "capacity", rule: "range", message: "m")
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(problem), as: UTF8.self) == #"{"eventIndex":2,"field":"capacity","message":"m","rule":"range"}"#)
    }
}
