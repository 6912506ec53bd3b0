import Foundation
import Testing
import Domain

@Suite("Event catalogue")
struct CatalogueTests {
    @Test("every event type survives encoding and decoding unchanged")
    func everyEventRoundTrips() throws {
        #expect(Set(Sample.everyEvent.map(\.typeName)) == Set(DomainEvent.allTypeNames))
        for event in Sample.everyEvent {
            let decoded = try DomainEvent.decode(type: event.typeName, data: event.encodedData(), eventIndex: 0)
            #expect(decoded == event)
            #expect(decoded.encodedData() == event.encodedData())
        }
    }

    @Test("encoded data is compact JSON that starts with the schema version")
    func encodedDataStartsWithSchemaVersion() {
        for event in Sample.everyEvent {
            let text = event.encodedData().text
            #expect(text.hasPrefix("{\"schemaVersion\":1,"), "\(event.typeName): \(text)")
            #expect(!text.contains(" ") || text.contains("guichet 3"), "\(text)")
        }
    }

    @Test("a slot publication is written with the documented field names and spellings")
    func slotPublicationBytes() {
        let text = DomainEvent.slotPublished(Sample.publication()).encodedData().text
        #expect(text == #"{"schemaVersion":1,"slotId":"00000000-0000-4000-8000-000000000001","site":"grenoble","motif":"filing","category":"student","start":"2024-09-10T08:30:00Z","durationMinutes":20,"counter":"guichet 3","capacity":2,"releaseId":"00000000-0000-4000-8000-000000009000","occurredAt":"2024-09-03T09:00:00Z"}"#)
    }

    @Test("events are Codable through JSONEncoder and JSONDecoder with the same strictness")
    func codableThroughFoundation() throws {
        let booked = Sample.everyEvent[2]
        let data = try JSONEncoder().encode(booked)
        #expect(try JSONDecoder().decode(DomainEvent.self, from: data) == booked)

        let publication = Sample.publication()
        let single = try JSONEncoder().encode(publication)
        #expect(try JSONDecoder().decode(SlotPublished.self, from: single) == publication)

        var tampered = try JSONSerialization.jsonObject(with: single) as! [String: Any]
        tampered["phone"] = "+33 6 00 00 00 00"
        let tamperedData = try JSONSerialization.data(withJSONObject: tampered)
        #expect(throws: ValidationFailure.self) { try JSONDecoder().decode(SlotPublished.self, from: tamperedData) }
    }

    @Test("no event carries a field for a name, an email, a phone or a document number in clear")
    func noPersonalDataFields() throws {
        let forbidden = ["name", "email", "mail", "phone", "telephone", "passport", "documentnumber", "address", "birth"]
        for event in Sample.everyEvent {
            let object = try JSONSerialization.jsonObject(with: Data(event.encodedData())) as! [String: Any]
            for key in object.keys {
                let lowered = key.lowercased()
                #expect(!forbidden.contains { lowered.contains($0) }, "\(event.typeName).\(key)")
            }
        }
    }

    @Test("every JSON example in docs/EVENTS.md is a valid event of the type it documents")
    func documentedExamplesAreValid() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/EVENTS.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        var currentType: String?
        var inJSON = false
        var block = ""
        var documented: Set<String> = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") { currentType = nil }
            if line.hasPrefix("### ") { currentType = String(line.dropFirst(4)).trimmingCharacters(in: .whitespaces) }
            if line == "```json" { inJSON = true; block = ""; continue }
            if inJSON, line == "```" {
                inJSON = false
                guard let type = currentType, DomainEvent.allTypeNames.contains(type) else { continue }
                do {
                    _ = try DomainEvent.decode(type: type, data: Array(block.utf8), eventIndex: 0)
                    documented.insert(type)
                } catch {
                    Issue.record("example of \(type) in docs/EVENTS.md is invalid: \(error)")
                }
                continue
            }
            if inJSON { block += line + "\n" }
        }
        #expect(documented == Set(DomainEvent.allTypeNames), "types without a valid example: \(Set(DomainEvent.allTypeNames).subtracting(documented).sorted())")
    }

    @Test("every event names the streams it belongs to, of the documented kinds")
    func eventsLiveInTheirStreams() {
        let kinds = Dictionary(uniqueKeysWithValues: Sample.everyEvent.map { ($0.typeName, Set($0.homes.map(\.kind))) })
        #expect(kinds["SlotPublished"] == [.slot])
        #expect(kinds["AppointmentBooked"] == [.slot, .applicant])
        #expect(kinds["AppointmentRescheduled"] == [.slot, .applicant])
        #expect(kinds["AppointmentAttended"] == [.applicant])
        #expect(kinds["DossierSubmitted"] == [.dossier])
        #expect(kinds["BookingFlagged"] == [.fingerprint])
        #expect(Sample.everyEvent[3].homes.count == 3, "a reschedule touches both slots and the applicant")
    }

    @Test("the number of streams an event lives in is known from its type alone, for every type of the catalogue")
    func homeCountFromTheType() {
        #expect(Set(Sample.everyEvent.map(\.typeName)) == Set(DomainEvent.allTypeNames))
        for event in Sample.everyEvent {
            #expect(DomainEvent.homeCount(ofType: event.typeName) == event.homes.count, "\(event.typeName)")
        }
        #expect(DomainEvent.homeCount(ofType: "CustomerNoteAdded") == nil)
    }
}
