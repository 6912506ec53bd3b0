import Domain
import Journal

/// How append results and journal errors look on the wire.
enum AppendOutcome {
    static func success(_ r: AppendResult, extra: (inout JSONBuilder) -> Void = { _ in }) -> ServerResponse {
        var b = JSONBuilder()
        b.field("firstPosition", r.firstPosition)
        b.field("lastPosition", r.lastPosition)
        b.objectField("versions") { v in
            for (stream, version) in r.versions.sorted(by: { $0.key < $1.key }) { v.field(stream, version) }
        }
        if r.wasAlreadyCommitted { b.field("alreadyCommitted", true) }
        extra(&b)
        return .json(.ok, b.finished())
    }

    static func conflict(_ conflicts: [VersionConflict], message: String? = nil) -> ServerResponse {
        // Most conflicts (every late attempt of a booking race) name one stream.
        let text = message ?? (conflicts.count == 1 ? describe(conflicts[0]) : conflicts.map(describe).joined(separator: "; "))
        let ordered = conflicts.count > 1 ? conflicts.sorted(by: { $0.stream < $1.stream }) : conflicts
        return .error(.conflict, "wrongExpectedVersion", text) { b in
            b.objectField("streams") { s in
                for c in ordered {
                    s.objectField(c.stream) { o in
                        if case .exact(let v) = c.expected { o.field("expected", v) } else { o.field("expected", c.expected.description) }
                        if let a = c.actual { o.field("actual", a) } else { o.nullField("actual") }
                    }
                }
            }
        }
    }

    /// `VersionConflict.description`, word for word, put together by concatenation: a late
    /// booking attempt is answered with this sentence, and the interpolation of the versions
    /// through their `description`s cost more than the rest of the 409.
    static func describe(_ c: VersionConflict) -> String {
        var text = "stream '"
        text.reserveCapacity(c.stream.utf8.count + 64)
        text += c.stream
        switch c.expected {
        case .noStream: text += "' was expected not to exist but "
        case .streamExists: text += "' was expected to exist but "
        case .any: text += "' was expected at version any but "
        case .exact(let v):
            text += "' was expected at version "
            text += String(v)
            text += " but "
        }
        if let actual = c.actual {
            text += "is at version "
            text += String(actual)
        } else {
            text += "does not exist"
        }
        return text
    }

    static func rejection(_ r: Rejection, eventIndex: Int?) -> ServerResponse {
        .error(.unprocessableEntity, "ruleViolated", r.message) { b in
            b.field("rule", r.rule.rawValue)
            if let i = eventIndex ?? r.eventIndex { b.field("eventIndex", i) } else { b.nullField("eventIndex") }
        }
    }

    /// Maps every journal error to its status; the message is the journal's own description.
    static func journalError(_ error: JournalError) -> ServerResponse {
        func problem(_ index: Int?, _ field: String, _ rule: String) -> ServerResponse {
            RequestProblem.response([RequestProblem(eventIndex: index, field: field, rule: rule, message: error.description)])
        }
        switch error {
        case .wrongExpectedVersion(let conflicts): return conflict(conflicts)
        case .partialDuplicate, .idempotencyMismatch:
            return .error(.conflict, "idempotencyConflict", error.description)
        case .duplicateEventInAppend: return problem(nil, "id", "duplicateId")
        case .emptyAppend: return problem(nil, "events", "required")
        case .expectationForUnwrittenStream: return problem(nil, "expectedVersions", "unusedExpectation")
        case .invalidStreamID(let i, _, _): return problem(i, "stream", "journal.streamId")
        case .invalidEventType(let i, _, _): return problem(i, "type", "journal.eventType")
        case .invalidJSON(let i, let field, _): return problem(i, field, "json.syntax")
        case .eventTooLarge(let i, _, _): return problem(i, "$", "size")
        case .appendTooLarge: return problem(nil, "$", "size")
        case .tooManyEvents: return problem(nil, "events", "size")
        case .noSpace: return .error(.insufficientStorage, "noSpace", error.description)
        case .closed: return .error(.serviceUnavailable, "shuttingDown", error.description)
        case .io, .writerFailed, .locked, .notAJournal, .corrupt:
            return .error(.serviceUnavailable, "journalUnavailable", error.description)
        }
    }
}
