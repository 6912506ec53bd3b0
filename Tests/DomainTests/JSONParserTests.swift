import Foundation
import Testing
import Domain

/// The parser is internal; these tests reach it through `DomainEvent.decode`, as every caller does.
private func syntaxProblem(_ data: [UInt8]) -> String? {
    do {
        _ = try DomainEvent.decode(type: "DossierWithdrawn", data: data, eventIndex: 0)
        return nil
    } catch {
        return error.problems.first { $0.rule == "json.syntax" }?.message
    }
}

private let validWithdrawal = #"{"schemaVersion":1,"dossierId":"00000000-0000-4000-8000-0000000000d1","occurredAt":"2024-09-03T09:00:00Z"}"#

@Suite("Strict JSON")
struct JSONParserTests {
    @Test("a well-formed event with whitespace around tokens is accepted")
    func whitespace() throws {
        let spaced = " {\n \"schemaVersion\" : 1 ,\t\"dossierId\":\"00000000-0000-4000-8000-0000000000d1\", \"occurredAt\":\"2024-09-03T09:00:00Z\"}\r\n"
        _ = try DomainEvent.decode(type: "DossierWithdrawn", data: bytes(spaced), eventIndex: 0)
    }

    @Test("duplicate keys are refused")
    func duplicateKeys() {
        let data = bytes(#"{"schemaVersion":1,"dossierId":"00000000-0000-4000-8000-0000000000d1","dossierId":"00000000-0000-4000-8000-0000000000d2","occurredAt":"2024-09-03T09:00:00Z"}"#)
        #expect(syntaxProblem(data)?.hasPrefix("the event's data is not valid JSON: duplicate key \"dossierId\"") == true)
    }

    @Test("duplicate keys are refused even when one is spelled with an escape")
    func escapedDuplicateKeys() {
        let data = bytes(#"{"schemaVersion":1,"dossierId":"00000000-0000-4000-8000-0000000000d1","dossier\u0049d":"x","occurredAt":"2024-09-03T09:00:00Z"}"#)
        #expect(syntaxProblem(data)?.contains("duplicate key") == true)
    }

    @Test("trailing garbage is refused")
    func trailingGarbage() {
        #expect(syntaxProblem(bytes(validWithdrawal + "}")) == "the event's data is not valid JSON: unexpected characters after the JSON value (at byte \(validWithdrawal.utf8.count))")
    }

    @Test("invalid UTF-8 is refused", arguments: [
        [0xFF] as [UInt8], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80],
    ])
    func invalidUTF8(_ sequence: [UInt8]) {
        let data = bytes(#"{"schemaVersion":1,"x":""#) + sequence + bytes(#""}"#)
        #expect(syntaxProblem(data)?.contains("UTF-8") == true)
    }

    @Test("valid multi-byte UTF-8 and escapes are read as text")
    func validText() throws {
        let event = try DomainEvent.decode(type: "SlotPublished", data: bytes(#"{"schemaVersion":1,"slotId":"00000000-0000-4000-8000-000000000001","site":"grenoble","motif":"filing","category":"student","start":"2024-09-10T08:30:00Z","durationMinutes":20,"counter":"guichet \u00e9 \ud83d\ude00 é","capacity":2,"releaseId":"00000000-0000-4000-8000-000000009000","occurredAt":"2024-09-03T09:00:00Z"}"#), eventIndex: 0)
        guard case .slotPublished(let slot) = event else { Issue.record("wrong type"); return }
        #expect(slot.counter == "guichet é 😀 é")
        let reread = try DomainEvent.decode(type: "SlotPublished", data: event.encodedData(), eventIndex: 0)
        #expect(reread == event)
    }

    @Test("lone surrogates, bad escapes and raw control characters are refused", arguments: [
        #""\ud83d""#, #""\ude00""#, #""\x""#, "\"a\u{01}b\"", #""\u12""#,
    ])
    func badStrings(_ literal: String) {
        #expect(syntaxProblem(bytes(#"{"schemaVersion":1,"x":"# + literal + "}")) != nil)
    }

    @Test("malformed numbers are refused", arguments: ["01", "1.", "-", "1e", ".5", "+1", "NaN", "1e999"])
    func badNumbers(_ literal: String) {
        #expect(syntaxProblem(bytes(#"{"schemaVersion":"# + literal + "}")) != nil)
    }

    @Test("nesting deeper than 32 levels is refused")
    func deepNesting() {
        let deep = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
        #expect(syntaxProblem(bytes(#"{"x":"# + deep + "}"))?.contains("nesting deeper than 32") == true)
    }

    @Test("an event larger than the limit is refused before parsing")
    func tooLarge() {
        let huge = bytes(#"{"x":""#) + Array(repeating: UInt8(ascii: "a"), count: DomainEvent.maximumDataSize) + bytes(#""}"#)
        let failure = #expect(throws: ValidationFailure.self) { try DomainEvent.decode(type: "DossierWithdrawn", data: huge, eventIndex: 0) }
        #expect(failure?.problems.map(\.rule) == ["size"])
    }
}
