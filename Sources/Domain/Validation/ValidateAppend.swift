/// Validates every event of an append and returns all problems at once, in event order.
///
/// Checks the envelope (stream name, event type, that the event belongs in that stream) as well
/// as the data; business rules, which need the aggregates' state, are checked elsewhere.
public func validateAppend(_ events: [(stream: String, type: String, data: [UInt8])]) -> [ValidationProblem] {
    var problems: [ValidationProblem] = []
    for (index, envelope) in events.enumerated() {
        let stream = StreamName(parsing: envelope.stream)
        if stream == nil {
            problems.append(malformedStreamProblem(envelope.stream, eventIndex: index))
        }
        let event = envelope.data.withUnsafeBufferPointer {
            DomainEvent.decode(type: envelope.type, bytes: $0, eventIndex: index, problems: &problems)
        }
        if let stream, let event, let problem = event.placementProblem(in: stream, eventIndex: index) {
            problems.append(problem)
        }
    }
    return problems
}

func malformedStreamProblem(_ name: String, eventIndex: Int) -> ValidationProblem {
    let shown = name.count > 100 ? String(name.prefix(100)) + "…" : name
    return ValidationProblem(
        eventIndex: eventIndex, field: "stream", rule: .malformedStreamName,
        message: "\"\(shown)\" is not a stream name; expected slot-{site}-{slotId}, applicant-{identityKey}, dossier-{dossierId} or fingerprint-{fingerprint}, with lowercase UUIDs and 64-character hex hashes"
    )
}

extension DomainEvent {
    /// Why this event does not belong in `stream`, or `nil` when it does.
    ///
    /// A dossier event in a slot stream is a wrong kind; a dossier event in another dossier's
    /// stream is an id mismatch. Both would corrupt an aggregate that is folded from its stream alone.
    func placementProblem(in stream: StreamName, eventIndex: Int) -> ValidationProblem? {
        let homes = self.homes
        if homes.contains(stream) { return nil }
        let spelled = homes.map(\.description).joined(separator: " or ")
        if homes.contains(where: { $0.kind == stream.kind }) {
            return ValidationProblem(
                eventIndex: eventIndex, field: "stream", rule: .streamIdMismatch,
                message: "a \(typeName) with these ids belongs in \(spelled), not in \(stream)"
            )
        }
        let kinds = Set(homes.map(\.kind.rawValue)).sorted().joined(separator: " or ")
        return ValidationProblem(
            eventIndex: eventIndex, field: "stream", rule: .wrongStreamKind,
            message: "\(typeName) belongs in a \(kinds) stream, not in the \(stream.kind.rawValue) stream \(stream)"
        )
    }
}
