import Domain
import Foundation
import Journal

/// One thing wrong with a request body, as listed under `"problems"` in a 400 answer.
struct RequestProblem: Sendable, Equatable {
    /// The event concerned, or nil for the body as a whole.
    var eventIndex: Int?
    var field: String
    var rule: String
    var message: String

    init(eventIndex: Int?, field: String, rule: String, message: String) {
        self.eventIndex = eventIndex
        self.field = field
        self.rule = rule
        self.message = message
    }

    init(_ p: ValidationProblem) {
        self.init(eventIndex: p.eventIndex, field: p.field, rule: p.rule, message: p.message)
    }

    var json: [UInt8] {
        var b = JSONBuilder()
        if let eventIndex { b.field("eventIndex", eventIndex) } else { b.nullField("eventIndex") }
        b.field("field", field)
        b.field("rule", rule)
        b.field("message", message)
        return b.finished()
    }

    static func response(_ problems: [RequestProblem], message: String? = nil) -> ServerResponse {
        let shown = problems.prefix(1000)
        return .error(.badRequest, "invalidRequest", message ?? "the request has \(problems.count) problem(s); every one is listed") { b in
            b.arrayField("problems", shown.map(\.json))
        }
    }
}

/// The body of `POST /append`, cut into raw ranges so that `data` and `metadata` are kept
/// byte for byte as the client sent them.
struct AppendBody: Sendable {
    /// Slices of a body that `JSONValidation` checked whole, each `data` and `metadata` an
    /// object: set only here, so nothing can swap in bytes that were not checked (see `request`);
    /// `assignID` changes an id, never bytes.
    private(set) var events: [ProposedEvent]
    /// Only the streams the client named; a missing stream is `any`.
    let expectations: [String: ExpectedVersion]

    /// The journal append of these events, marked as validated so the journal does not scan
    /// the same bytes again.
    func request(expecting expectedVersions: [String: ExpectedVersion]) -> AppendRequest {
        var request = AppendRequest(events: events, expectedVersions: expectedVersions)
        request.jsonAlreadyValidated = true
        return request
    }

    /// Gives event `index` the id the catalogue fixes for it (a booking's copies).
    mutating func assignID(_ id: UUID, toEventAt index: Int) {
        events[index].id = id
    }

    static let maximumEvents = 10_000
    /// The metadata of an event sent without any: one shared array, not one allocated per event.
    static let emptyMetadata: [UInt8] = Array("{}".utf8)

    enum Parsed {
        case success(AppendBody)
        case failure([RequestProblem])

        var body: AppendBody? { if case .success(let b) = self { b } else { nil } }
    }

    /// Every structural problem at once; domain validation happens afterwards.
    static func parse(_ body: [UInt8]) -> Parsed {
        body.withUnsafeBytes { raw in parse(raw) }
    }

