import Foundation

/// Reads the fields of one event's JSON object, recording every problem instead of stopping
/// at the first, and remembering which fields were read so that the rest can be reported as unknown.
struct FieldReader {
    let bytes: UnsafeBufferPointer<UInt8>
    let members: [JSONMember]
    let eventIndex: Int
    let typeName: String
    /// Which members were read; objects of more than 64 members are refused before reading.
    private var readMask: UInt64 = 0
    /// Writers emit fields in catalogue order, so the next field asked for is usually the next member.
    private var cursor = 0
    private(set) var problems: [ValidationProblem] = []

    init(bytes: UnsafeBufferPointer<UInt8>, members: [JSONMember], eventIndex: Int, typeName: String) {
        self.bytes = bytes
        self.members = members
        self.eventIndex = eventIndex
        self.typeName = typeName
    }

    mutating func report(_ field: String, _ rule: ValidationRule, _ message: String) {
        problems.append(ValidationProblem(eventIndex: eventIndex, field: field, rule: rule, message: message))
    }

    /// Reports every field that no reader asked for: unknown fields are refused, never ignored,
    /// because an ignored `phone` or `name` would still sit in the journal for years.
    mutating func reportUnknownFields() {
        for (index, member) in members.enumerated() where index >= 64 || readMask & (1 << UInt64(index)) == 0 {
            let name = JSONText.string(member.key, in: bytes)
            report(name, .unknownField, "`\(name)` is not a field of \(typeName); unknown fields are refused so that nothing, personal data in particular, enters the journal unnoticed")
        }
    }

    /// The raw value of a field, `nil` when absent or `null`; reports a missing required field.
    mutating func value(_ name: StaticString, required: Bool = true) -> JSONValue? {
        if let index = indexOfMember(named: name) {
            readMask |= 1 << UInt64(index)
            if case .null = members[index].value {} else { return members[index].value }
        }
        if required { report(name.description, .required, "`\(name)` is missing; \(typeName) requires it") }
        return nil
    }

    private mutating func indexOfMember(named name: StaticString) -> Int? {
        let count = min(members.count, 64)
        if cursor < count, JSONText.span(members[cursor].key, in: bytes, equals: name) {
            cursor += 1
            return cursor - 1
        }
        for index in 0..<count where JSONText.span(members[index].key, in: bytes, equals: name) {
            cursor = index + 1
            return index
        }
        return nil
    }

    private mutating func wrongType(_ name: StaticString, expected: String, got value: JSONValue) {
        report(name.description, .type, "`\(name)` must be \(expected), not \(value.typeDescription)")
    }

    private mutating func span(_ name: StaticString, expected: String, required: Bool = true) -> JSONSpan? {
        guard let value = value(name, required: required) else { return nil }
        guard case .string(let span) = value else { wrongType(name, expected: expected, got: value); return nil }
        return span
    }

