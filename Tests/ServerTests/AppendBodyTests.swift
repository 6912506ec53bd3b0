import Foundation
import Journal
import Testing
@testable import Server

@Suite struct AppendBodyTests {
    @Test func keepsDataAndMetadataBytesExactlyAsSent() throws {
        let body = #"{"events":[{"stream":"s-1","type":"T","id":"0b6f3f5e-1c2d-4e5f-8a9b-0c1d2e3f4a5b","data":{ "b" : 1.50, "a":"\u00e9" },"metadata":{"k":[1, 2]}}],"expectedVersions":{"s-1":"noStream"}}"#
        let parsed = try #require(AppendBody.parse(Array(body.utf8)).body)
        #expect(parsed.events.count == 1)
        #expect(String(decoding: parsed.events[0].data, as: UTF8.self) == #"{ "b" : 1.50, "a":"\u00e9" }"#)
        #expect(String(decoding: parsed.events[0].metadata, as: UTF8.self) == #"{"k":[1, 2]}"#)
        #expect(parsed.events[0].id == UUID(uuidString: "0b6f3f5e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"))
        #expect(parsed.expectations == ["s-1": .noStream])
    }

    @Test func theJournalRequestOfAParsedBodyIsMarkedValidatedAndCarriesTheSameBytes() throws {
        let body = #"{"events":[{"stream":"s-1","type":"T","data":{"a":[1,{"b":null}]},"metadata":{"k":"v"}}],"expectedVersions":{"s-1":"noStream"}}"#
        let parsed = try #require(AppendBody.parse(Array(body.utf8)).body)
        let request = parsed.request(expecting: ["s-1": .exact(3)])
        #expect(request.jsonAlreadyValidated)
        #expect(request.events == parsed.events)
        #expect(request.expectedVersions == ["s-1": .exact(3)])
        // Every byte the journal will not scan again was checked by the body's own validation.
        for e in request.events {
            #expect(throws: Never.self) { try JSONValidation.validateObject(e.data) }
            #expect(throws: Never.self) { try JSONValidation.validateObject(e.metadata) }
        }
        #expect(!AppendRequest(events: parsed.events).jsonAlreadyValidated)
    }

    @Test func expectedVersionsTakeNumbersAndTheThreeWords() throws {
        let body = #"{"events":[{"stream":"a","type":"T","data":{}},{"stream":"b","type":"T","data":{}},{"stream":"c","type":"T","data":{}},{"stream":"d","type":"T","data":{}}],"expectedVersions":{"a":7,"b":"any","c":"streamExists","d":"noStream"}}"#
        let parsed = try #require(AppendBody.parse(Array(body.utf8)).body)
        #expect(parsed.expectations == ["a": .exact(7), "b": .any, "c": .streamExists, "d": .noStream])
        #expect(parsed.events.allSatisfy { String(decoding: $0.metadata, as: UTF8.self) == "{}" && $0.id == nil })
    }

