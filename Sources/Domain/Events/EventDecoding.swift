import Foundation

extension DomainEvent {
    /// Events larger than this are refused: nothing in the catalogue comes close, and the journal
    /// should not become a place to store files.
    public static let maximumDataSize = 64 * 1024

    /// The event's data as compact JSON, `schemaVersion` first, fields in catalogue order.
    public func encodedData() -> [UInt8] { payload.encodedData() }

    /// Decodes and validates one event, upcasting older schema versions to the current shape.
    ///
    /// Throws every problem found, each naming `eventIndex`, so that a caller validating an
    /// append can report them all at once.
    public static func decode(type: String, data: [UInt8], eventIndex: Int) throws(ValidationFailure) -> DomainEvent {
        var problems: [ValidationProblem] = []
        let event = data.withUnsafeBufferPointer { decode(type: type, bytes: $0, eventIndex: eventIndex, problems: &problems) }
        guard let event, problems.isEmpty else { throw ValidationFailure(problems: problems) }
        return event
    }

    /// The allocation-light form used by the replay checker; problems are appended to `problems`.
    static func decode(type: String, bytes: UnsafeBufferPointer<UInt8>, eventIndex: Int, problems: inout [ValidationProblem]) -> DomainEvent? {
        decode(type: type, reader: readers[type], bytes: bytes, eventIndex: eventIndex, problems: &problems)
    }

    /// The same with the type's reader already looked up (`readers[type]`, nil for a type the
    /// catalogue does not know), as the replay checker caches it per type name.
    static func decode(type: String, reader: Reader?, bytes: UnsafeBufferPointer<UInt8>, eventIndex: Int,
                       problems: inout [ValidationProblem]) -> DomainEvent? {
        var members: [JSONMember] = []
        return decode(type: type, reader: reader, bytes: bytes, eventIndex: eventIndex, problems: &problems, members: &members)
    }

    /// The same, parsing the data's members into `members`, a buffer the caller keeps from one
    /// event to the next (the replay checker), so that decoding allocates nothing for it.
    static func decode(type: String, reader: Reader?, bytes: UnsafeBufferPointer<UInt8>, eventIndex: Int,
                       problems: inout [ValidationProblem], members storage: inout [JSONMember]) -> DomainEvent? {
        guard let read = reader?.read else {
            let shown = type.count > 60 ? String(type.prefix(60)) + "…" : type
            problems.append(ValidationProblem(eventIndex: eventIndex, field: "type", rule: .unknownEventType,
                                              message: "\"\(shown)\" is not an event type of the catalogue (see docs/EVENTS.md)"))
            return nil
        }
        guard bytes.count <= maximumDataSize else {
            problems.append(ValidationProblem(eventIndex: eventIndex, field: "$", rule: .tooLarge,
                                              message: "the event's data is \(bytes.count) bytes; at most \(maximumDataSize) are allowed"))
            return nil
        }
        let root: JSONValue
        do {
            root = try JSONParser.parse(bytes, reusing: &storage)
        } catch {
            problems.append(ValidationProblem(eventIndex: eventIndex, field: "$", rule: .jsonSyntax,
                                              message: "the event's data is not valid JSON: \(error.reason) (at byte \(error.offset))"))
            return nil
        }
        guard case .object(let members) = root else {
            problems.append(ValidationProblem(eventIndex: eventIndex, field: "$", rule: .notAnObject,
                                              message: "the event's data must be a JSON object, not \(root.typeDescription)"))
            return nil
        }
        guard members.count <= 64 else {
            problems.append(ValidationProblem(eventIndex: eventIndex, field: "$", rule: .tooLarge,
                                              message: "the event's data has \(members.count) fields; no event type has more than 64"))
            return nil
        }
        var reader = FieldReader(bytes: bytes, members: members, eventIndex: eventIndex, typeName: type)
        var event: DomainEvent?
        if let version = reader.integer("schemaVersion", in: 0...1_000) {
            event = read(&reader, version)
        }
        reader.reportUnknownFields()
        guard reader.problems.isEmpty else {
            problems.append(contentsOf: reader.problems)
            return nil
        }
        return event
    }
}

// MARK: - Codable, through the same strict reader

/// Decodes any event struct from a `Decoder` by way of the catalogue's own reader, so that
/// `JSONDecoder` users get the same strictness (unknown fields refused, closed sets, formats).
func decodePayload<Payload: EventPayload>(_: Payload.Type, from decoder: any Decoder) throws -> Payload {
    let tree = try JSONTree(from: decoder)
    let event = try DomainEvent.decode(type: Payload.typeName, data: tree.encoded(), eventIndex: 0)
    guard let payload = event.payload as? Payload else {
        throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a \(Payload.typeName)"))
    }
    return payload
}

func encodePayload(_ payload: some EventPayload, to encoder: any Encoder) throws {
    try JSONTree(parsing: payload.encodedData()).encode(to: encoder)
}

extension DomainEvent: Codable {
    private enum EnvelopeKey: String, CodingKey { case type, data }

    /// Encodes as `{"type": "...", "data": {...}}`, the shape the journal stores side by side.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: EnvelopeKey.self)
        try container.encode(typeName, forKey: .type)
        try container.encode(try JSONTree(parsing: encodedData()), forKey: .data)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: EnvelopeKey.self)
        let type = try container.decode(String.self, forKey: .type)
        let data = try container.decode(JSONTree.self, forKey: .data)
        self = try DomainEvent.decode(type: type, data: data.encoded(), eventIndex: 0)
    }
}

extension ValidationFailure: CustomStringConvertible {
    public var description: String { problems.map(\.description).joined(separator: "; ") }
}