    private func raw(_ span: JSONSpan) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: bytes[span.start..<span.end])
    }

    mutating func string(_ name: StaticString, maxLength: Int, required: Bool = true) -> String? {
        guard let span = span(name, expected: "a string", required: required) else { return nil }
        let text = JSONText.string(span, in: bytes)
        return checkedText(text, field: name.description, maxLength: maxLength)
    }

    private mutating func checkedText(_ text: String, field: String, maxLength: Int) -> String? {
        let length = text.count
        if length == 0 { report(field, .length, "`\(field)` must not be empty"); return nil }
        if length > maxLength {
            report(field, .length, "`\(field)` is \(length) characters long; at most \(maxLength) are allowed")
            return nil
        }
        return text
    }

    mutating func uuid(_ name: StaticString, required: Bool = true) -> UUID? {
        guard let span = span(name, expected: "a UUID string", required: required) else { return nil }
        guard !span.hasEscapes, let uuid = CanonicalUUID.parse(raw(span)) else {
            report(name.description, .uuidFormat, "`\(name)` must be a UUID written as 36 lowercase characters, 8-4-4-4-12 (e.g. 3f2b8c1e-0d4a-4e7b-9c55-1a2b3c4d5e6f)")
            return nil
        }
        return uuid
    }

    mutating func date(_ name: StaticString) -> Date? {
        guard let span = span(name, expected: "an ISO-8601 date string") else { return nil }
        guard !span.hasEscapes, let date = UTCTime.parse(raw(span)) else {
            report(name.description, .dateFormat, "`\(name)` must be an ISO-8601 UTC time ending in Z, such as 2024-09-03T09:00:00Z (fractional seconds allowed)")
            return nil
        }
        return date
    }

    private mutating func hash(_ name: StaticString, required: Bool, what: String) -> Hash256? {
        guard let span = span(name, expected: "a string of 64 hex characters", required: required) else { return nil }
        guard !span.hasEscapes, let hash = Hash256(bytes: raw(span)) else {
            report(name.description, .hashFormat, "`\(name)` must be \(what) written as exactly 64 lowercase hex characters")
            return nil
        }
        return hash
    }

    mutating func identityKey(_ name: StaticString, required: Bool = true) -> IdentityKey? {
        hash(name, required: required, what: "the applicant's salted identity hash").map(IdentityKey.init)
    }

    mutating func fingerprint(_ name: StaticString) -> Fingerprint? {
        hash(name, required: true, what: "a client fingerprint hash").map(Fingerprint.init)
    }

    mutating func member<Value: ClosedSet>(_ name: StaticString, of _: Value.Type) -> Value? {
        guard let span = span(name, expected: "a string") else { return nil }
        // Equal bytes are equal strings: a byte match needs no `String`. Anything else (escapes,
        // no match) takes the `String` path, which decides exactly as before.
        if !span.hasEscapes {
            let raw = raw(span)
            for value in Value.allCases where Self.bytes(raw, spell: value.rawValue) { return value }
        }
        let text = JSONText.string(span, in: bytes)
        guard let value = Value(rawValue: text) else {
            let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
            report(name.description, .closedSet, "`\(name)` must be one of \(Value.acceptedValues); \"\(shown)\" is not")
            return nil
        }
        return value
    }

    private static func bytes(_ raw: UnsafeBufferPointer<UInt8>, spell text: String) -> Bool {
        var text = text
        return text.withUTF8 { utf8 in
            utf8.count == raw.count && (raw.isEmpty || memcmp(utf8.baseAddress!, raw.baseAddress!, raw.count) == 0)
        }
    }

    mutating func integer(_ name: StaticString, in range: ClosedRange<Int>) -> Int? {
        guard let value = value(name) else { return nil }
        guard case .integer(let number) = value else { wrongType(name, expected: "an integer", got: value); return nil }
        guard number >= Int64(range.lowerBound), number <= Int64(range.upperBound) else {
            let bound = range.lowerBound == 1 ? "greater than zero, and at most \(range.upperBound)" : "between \(range.lowerBound) and \(range.upperBound)"
            report(name.description, .range, "`\(name)` must be \(bound); \(number) is not")
            return nil
        }
        return Int(number)
    }

    mutating func number(_ name: StaticString, in range: ClosedRange<Double>) -> Double? {
        guard let value = value(name) else { return nil }
        let number: Double
        switch value {
        case .integer(let whole): number = Double(whole)
        case .number(let decimal): number = decimal
        default: wrongType(name, expected: "a number", got: value); return nil
        }
        guard range.contains(number) else {
            report(name.description, .range, "`\(name)` must be between \(range.lowerBound) and \(range.upperBound); \(number) is not")
            return nil
        }
        return number
    }

    mutating func boolean(_ name: StaticString) -> Bool? {
        guard let value = value(name) else { return nil }
        guard case .bool(let flag) = value else { wrongType(name, expected: "true or false", got: value); return nil }
        return flag
    }

    /// An array of short codes; problems name the element, as in `documents[2]`.
    mutating func strings(_ name: StaticString, count: ClosedRange<Int>, maxLength: Int) -> [String]? {
        guard let elements = array(name, count: count) else { return nil }
        var result: [String] = []
        var valid = true
        for (index, element) in elements.enumerated() {
            let path = "\(name)[\(index)]"
            guard case .string(let span) = element else {
                report(path, .type, "`\(path)` must be a string, not \(element.typeDescription)")
                valid = false
                continue
            }
            if let text = checkedText(JSONText.string(span, in: bytes), field: path, maxLength: maxLength) {
                result.append(text)
            } else {
                valid = false
            }
        }
        return valid ? result : nil
    }

    mutating func uuids(_ name: StaticString, count: ClosedRange<Int>) -> [UUID]? {
        guard let elements = array(name, count: count) else { return nil }
        var result: [UUID] = []
        var valid = true
        for (index, element) in elements.enumerated() {
            let path = "\(name)[\(index)]"
            guard case .string(let span) = element, !span.hasEscapes, let uuid = CanonicalUUID.parse(raw(span)) else {
                report(path, .uuidFormat, "`\(path)` must be a UUID written as 36 lowercase characters, 8-4-4-4-12")
                valid = false
                continue
            }
            result.append(uuid)
        }
        return valid ? result : nil
    }

    private mutating func array(_ name: StaticString, count: ClosedRange<Int>) -> [JSONValue]? {
        guard let value = value(name) else { return nil }
        guard case .array(let elements) = value else { wrongType(name, expected: "an array", got: value); return nil }
        guard count.contains(elements.count) else {
            report(name.description, .length, "`\(name)` must hold between \(count.lowerBound) and \(count.upperBound) elements; it holds \(elements.count)")
            return nil
        }
        return elements
    }

    /// Reports `end` when it is not after `start`; both must already have been read.
    mutating func requireOrder(_ start: Date?, _ startName: String, before end: Date?, _ endName: String) {
        guard let start, let end, end <= start else { return }
        report(endName, .endBeforeStart, "`\(endName)` (\(UTCTime.string(end))) must be after `\(startName)` (\(UTCTime.string(start)))")
    }
}
