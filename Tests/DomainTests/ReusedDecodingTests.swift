import Foundation
import Testing
@testable import Domain

/// The replay checker decodes every event into one member buffer kept from event to event, and
/// asks each event where it belongs without building an array. Both must decide exactly as the
/// fresh, allocating paths do, whatever came before in the buffer.
@Suite("Decoding with reused buffers")
struct ReusedDecodingTests {
    /// Documents whose outcome must not depend on the path: valid, invalid and non-object ones,
    /// in an order where a long object precedes short and broken ones.
    private static let documents: [String] = [
        #"{"schemaVersion":1,"dossierId":"00000000-0000-4000-8000-0000000000d1","occurredAt":"2024-09-03T09:00:00Z","a":[1,2,{"b":null}],"c":{"d":"e\u00e9"}}"#,
        #"{}"#,
        #" { "k" : "v" } "#,
        #"{"k":1,"k":2}"#,
        #"{"k":1,"\u006b":2}"#,
        #"{"x":1}}"#,
        #"{"x":"#,
        #"[1,2,3]"#,
        #""text""#,
        #"42"#,
        #"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14}"#,
        #"{"a":1,"b":2,"a":3}"#,
        #"{"only":true}"#,
        "",
    ]

    /// A rendering of a parsed value with its strings decoded, to compare two parses.
    private static func render(_ value: JSONValue, _ bytes: UnsafeBufferPointer<UInt8>) -> String {
        switch value {
        case .null: "null"
        case .bool(let flag): "\(flag)"
        case .integer(let number): "i\(number)"
        case .number(let number): "n\(number)"
        case .string(let span): "s(\(JSONText.string(span, in: bytes)))"
        case .array(let elements): "[" + elements.map { render($0, bytes) }.joined(separator: ",") + "]"
        case .object(let members): "{" + members.map { JSONText.string($0.key, in: bytes) + ":" + render($0.value, bytes) }.joined(separator: ",") + "}"
        }
    }

    private static func outcome(_ bytes: UnsafeBufferPointer<UInt8>, reusing storage: inout [JSONMember]?) -> String {
        do {
            let value = if storage != nil { try JSONParser.parse(bytes, reusing: &storage!) } else { try JSONParser.parse(bytes) }
            return render(value, bytes)
        } catch {
            return "error at \(error.offset): \(error.reason)"
        }
    }

    @Test("parsing into a reused member buffer gives what a fresh parse gives, document after document")
    func reusedParseMatchesFreshParse() {
        var storage: [JSONMember]? = []
        var none: [JSONMember]? = nil
        for round in 0..<3 {
            for text in Self.documents {
                let data = Array(text.utf8)
                data.withUnsafeBufferPointer { buffer in
                    let fresh = Self.outcome(buffer, reusing: &none)
                    let reused = Self.outcome(buffer, reusing: &storage)
                    #expect(reused == fresh, "round \(round): \(text)")
                }
            }
        }
    }

    @Test("one checker replaying broken events between sound ones reports each as decoding it alone does")
    func checkerMatchesLoneDecoding() throws {
        let slot = StreamName.slot(site: .grenoble, slotId: Sample.uuid(1))
        let publication = DomainEvent.slotPublished(Sample.publication()).encodedData()
        let sound = String(decoding: publication, as: UTF8.self)
        // Sound, then broken in every way the decoder knows, then sound again, so that each
        // broken event finds the buffer as a longer one left it.
        let broken: [String] = [
            String(sound.dropLast()) + #","schemaVersion":1}"#,           // duplicate key
            String(sound.dropLast()) + #","phone":"0600000000"}"#,        // unknown field
            String(sound.dropLast()),                                     // syntax
            #"["not","an","object"]"#,                                    // not an object
            #"{"schemaVersion":1}"#,                                      // missing fields
        ]
        var checker = RuleChecker()
        var position: UInt64 = 0
        #expect(checker.check(stream: slot.description, type: "SlotPublished", data: publication, position: position) == [])
        for text in broken {
            position += 1
            let data = Array(text.utf8)
            let found = checker.check(stream: slot.description, type: "SlotPublished", data: data, position: position)
            var alone: [ValidationProblem] = []
            do {
                _ = try DomainEvent.decode(type: "SlotPublished", data: data, eventIndex: 0)
            } catch {
                alone = error.problems
            }
            #expect(!alone.isEmpty, "\(text)")
            #expect(found.map(\.rule) == [.invalidEvent], "\(text)")
            #expect(found.first?.problems == alone, "\(text)")
        }
        // The slot was published once, at position 0: publishing again still breaks its rule.
        #expect(checker.check(stream: slot.description, type: "SlotPublished", data: publication, position: position + 1).map(\.rule) == [.slotAlreadyPublished])
    }

    @Test("inline homes list and test membership as the array they replace")
    func homesMatchAnArray() {
        let streams: [StreamName] = Sample.everyEvent.flatMap { Array($0.homes) } + [
            .slot(site: .grenoble, slotId: Sample.uuid(0x99)), .applicant(Sample.identity(0x99)), .dossier(Sample.uuid(0x99)),
            .fingerprint(Sample.fingerprint(0x99)),
        ]
        for event in Sample.everyEvent {
            let homes = event.homes
            let array = Array(homes)
            #expect((1...3).contains(homes.count) && array.count == homes.count)
            #expect(homes.first == array.first && homes.last == array.last)
            for stream in streams {
                #expect(homes.contains(stream) == array.contains(stream), "\(event.typeName) in \(stream)")
                #expect(homes.contains(stream) == array.contains(where: { $0 == stream }))
            }
        }
    }
}
