import Foundation

/// One line of an NDJSON import: an event to append, and what its stream must be at before it.
///
/// Accepted fields: `stream`, `type`, `data` (required); `id`, `metadata`, `expectedVersion`
/// (optional); and `version`, `position`, `recordedAt`, so that `registre replay` output imports
/// as it is. `version` V means the stream must be at V-1 before this event, which keeps versions
/// identical in the new journal. Any other field is refused, so a typo does not vanish.
///
/// The stream id, the type and the event's size are checked against the journal's limits here,
/// as each line is read, so that a bad one is named by its line before any append is made,
/// instead of refusing the whole append that holds it.
public struct ImportLine: Sendable, Equatable {
    public var event: ProposedEvent
    public var expectedVersion: ExpectedVersion?

    public struct Problem: Error, Equatable, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    private static let known: Set<String> = ["stream", "type", "id", "data", "metadata", "expectedVersion", "version", "position", "recordedAt"]

    /// `limits` are those of the journal the line will be appended to.
    public init(parsing line: UnsafeRawBufferPointer, limits: JournalLimits = JournalLimits()) throws(Problem) {
        let members: [JSONSlices.Member]
        do { members = try JSONSlices.members(ofObject: line) } catch { throw Problem(message: error.description) }
        var fields: [String: Range<Int>] = [:]
        for m in members {
            guard Self.known.contains(m.key) else { throw Problem(message: "unknown field '\(m.key)'") }
            fields[m.key] = m.value
        }
        func string(_ key: String, required: Bool) throws(Problem) -> String? {
            guard let r = fields[key] else {
                if required { throw Problem(message: "missing field '\(key)'") }
                return nil
            }
            guard let s = JSONSlices.string(line, r) else { throw Problem(message: "'\(key)' must be a string") }
            return s
        }
        func object(_ key: String) throws(Problem) -> [UInt8]? {
            guard let r = fields[key] else { return nil }
            guard line[r.lowerBound] == UInt8(ascii: "{") else { throw Problem(message: "'\(key)' must be a JSON object") }
            return Array(line[r])
        }
        let stream = try string("stream", required: true)!
        let type = try string("type", required: true)!
        if let problem = limits.streamIDProblem(stream) { throw Problem(message: "invalid stream id '\(stream.prefix(80))': \(problem)") }
        if let problem = limits.typeProblem(type) { throw Problem(message: "invalid event type '\(type.prefix(80))': \(problem)") }
        guard let data = try object("data") else { throw Problem(message: "missing field 'data'") }
        let metadata = try object("metadata") ?? Array("{}".utf8)
        let size = JournalLimits.recordBytes(stream: stream, type: type, metadata: metadata.count, data: data.count)
        guard size <= limits.maximumEventBytes else {
            throw Problem(message: "the event is \(size) bytes, over the limit of \(limits.maximumEventBytes) (stream, type, data and metadata)")
        }
        var id: UUID? = nil
        if let text = try string("id", required: false) {
            guard let parsed = UUID(uuidString: text) else { throw Problem(message: "'id' is not a UUID: '\(text.prefix(60))'") }
            id = parsed
        }
        var expected: ExpectedVersion? = nil
        if let r = fields["expectedVersion"] {
            let raw = JSONSlices.string(line, r) ?? String(decoding: line[r], as: UTF8.self)
            guard let e = ExpectedVersion(wire: raw) else {
                throw Problem(message: "'expectedVersion' must be a version number, \"any\", \"noStream\" or \"streamExists\", not \(raw.prefix(40))")
            }
            expected = e
        }
        if let r = fields["version"] {
            guard let v = UInt64(String(decoding: line[r], as: UTF8.self)) else { throw Problem(message: "'version' must be a whole number") }
            let implied: ExpectedVersion = v == 0 ? .noStream : .exact(v - 1)
            if let e = expected, e != implied, e != .any {
                throw Problem(message: "'version' \(v) contradicts 'expectedVersion' \(e)")
            }
            expected = implied
        }
        event = ProposedEvent(stream: stream, type: type, id: id, data: data, metadata: metadata)
        expectedVersion = expected
    }
}

/// Groups import lines into appends, keeping each line's expectation exact: a line whose stream
/// is already in the batch joins it only when its expectation follows from the batch itself.
public struct ImportBatcher {
    public private(set) var events: [ProposedEvent] = []
    public private(set) var expectations: [String: ExpectedVersion] = [:]
    /// Per stream in the batch: the version its last event will get, when known from expectations.
    private var predicted: [String: UInt64?] = [:]
    public let maximumEvents: Int

    public init(maximumEvents: Int) { self.maximumEvents = maximumEvents }

    public var isEmpty: Bool { events.isEmpty }
    public var request: AppendRequest { AppendRequest(events: events, expectedVersions: expectations) }

    /// False when the line cannot join this batch: flush it first, then add the line again.
    public mutating func add(_ line: ImportLine) -> Bool {
        if events.count >= maximumEvents { return false }
        let stream = line.event.stream
        if let known = predicted[stream] {
            switch line.expectedVersion {
            case nil, .any?, .streamExists?: break
            case .noStream?: return false
            case .exact(let v)?: guard known == v else { return false }
            }
            // No stream reaches version UInt64.max: an expectation of it only ever conflicts,
            // and predicting past it must not trap.
            predicted[stream] = known.flatMap { $0 == .max ? nil : $0 + 1 }
        } else {
            if let e = line.expectedVersion { expectations[stream] = e }
            switch line.expectedVersion {
            case .noStream?: predicted[stream] = .some(0)
            case .exact(let v)?: predicted[stream] = .some(v == .max ? nil : v + 1)
            default: predicted[stream] = .some(nil)
            }
        }
        events.append(line.event)
        return true
    }

    public mutating func reset() {
        events.removeAll(keepingCapacity: true)
        expectations = [:]
        predicted = [:]
    }
}
