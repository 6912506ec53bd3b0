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
    /// object: `let`, so nothing can swap in bytes that were not checked (see `request`).
    let events: [ProposedEvent]
    /// Only the streams the client named; a missing stream is `any`.
    let expectations: [String: ExpectedVersion]

    /// The journal append of these events, marked as validated so the journal does not scan
    /// the same bytes again.
    func request(expecting expectedVersions: [String: ExpectedVersion]) -> AppendRequest {
        var request = AppendRequest(events: events, expectedVersions: expectedVersions)
        request.jsonAlreadyValidated = true
        return request
    }

    static let maximumEvents = 10_000

    enum Parsed {
        case success(AppendBody)
        case failure([RequestProblem])

        var body: AppendBody? { if case .success(let b) = self { b } else { nil } }
    }

    /// Every structural problem at once; domain validation happens afterwards.
    static func parse(_ body: [UInt8]) -> Parsed {
        body.withUnsafeBytes { raw in parse(raw) }
    }

    private static func parse(_ raw: UnsafeRawBufferPointer) -> Parsed {
        let members: [JSONSlices.Member]
        do { members = try JSONSlices.members(ofObject: raw) } catch {
            return .failure([RequestProblem(eventIndex: nil, field: "$", rule: "json.syntax", message: error.description)])
        }
        var problems: [RequestProblem] = []
        var eventsRange: Range<Int>?
        var expectationsRange: Range<Int>?
        for m in members {
            switch m.key {
            case "events": eventsRange = m.value
            case "expectedVersions": expectationsRange = m.value
            default:
                problems.append(RequestProblem(eventIndex: nil, field: m.key, rule: "unknownField",
                                               message: "unknown field '\(m.key.prefix(60))'; an append has \"events\" and \"expectedVersions\""))
            }
        }
        var events: [ProposedEvent] = []
        if let r = eventsRange {
            if raw[r.lowerBound] != UInt8(ascii: "[") {
                problems.append(RequestProblem(eventIndex: nil, field: "events", rule: "type", message: "\"events\" must be an array of events"))
            } else {
                let elements = JSONSlices.elements(ofArray: raw, in: r)
                if elements.isEmpty {
                    problems.append(RequestProblem(eventIndex: nil, field: "events", rule: "required", message: "an append needs at least one event"))
                } else if elements.count > maximumEvents {
                    problems.append(RequestProblem(eventIndex: nil, field: "events", rule: "size", message: "an append holds at most \(maximumEvents) events, not \(elements.count)"))
                } else {
                    for (index, element) in elements.enumerated() {
                        if let event = parseEvent(raw, element, index: index, problems: &problems) { events.append(event) }
                    }
                }
            }
        } else {
            problems.append(RequestProblem(eventIndex: nil, field: "events", rule: "required", message: "missing field \"events\""))
        }
        var expectations: [String: ExpectedVersion] = [:]
        if let r = expectationsRange {
            if raw[r.lowerBound] != UInt8(ascii: "{") {
                problems.append(RequestProblem(eventIndex: nil, field: "expectedVersions", rule: "type", message: "\"expectedVersions\" must be an object mapping streams to versions"))
            } else {
                for m in JSONSlices.members(ofObject: raw, in: r) {
                    let text = JSONSlices.string(raw, m.value) ?? String(decoding: raw[m.value], as: UTF8.self)
                    guard let e = ExpectedVersion(wire: text), raw[m.value.lowerBound] != UInt8(ascii: "-") else {
                        problems.append(RequestProblem(eventIndex: nil, field: "expectedVersions.\(m.key.prefix(80))", rule: "type",
                                                       message: "an expected version is a whole number, \"any\", \"noStream\" or \"streamExists\", not \(text.prefix(40))"))
                        continue
                    }
                    expectations[m.key] = e
                }
                for stream in expectations.keys where !events.contains(where: { $0.stream == stream }) {
                    problems.append(RequestProblem(eventIndex: nil, field: "expectedVersions.\(stream.prefix(80))", rule: "unusedExpectation",
                                                   message: "expectedVersions names stream '\(stream.prefix(80))', but no event of the append writes to it"))
                }
            }
        }
        return problems.isEmpty ? .success(AppendBody(events: events, expectations: expectations)) : .failure(problems)
    }

    private static let eventFields: Set<String> = ["stream", "type", "id", "data", "metadata"]

    private static func parseEvent(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>, index: Int, problems: inout [RequestProblem]) -> ProposedEvent? {
        guard raw[range.lowerBound] == UInt8(ascii: "{") else {
            problems.append(RequestProblem(eventIndex: index, field: "$", rule: "type", message: "an event must be a JSON object"))
            return nil
        }
        var fields: [String: Range<Int>] = [:]
        let before = problems.count
        for m in JSONSlices.members(ofObject: raw, in: range) {
            guard eventFields.contains(m.key) else {
                problems.append(RequestProblem(eventIndex: index, field: m.key, rule: "unknownField",
                                               message: "unknown field '\(m.key.prefix(60))'; an event has stream, type, id, data and metadata"))
                continue
            }
            fields[m.key] = m.value
        }
        func string(_ key: String) -> String? {
            guard let r = fields[key] else {
                problems.append(RequestProblem(eventIndex: index, field: key, rule: "required", message: "missing field \"\(key)\""))
                return nil
            }
            guard let s = JSONSlices.string(raw, r) else {
                problems.append(RequestProblem(eventIndex: index, field: key, rule: "type", message: "\"\(key)\" must be a string"))
                return nil
            }
            return s
        }
        func object(_ key: String, required: Bool) -> [UInt8]? {
            guard let r = fields[key] else {
                if required { problems.append(RequestProblem(eventIndex: index, field: key, rule: "required", message: "missing field \"\(key)\"")) }
                return nil
            }
            guard raw[r.lowerBound] == UInt8(ascii: "{") else {
                problems.append(RequestProblem(eventIndex: index, field: key, rule: "json.notObject", message: "\"\(key)\" must be a JSON object"))
                return nil
            }
            return Array(raw[r])
        }
        let stream = string("stream")
        let type = string("type")
        let data = object("data", required: true)
        let metadata = object("metadata", required: false) ?? Array("{}".utf8)
        var id: UUID?
        if let r = fields["id"] {
            if let text = JSONSlices.string(raw, r), let parsed = UUID(uuidString: text) {
                id = parsed
            } else {
                problems.append(RequestProblem(eventIndex: index, field: "id", rule: "format.uuid", message: "\"id\" must be a UUID such as 0b6f3f5e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"))
            }
        }
        guard problems.count == before, let stream, let type, let data else { return nil }
        return ProposedEvent(stream: stream, type: type, id: id, data: data, metadata: metadata)
    }
}
