/// Validates every event of an append and returns all problems at once, in event order.
///
/// Checks the envelope (stream name, event type, that the event belongs in that stream) as well
/// as the data; business rules, which need the aggregates' state, are checked elsewhere.
public func validateAppend(_ events: [(stream: String, type: String, data: [UInt8])]) -> [ValidationProblem] {
    var problems: [ValidationProblem] = []
    var placed: [(index: Int, stream: StreamName, event: DomainEvent)] = []
    for (index, envelope) in events.enumerated() {
        let stream = StreamName(parsing: envelope.stream)
        if stream == nil {
            problems.append(malformedStreamProblem(envelope.stream, eventIndex: index))
        }
        let event = envelope.data.withUnsafeBufferPointer {
            DomainEvent.decode(type: envelope.type, bytes: $0, eventIndex: index, problems: &problems)
        }
        if let stream, let event {
            if let problem = event.placementProblem(in: stream, eventIndex: index) {
                problems.append(problem)
            } else {
                placed.append((index, stream, event))
            }
        }
    }
    problems.append(contentsOf: missingHomeProblems(placed))
    problems.append(contentsOf: missingMismatchProblems(placed))
    // In event order, each event's problems in the order they were found.
    return problems.enumerated().sorted { ($0.element.eventIndex, $0.offset) < ($1.element.eventIndex, $1.offset) }.map(\.element)
}

/// An event that lives in several streams (a booking: the slot's and the applicant's) must be
/// appended to every one of them at once: each stream guards a different rule (capacity, one
/// active appointment per motif, the cancellation cut-off), so a copy in one stream alone would
/// slip past the others, and a replay that folds each stream alone would not see it.
///
/// `placed` is an append's events that decoded and sit in one of their homes, each with its index
/// in the append; a copy counts only in the same append and only when it is the same event. The
/// audit calls this too, with the copies of one journal append gathered from its rule shards, so
/// that it reports what the server refuses in the same words.
public func missingHomeProblems(_ placed: [(index: Int, stream: StreamName, event: DomainEvent)]) -> [ValidationProblem] {
    // A booking's two copies, a reschedule's three: compared pairwise. A large append (up to
    // 10,000 events) is looked up in a set, so that it costs a lookup per home, not a scan.
    let present: Set<PlacedCopy>? = placed.count > 16 ? Set(placed.map { PlacedCopy(stream: $0.stream, event: $0.event) }) : nil
    func isPresent(_ home: StreamName, _ event: DomainEvent) -> Bool {
        if let present { return present.contains(PlacedCopy(stream: home, event: event)) }
        return placed.contains { $0.stream == home && $0.event == event }
    }
    var problems: [ValidationProblem] = []
    for (index, _, event) in placed {
        let homes = event.homes
        guard homes.count > 1, homes.contains(where: { !isPresent($0, event) }) else { continue }
        let missing = homes.filter { !isPresent($0, event) }
        problems.append(ValidationProblem(
            eventIndex: index, field: "stream", rule: .missingHome,
            message: "a \(event.typeName) is appended to all of \(homes.map(\.description).joined(separator: ", ")) in one append; this one is missing from \(missing.map(\.description).joined(separator: " and "))"
        ))
    }
    return problems
}

/// An attendance whose identity check failed is the evidence of a resold slot only with its
/// `IdentityMismatchAtCounter`, which names the identity presented: the check-in command writes
/// both in one append, and an append carrying the attendance alone is refused, so that a peer
/// allowed to record attendances cannot leave that evidence out.
func missingMismatchProblems(_ placed: [(index: Int, stream: StreamName, event: DomainEvent)]) -> [ValidationProblem] {
    var problems: [ValidationProblem] = []
    for (index, stream, event) in placed {
        guard case .appointmentAttended(let attendance) = event, !attendance.identityMatched else { continue }
        let paired = placed.contains { other in
            guard other.stream == stream, case .identityMismatchAtCounter(let mismatch) = other.event else { return false }
            return mismatch.appointmentId == attendance.appointmentId
        }
        if paired { continue }
        problems.append(ValidationProblem(
            eventIndex: index, field: "identityMatched", rule: .mismatchMissing,
            message: "an AppointmentAttended whose identity check failed is appended with its IdentityMismatchAtCounter (the identity presented) for appointment \(attendance.appointmentId.canonicalString), in the same stream and append"
        ))
    }
    return problems
}

private struct PlacedCopy: Hashable {
    var stream: StreamName
    var event: DomainEvent
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
        placementProblem(in: stream, homes: homes, eventIndex: eventIndex)
    }

    /// The same, with the event's `homes` already at hand.
    func placementProblem(in stream: StreamName, homes: StreamHomes, eventIndex: Int) -> ValidationProblem? {
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