    /// One validation, then one walk over the body (`ValidatedJSON`): members, events and
    /// fields are found in the same pass. Problems are listed as sections, in a fixed order:
    /// the body's own fields, then the events, then the expected versions.
    private static func parse(_ raw: UnsafeRawBufferPointer) -> Parsed {
        do throws(JSONValidation.Failure) { try JSONValidation.validateObject(raw) } catch {
            return .failure([RequestProblem(eventIndex: nil, field: "$", rule: "json.syntax", message: error.description)])
        }
        let json = ValidatedJSON(bytes: raw)
        var problems: [RequestProblem] = []
        var eventProblems: [RequestProblem] = []
        var expectationProblems: [RequestProblem] = []
        var sawEvents = false
        var events: [ProposedEvent] = []
        var expectationMembers: [(key: Range<Int>, value: Range<Int>)] = []
        var expectationsAreObject = true
        _ = json.forEachMember(ofObjectAt: json.skipWhitespace(0)) { key, value in
            if json.bytes(key, are: "events") {
                sawEvents = true
                guard raw[value] == UInt8(ascii: "[") else {
                    eventProblems.append(RequestProblem(eventIndex: nil, field: "events", rule: "type", message: "\"events\" must be an array of events"))
                    return json.endOfValue(value)
                }
                var count = 0
                let end = json.forEachElement(ofArrayAt: value) { element in
                    defer { count += 1 }
                    guard count < maximumEvents else { return json.endOfValue(element) }
                    let (event, end) = parseEvent(json, element, index: count, problems: &eventProblems)
                    if let event { events.append(event) }
                    return end
                }
                if count == 0 {
                    eventProblems.append(RequestProblem(eventIndex: nil, field: "events", rule: "required", message: "an append needs at least one event"))
                } else if count > maximumEvents {
                    events = []
                    eventProblems = [RequestProblem(eventIndex: nil, field: "events", rule: "size", message: "an append holds at most \(maximumEvents) events, not \(count)")]
                }
                return end
            }
            let end = json.endOfValue(value)
            if json.bytes(key, are: "expectedVersions") {
                if raw[value] == UInt8(ascii: "{") {
                    _ = json.forEachMember(ofObjectAt: value) { stream, version in
                        let versionEnd = json.endOfValue(version)
                        expectationMembers.append((stream, version..<versionEnd))
                        return versionEnd
                    }
                } else {
                    expectationsAreObject = false
                }
                return end
            }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: raw[key]), as: UTF8.self)
            problems.append(RequestProblem(eventIndex: nil, field: name, rule: "unknownField",
                                           message: "unknown field '\(name.prefix(60))'; an append has \"events\" and \"expectedVersions\""))
            return end
        }
        if !sawEvents {
            eventProblems.append(RequestProblem(eventIndex: nil, field: "events", rule: "required", message: "missing field \"events\""))
        }
        var expectations: [String: ExpectedVersion] = [:]
        expectations.reserveCapacity(expectationMembers.count)
        if !expectationsAreObject {
            expectationProblems.append(RequestProblem(eventIndex: nil, field: "expectedVersions", rule: "type", message: "\"expectedVersions\" must be an object mapping streams to versions"))
        } else if !expectationMembers.isEmpty {
            for (key, value) in expectationMembers {
                let stream = String(decoding: UnsafeRawBufferPointer(rebasing: raw[key]), as: UTF8.self)
                let text = json.string(value) ?? String(decoding: UnsafeRawBufferPointer(rebasing: raw[value]), as: UTF8.self)
                guard let e = ExpectedVersion(wire: text), raw[value.lowerBound] != UInt8(ascii: "-") else {
                    expectationProblems.append(RequestProblem(eventIndex: nil, field: "expectedVersions.\(stream.prefix(80))", rule: "type",
                                                              message: "an expected version is a whole number, \"any\", \"noStream\" or \"streamExists\", not \(text.prefix(40))"))
                    continue
                }
                expectations[stream] = e
            }
            for stream in expectations.keys where !events.contains(where: { $0.stream == stream }) {
                expectationProblems.append(RequestProblem(eventIndex: nil, field: "expectedVersions.\(stream.prefix(80))", rule: "unusedExpectation",
                                                          message: "expectedVersions names stream '\(stream.prefix(80))', but no event of the append writes to it"))
            }
        }
        problems += eventProblems
        problems += expectationProblems
        return problems.isEmpty ? .success(AppendBody(events: events, expectations: expectations)) : .failure(problems)
    }

    /// The event at `start`, or nil with its problems; and where its value ends.
    private static func parseEvent(_ json: ValidatedJSON, _ start: Int, index: Int,
                                   problems: inout [RequestProblem]) -> (ProposedEvent?, end: Int) {
        let raw = json.bytes
        guard raw[start] == UInt8(ascii: "{") else {
            problems.append(RequestProblem(eventIndex: index, field: "$", rule: "type", message: "an event must be a JSON object"))
            return (nil, json.endOfValue(start))
        }
        var streamRange, typeRange, idRange, dataRange, metadataRange: Range<Int>?
        let before = problems.count
        let end = json.forEachMember(ofObjectAt: start) { key, value in
            let end = json.endOfValue(value)
            if json.bytes(key, are: "stream") { streamRange = value..<end }
            else if json.bytes(key, are: "type") { typeRange = value..<end }
            else if json.bytes(key, are: "id") { idRange = value..<end }
            else if json.bytes(key, are: "data") { dataRange = value..<end }
            else if json.bytes(key, are: "metadata") { metadataRange = value..<end }
            else {
                let name = String(decoding: UnsafeRawBufferPointer(rebasing: raw[key]), as: UTF8.self)
                problems.append(RequestProblem(eventIndex: index, field: name, rule: "unknownField",
                                               message: "unknown field '\(name.prefix(60))'; an event has stream, type, id, data and metadata"))
            }
            return end
        }
        func string(_ key: String, _ range: Range<Int>?) -> String? {
            guard let range else {
                problems.append(RequestProblem(eventIndex: index, field: key, rule: "required", message: "missing field \"\(key)\""))
                return nil
            }
            guard let s = json.string(range) else {
                problems.append(RequestProblem(eventIndex: index, field: key, rule: "type", message: "\"\(key)\" must be a string"))
                return nil
            }
            return s
        }
        func object(_ key: String, _ range: Range<Int>?, required: Bool) -> [UInt8]? {
            guard let range else {
                if required { problems.append(RequestProblem(eventIndex: index, field: key, rule: "required", message: "missing field \"\(key)\"")) }
                return nil
            }
            guard raw[range.lowerBound] == UInt8(ascii: "{") else {
                problems.append(RequestProblem(eventIndex: index, field: key, rule: "json.notObject", message: "\"\(key)\" must be a JSON object"))
                return nil
            }
            return Array(UnsafeRawBufferPointer(rebasing: raw[range]))
        }
        let stream = string("stream", streamRange)
        let type = string("type", typeRange)
        let data = object("data", dataRange, required: true)
        let metadata = object("metadata", metadataRange, required: false) ?? emptyMetadata
        var id: UUID?
        if let r = idRange {
            if let parsed = json.uuid(r) {
                id = parsed
            } else {
                problems.append(RequestProblem(eventIndex: index, field: "id", rule: "format.uuid", message: "\"id\" must be a UUID such as 0b6f3f5e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"))
            }
        }
        guard problems.count == before, let stream, let type, let data else { return (nil, end) }
        return (ProposedEvent(stream: stream, type: type, id: id, data: data, metadata: metadata), end)
    }
}
