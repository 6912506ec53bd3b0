import Domain
import Foundation
import Journal

/// Reads a command's JSON body field by field, collecting every problem so that one 400 answer
/// lists them all. Unknown fields are refused, so a misspelt optional field never goes unnoticed.
struct CommandFields {
    private let raw: [UInt8]
    private var fields: [String: Range<Int>] = [:]
    private(set) var problems: [RequestProblem] = []

    init(_ body: [UInt8], allowed: Set<String>) {
        raw = body
        let parsed: Result<[JSONSlices.Member], JSONValidation.Failure> = body.withUnsafeBytes { bytes in
            do throws(JSONValidation.Failure) { return .success(try JSONSlices.members(ofObject: bytes)) } catch { return .failure(error) }
        }
        switch parsed {
        case .failure(let failure):
            problems.append(RequestProblem(eventIndex: nil, field: "$", rule: "json.syntax", message: failure.description))
        case .success(let members):
            for m in members {
                if allowed.contains(m.key) {
                    fields[m.key] = m.value
                } else {
                    problems.append(RequestProblem(eventIndex: nil, field: m.key, rule: "unknownField",
                                                   message: "unknown field '\(m.key.prefix(60))'; this command takes \(allowed.sorted().joined(separator: ", "))"))
                }
            }
        }
    }

    var isValid: Bool { problems.isEmpty }

    /// Whether the body has the field at all.
    func has(_ key: String) -> Bool { fields[key] != nil }

    /// The client's name for this command (`commandId`) with the digest of what the command
    /// says, or nil without one. `occurredAt` is left out of the digest: a client that stamps
    /// each send with the time it sends is still retrying the same command.
    mutating func commandKey() -> CommandKey? {
        guard let id = uuid("commandId", required: false) else { return nil }
        let said = fields.filter { $0.key != "commandId" && $0.key != "occurredAt" }
            .map { (name: $0.key, value: canonicalValue($0.value)) }
        return CommandKey(id: id, fieldsDigest: CommandEventID.fieldsDigest(said))
    }

    /// A value as the digest sees it: a string as its decoded text (escapes and all spellings of
    /// one text agree), an array of strings as its texts each after its length, anything else as
    /// sent.
    private func canonicalValue(_ r: Range<Int>) -> [UInt8] {
        raw.withUnsafeBytes { bytes in
            if let s = JSONSlices.string(bytes, r) { return [UInt8(ascii: "s")] + Array(s.utf8) }
            if bytes[r.lowerBound] == UInt8(ascii: "[") {
                var texts: [UInt8] = [UInt8(ascii: "a")]
                for e in JSONSlices.elements(ofArray: bytes, in: r) {
                    guard let s = JSONSlices.string(bytes, e) else { return [UInt8(ascii: "r")] + Array(bytes[r]) }
                    withUnsafeBytes(of: UInt32(s.utf8.count).bigEndian) { texts.append(contentsOf: $0) }
                    texts.append(contentsOf: s.utf8)
                }
                return texts
            }
            return [UInt8(ascii: "r")] + Array(bytes[r])
        }
    }

    private mutating func report(_ field: String, _ rule: String, _ message: String) {
        problems.append(RequestProblem(eventIndex: nil, field: field, rule: rule, message: message))
    }

    mutating func string(_ key: String, required: Bool = true) -> String? {
        guard let r = fields[key] else {
            if required { report(key, "required", "missing field \"\(key)\"") }
            return nil
        }
        guard let s = raw.withUnsafeBytes({ JSONSlices.string($0, r) }) else {
            report(key, "type", "\"\(key)\" must be a string")
            return nil
        }
        return s
    }

    mutating func uuid(_ key: String, required: Bool = true) -> UUID? {
        guard let text = string(key, required: required) else { return nil }
        guard text.count == 36, text == text.lowercased(), let id = UUID(uuidString: text) else {
            report(key, "format.uuid", "\"\(key)\" must be a lowercase UUID, not \"\(text.prefix(40))\"")
            return nil
        }
        return id
    }

    mutating func identityKey(_ key: String) -> IdentityKey? {
        guard let text = string(key) else { return nil }
        guard let k = IdentityKey(hex: text) else {
            report(key, "format.hash", "\"\(key)\" must be 64 lowercase hex characters (a salted hash)")
            return nil
        }
        return k
    }

    mutating func fingerprint(_ key: String) -> Fingerprint? {
        guard let text = string(key) else { return nil }
        guard let f = Fingerprint(hex: text) else {
            report(key, "format.hash", "\"\(key)\" must be 64 lowercase hex characters (a client fingerprint)")
            return nil
        }
        return f
    }

    mutating func member<T: ClosedSet>(_ key: String, of: T.Type, required: Bool = true) -> T? {
        guard let text = string(key, required: required) else { return nil }
        guard let value = T(rawValue: text) else {
            report(key, "closedSet", "\"\(key)\" must be one of \(T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), not \"\(text.prefix(40))\"")
            return nil
        }
        return value
    }

    mutating func date(_ key: String, required: Bool = true) -> Date? {
        guard let text = string(key, required: required) else { return nil }
        guard let date = UTCTime.parse(text) else {
            report(key, "format.date", "\"\(key)\" must be a UTC time such as 2024-09-03T09:00:00Z, not \"\(text.prefix(40))\"")
            return nil
        }
        return date
    }

    mutating func strings(_ key: String) -> [String]? {
        guard let r = fields[key] else {
            report(key, "required", "missing field \"\(key)\"")
            return nil
        }
        let values: [String]? = raw.withUnsafeBytes { bytes in
            guard bytes[r.lowerBound] == UInt8(ascii: "[") else { return nil }
            var out: [String] = []
            for e in JSONSlices.elements(ofArray: bytes, in: r) {
                guard let s = JSONSlices.string(bytes, e) else { return nil }
                out.append(s)
            }
            return out
        }
        guard let values else {
            report(key, "type", "\"\(key)\" must be an array of strings")
            return nil
        }
        return values
    }
}

/// A command as its client names it for retries: the `commandId`, and the digest of the fields
/// sent with it (`CommandEventID.fieldsDigest`).
struct CommandKey: Sendable, Equatable {
    let id: UUID
    let fieldsDigest: String
}
