import Domain
import Foundation

/// Reads a request's query parameters, refusing unknown ones and listing every problem.
struct QueryParameters {
    private let values: [String: String]
    private(set) var problems: [RequestProblem] = []

    init(_ values: [String: String], allowed: Set<String>) {
        self.values = values
        for name in values.keys.sorted() where !allowed.contains(name) {
            problems.append(RequestProblem(eventIndex: nil, field: name, rule: "unknownParameter",
                                           message: "unknown query parameter '\(name.prefix(40))'; this endpoint takes \(allowed.isEmpty ? "none" : allowed.sorted().joined(separator: ", "))"))
        }
    }

    var isValid: Bool { problems.isEmpty }
    var response: ServerResponse { RequestProblem.response(problems) }

    private mutating func report(_ name: String, _ rule: String, _ message: String) {
        problems.append(RequestProblem(eventIndex: nil, field: name, rule: rule, message: message))
    }

    mutating func whole(_ name: String, default value: UInt64? = nil, in range: ClosedRange<UInt64> = 0...UInt64.max) -> UInt64? {
        guard let text = values[name] else { return value }
        guard let n = UInt64(text), range.contains(n) else {
            report(name, "range", "'\(name)' must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text.prefix(30))'")
            return value
        }
        return n
    }

    mutating func choice(_ name: String, of options: [String]) -> String? {
        guard let text = values[name] else { return nil }
        guard options.contains(text) else {
            report(name, "closedSet", "'\(name)' must be one of \(options.joined(separator: ", ")), not '\(text.prefix(30))'")
            return nil
        }
        return text
    }

    mutating func member<T: ClosedSet>(_ name: String, of: T.Type) -> T? {
        guard let text = values[name] else { return nil }
        guard let value = T(rawValue: text) else {
            report(name, "closedSet", "'\(name)' must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), not '\(text.prefix(30))'")
            return nil
        }
        return value
    }

    mutating func date(_ name: String) -> Date? {
        guard let text = values[name] else { return nil }
        guard let date = UTCTime.parse(text) else {
            report(name, "format.date", "'\(name)' must be a UTC time such as 2024-09-03T09:00:00Z, not '\(text.prefix(40))'")
            return nil
        }
        return date
    }
}
