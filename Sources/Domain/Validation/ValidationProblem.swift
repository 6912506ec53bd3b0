/// One thing wrong with one event of an append, as the server puts it on the wire.
public struct ValidationProblem: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The event's position in the append, from 0.
    public var eventIndex: Int
    /// A JSON path into the event's data (`start`, `documents[2]`), `$` for the whole document,
    /// or `stream` / `type` for the envelope.
    public var field: String
    /// A stable name from `ValidationRule`, for programs.
    public var rule: String
    /// The same in words, for the integrator reading the response.
    public var message: String

    public init(eventIndex: Int, field: String, rule: String, message: String) {
        self.eventIndex = eventIndex
        self.field = field
        self.rule = rule
        self.message = message
    }

    init(eventIndex: Int, field: String, rule: ValidationRule, message: String) {
        self.init(eventIndex: eventIndex, field: field, rule: rule.rawValue, message: message)
    }

    public var description: String { "event \(eventIndex), \(field): \(message) [\(rule)]" }
}

/// Every problem found in an event or an append, never only the first, so that an integrator
/// fixes their payload in one round trip.
public struct ValidationFailure: Error, Sendable, Equatable {
    public var problems: [ValidationProblem]
    public init(problems: [ValidationProblem]) { self.problems = problems }
}

/// The stable names of the validation rules (the `rule` of a `ValidationProblem`).
public enum ValidationRule: String, Sendable, CaseIterable {
    case required
    case type
    case closedSet
    case dateFormat = "format.date"
    case uuidFormat = "format.uuid"
    case hashFormat = "format.hash"
    case wholeMinute = "format.wholeMinute"
    case range
    case length
    case endBeforeStart
    case unknownField
    case unknownEventType
    case unsupportedSchemaVersion = "schemaVersion.unsupported"
    case jsonSyntax = "json.syntax"
    case notAnObject = "json.notObject"
    case tooLarge = "size"
    case malformedStreamName = "stream.malformed"
    case wrongStreamKind = "stream.wrongKind"
    case streamIdMismatch = "stream.idMismatch"
    case missingHome = "stream.missingHome"
    /// An attendance whose identity check failed, without its `IdentityMismatchAtCounter`.
    case mismatchMissing = "evidence.mismatchMissing"
}
