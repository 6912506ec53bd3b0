/// A parsed JSON value whose strings still point into the bytes they were parsed from.
///
/// Borrowing the strings is what keeps the audit's replay under two microseconds an event:
/// hashes, UUIDs and dates are read straight from the bytes, never built as `String`s.
/// A value is only meaningful together with the buffer it came from.
enum JSONValue: Sendable {
    case null
    case bool(Bool)
    /// A number written without fraction or exponent that fits in 64 bits.
    case integer(Int64)
    case number(Double)
    case string(JSONSpan)
    case array([JSONValue])
    case object([JSONMember])

    /// The JSON type name, for messages such as "must be an integer, not a string".
    var typeDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer: "an integer"
        case .number: "a decimal number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// The bytes between a string's quotes.
struct JSONSpan: Sendable {
    var start: Int
    var end: Int
    /// Set when the string holds a backslash, so that readers take the slow, decoding path.
    var hasEscapes: Bool
    var byteCount: Int { end - start }
}

struct JSONMember: Sendable {
    var key: JSONSpan
    var value: JSONValue
}