    @Test func listsEveryProblemOfEveryEventAtOnce() {
        let body = #"{"events":[{"stream":"a","type":"T"},{"stream":5,"type":"T","data":{},"id":"nope"},{"stream":"c","type":"T","data":[1],"color":1},"x"],"expectedVersions":{"a":-1,"zzz":3},"extra":true}"#
        guard case .failure(let problems) = AppendBody.parse(Array(body.utf8)) else {
            Issue.record("accepted a broken append")
            return
        }
        let summary = problems.map { "\($0.eventIndex.map(String.init) ?? "-"):\($0.field):\($0.rule)" }
        #expect(Set(summary) == [
            "-:extra:unknownField",
            "0:data:required",
            "1:stream:type", "1:id:format.uuid",
            "2:color:unknownField", "2:data:json.notObject",
            "3:$:type",
            "-:expectedVersions.a:type",
            "-:expectedVersions.zzz:unusedExpectation",
        ], "\(summary)")
    }

    @Test(arguments: ["", "{", "[]", "{\"events\":[]}", "{\"events\":{}}", "{\"events\":[{}]} trailing", "\u{FF}"])
    func malformedBodiesAreProblemsNotCrashes(body: String) {
        guard case .failure(let problems) = AppendBody.parse(Array(body.utf8)) else {
            Issue.record("accepted \(body)")
            return
        }
        #expect(!problems.isEmpty)
    }

    @Test func invalidUTF8InsideAStringIsRefused() {
        var bytes = Array(#"{"events":[{"stream":"a","type":"T","data":{"k":"x"}}]}"#.utf8)
        let k = bytes.firstIndex(of: UInt8(ascii: "x"))!
        bytes[k] = 0xC3  // a lead byte with no continuation
        guard case .failure(let problems) = AppendBody.parse(bytes) else {
            Issue.record("accepted invalid UTF-8")
            return
        }
        #expect(problems.first?.rule == "json.syntax")
    }

    @Test func idsAreReadInEitherCaseAndWithEscapesAndRefusedOtherwise() throws {
        let expected = UUID(uuidString: "0B6F3F5E-1C2D-4E5F-8A9B-0C1D2E3F4A5B")
        for id in ["0b6f3f5e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "0B6F3F5E-1C2D-4E5F-8A9B-0C1D2E3F4A5B", #"0b6f3f5e\u002d1c2d-4e5f-8a9b-0c1d2e3f4a5b"#] {
            let body = #"{"events":[{"stream":"s","type":"T","id":"\#(id)","data":{}}]}"#
            let parsed = try #require(AppendBody.parse(Array(body.utf8)).body, "\(id)")
            #expect(parsed.events[0].id == expected, "\(id)")
        }
        for id in ["0b6f3f5e-1c2d-4e5f-8a9b-0c1d2e3f4a5", "0b6f3f5e-1c2d-4e5f-8a9b-0c1d2e3f4a5g", "0b6f3f5e1c2d-4e5f-8a9b-0c1d2e3f4a5b0",
                   "{0b6f3f5e-1c2d-4e5f-8a9b-0c1d2e3f4a5b}", ""] {
            let body = #"{"events":[{"stream":"s","type":"T","id":"\#(id)","data":{}}]}"#
            guard case .failure(let problems) = AppendBody.parse(Array(body.utf8)) else {
                Issue.record("accepted the id \(id)")
                continue
            }
            #expect(problems.map(\.rule) == ["format.uuid"], "\(id)")
        }
    }

    @Test func oneWalkFindsEveryFieldWhateverTheSpacingOrderAndNesting() throws {
        let body = " \n" + #"{ "expectedVersions" : { "s-1" : 2 } ,"# + "\t" + #""events" : [ { "data" : { "x" : [ "]}\"" , { } ] } , "type" : "T\n" ,"stream":"s-1" } , {"metadata":{"m":"}"},"stream":"b","type":"U","data":{}} ] }"# + " \r\n"
        let parsed = try #require(AppendBody.parse(Array(body.utf8)).body)
        #expect(parsed.events.map(\.stream) == ["s-1", "b"])
        #expect(parsed.events.map(\.type) == ["T\n", "U"])
        #expect(String(decoding: parsed.events[0].data, as: UTF8.self) == #"{ "x" : [ "]}\"" , { } ] }"#)
        #expect(String(decoding: parsed.events[1].metadata, as: UTF8.self) == #"{"m":"}"}"#)
        #expect(parsed.expectations == ["s-1": .exact(2)])
    }

    @Test func moreEventsThanAnAppendHoldsIsOneProblem() {
        let event = #"{"stream":"s","type":"T","data":{}}"#
        let body = #"{"events":["# + Array(repeating: event, count: AppendBody.maximumEvents + 1).joined(separator: ",") + "]}"
        guard case .failure(let problems) = AppendBody.parse(Array(body.utf8)) else {
            Issue.record("accepted \(AppendBody.maximumEvents + 1) events")
            return
        }
        #expect(problems.map(\.rule) == ["size"])
    }
}
