import Domain
import Foundation
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

    /// A 409, written in one buffer: every late attempt of a booking race is answered with
    /// this, so its message is put together in place rather than as a `String` first.
    static func conflict(_ conflicts: [VersionConflict], message: String? = nil) -> ServerResponse {
        let ordered = conflicts.count > 1 ? conflicts.sorted(by: { $0.stream < $1.stream }) : conflicts
        var b = JSONBuilder(capacity: 160 + conflicts.reduce(0) { $0 + 2 * $1.stream.utf8.count + 96 })
        b.field("error", "wrongExpectedVersion")
        b.textField("message") { out in
            if let message {
                JSONBuilder.appendEscaped(message, to: &out)
                return
            }
            for (k, c) in conflicts.enumerated() {
                if k > 0 { append("; ", to: &out) }
                describe(c, to: &out, escaped: true)
            }
        }
        b.objectField("streams") { s in
            for c in ordered {
                s.objectField(c.stream) { o in
                    if case .exact(let v) = c.expected { o.field("expected", v) } else { o.field("expected", c.expected.description) }
                    if let a = c.actual { o.field("actual", a) } else { o.nullField("actual") }
                }
            }
        }
        var response = ServerResponse.json(.conflict, b.finished())
        response.errorCode = "wrongExpectedVersion"
        return response
    }

    /// `VersionConflict.description`, word for word.
    static func describe(_ c: VersionConflict) -> String {
        var text: [UInt8] = []
        describe(c, to: &text, escaped: false)
        return String(decoding: text, as: UTF8.self)
    }

    /// `VersionConflict.description` appended to `out`, the stream's name JSON-escaped if
    /// `escaped` (the rest of the sentence needs no escape).
    private static func describe(_ c: VersionConflict, to out: inout [UInt8], escaped: Bool) {
        append("stream '", to: &out)
        if escaped { JSONBuilder.appendEscaped(c.stream, to: &out) } else { out.append(contentsOf: c.stream.utf8) }
        switch c.expected {
        case .noStream: append("' was expected not to exist but ", to: &out)
        case .streamExists: append("' was expected to exist but ", to: &out)
        case .any: append("' was expected at version any but ", to: &out)
        case .exact(let v):
            append("' was expected at version ", to: &out)
            JSONBuilder.appendDecimal(v, to: &out)
            append(" but ", to: &out)
        }
        if let actual = c.actual {
            append("is at version ", to: &out)
            JSONBuilder.appendDecimal(actual, to: &out)
        } else {
            append("does not exist", to: &out)
        }
    }

    private static func append(_ text: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    static func rejection(_ r: Rejection, eventIndex: Int?) -> ServerResponse {
        .error(.unprocessableEntity, "ruleViolated", r.message) { b in
            b.field("rule", r.rule.rawValue)
            if let i = eventIndex ?? r.eventIndex { b.field("eventIndex", i) } else { b.nullField("eventIndex") }
        }
    }

    /// `journalError(_:)`, except that a booking whose derived id the journal holds in another
    /// stream is called what it is: the appointment id is booked already, elsewhere.
    ///
    /// For a peer that may not read (`peerMayRead` false), the stream the id is committed in is
    /// not named: ids can be guessed or derived (a booking's from its appointment id), and the
    /// answer would tell the peer whose appointment it is.
    static func journalError(_ error: JournalError, in request: AppendRequest, peerMayRead: Bool = true) -> ServerResponse {
        guard case .idempotencyMismatch(let id, _, let requested) = error else { return journalError(error) }
        let detail = peerMayRead ? error.description : "event \(id.uuidString) is already committed in another stream, not in '\(requested)'"
        guard let index = reusedBooking(error, in: request) else {
            return .error(.conflict, "idempotencyConflict", detail)
        }
        return .error(.conflict, "appointmentIdReused",
                      "this appointment id is already booked for another slot or applicant (\(detail)); an appointment id is booked once: use a new one") { b in
            b.field("eventIndex", index)
        }
    }

    /// The index of the booking in `request` whose appointment id the journal found booked in
    /// another stream (`appointment.idReused`), or nil. Only a mismatch says that the id is
    /// committed in another stream; a partial duplicate may be the client's own booking sent
    /// again with other events.
    static func reusedBooking(_ error: JournalError, in request: AppendRequest) -> Int? {
        guard case .idempotencyMismatch(let id, _, _) = error else { return nil }
        return request.events.firstIndex { $0.type == AppointmentBooked.typeName && $0.id == id }
    }

    /// What a journal call threw, as `journalError(_:)` maps it (anything else is the writer's failure).
    static func journalError(thrown error: any Error) -> ServerResponse {
        journalError(error as? JournalError ?? .writerFailed(reason: "\(error)"))
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
        case .io, .writerFailed, .locked, .notAJournal, .invalidOptions, .repairRefused, .corrupt:
            return .error(.serviceUnavailable, "journalUnavailable", error.description)
        }
    }
}
