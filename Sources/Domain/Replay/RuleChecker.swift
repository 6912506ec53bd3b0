import Foundation

/// A breach found while replaying a journal.
public struct RuleViolation: Sendable, Equatable, CustomStringConvertible {
    /// The event's position in the journal, as given to `check`.
    public var position: UInt64
    public var stream: String
    public var type: String
    public var rule: RuleName
    public var message: String
    /// For `event.invalid` and `event.wrongStream`: what exactly is wrong with the data.
    public var problems: [ValidationProblem]

    public init(position: UInt64, stream: String, type: String, rule: RuleName, message: String, problems: [ValidationProblem] = []) {
        self.position = position
        self.stream = stream
        self.type = type
        self.rule = rule
        self.message = message
        self.problems = problems
    }

    public var description: String { "#\(position) \(stream) \(type): \(rule.rawValue): \(message)" }
}

/// Replays a journal event by event, in order, and reports every rule an event broke.
///
/// Used by `registre import` (to refuse a history the server itself would have refused) and by
/// the audit. Each event is decoded, validated, checked against the state of the aggregate of its
/// stream, then applied even if it broke a rule, so that later findings reflect what the journal
/// really says. Memory grows with the number of aggregates, not of events.
public struct RuleChecker: Sendable {
    private struct SlotKey: Hashable {
        var site: Site
        var slotId: UUID
    }

    public let rules: RuleParameters
    private var slots: [SlotKey: SlotState] = [:]
    private var applicants: [IdentityKey: ApplicantState] = [:]
    private var dossiers: [UUID: DossierState] = [:]
    private var evidenceCounts: [Fingerprint: Int] = [:]
    public private(set) var eventsChecked = 0

    public init(rules: RuleParameters = .standard) {
        self.rules = rules
    }

    public func slot(site: Site, slotId: UUID) -> SlotState? { slots[SlotKey(site: site, slotId: slotId)] }
    public func applicant(_ identity: IdentityKey) -> ApplicantState? { applicants[identity] }
    public func dossier(_ dossierId: UUID) -> DossierState? { dossiers[dossierId] }
    public var aggregateCount: Int { slots.count + applicants.count + dossiers.count + evidenceCounts.count }

    public mutating func check(stream: String, type: String, data: some Collection<UInt8>, position: UInt64) -> [RuleViolation] {
        if let violations = data.withContiguousStorageIfAvailable({ check(stream: stream, type: type, bytes: $0, position: position) }) {
            return violations
        }
        let copy = Array(data)
        return copy.withUnsafeBufferPointer { check(stream: stream, type: type, bytes: $0, position: position) }
    }

    private mutating func check(stream streamText: String, type: String, bytes: UnsafeBufferPointer<UInt8>, position: UInt64) -> [RuleViolation] {
        eventsChecked += 1
        var streamText = streamText
        let stream = streamText.withUTF8 { StreamName(bytes: $0) }
        var problems: [ValidationProblem] = []
        let decoded = DomainEvent.decode(type: type, bytes: bytes, eventIndex: 0, problems: &problems)
        guard let stream else {
            problems.insert(malformedStreamProblem(streamText, eventIndex: 0), at: 0)
            return [invalid(position, streamText, type, problems)]
        }
        guard let event = decoded else {
            return [invalid(position, streamText, type, problems)]
        }
        if let problem = event.placementProblem(in: stream, eventIndex: 0) {
            return [RuleViolation(position: position, stream: streamText, type: type, rule: .wrongStream, message: problem.message, problems: [problem])]
        }
        let rejection: Rejection?
        switch stream {
        case .slot(let site, let slotId):
            let key = SlotKey(site: site, slotId: slotId)
            rejection = Self.checkAndApply(event, to: &slots[key, default: SlotState(site: site, slotId: slotId)]) { state, event throws(Rejection) in
                try state.check(event)
            }
        case .applicant(let identity):
            let rules = rules
            rejection = Self.checkAndApply(event, to: &applicants[identity, default: ApplicantState(identityKey: identity)]) { state, event throws(Rejection) in
                try state.check(event, rules: rules)
            }
        case .dossier(let dossierId):
            let rules = rules
            rejection = Self.checkAndApply(event, to: &dossiers[dossierId, default: DossierState(dossierId: dossierId)]) { state, event throws(Rejection) in
                try state.check(event, rules: rules)
            }
        case .fingerprint(let fingerprint):
            // Evidence obeys no invariant beyond its own validity.
            evidenceCounts[fingerprint, default: 0] += 1
            rejection = nil
        }
        guard let rejection else { return [] }
        return [RuleViolation(position: position, stream: streamText, type: type, rule: rejection.rule, message: rejection.message)]
    }

    private static func checkAndApply<State: FoldedAggregate>(
        _ event: DomainEvent,
        to state: inout State,
        using check: (State, DomainEvent) throws(Rejection) -> Void
    ) -> Rejection? {
        var rejection: Rejection?
        do { try check(state, event) } catch { rejection = error }
        state.apply(event)
        return rejection
    }

    private func invalid(_ position: UInt64, _ stream: String, _ type: String, _ problems: [ValidationProblem]) -> RuleViolation {
        RuleViolation(position: position, stream: stream, type: type, rule: .invalidEvent,
                      message: problems.map { "\($0.field): \($0.message)" }.joined(separator: "; "), problems: problems)
    }
}

/// An aggregate folded from its stream's events.
protocol FoldedAggregate {
    mutating func apply(_ event: DomainEvent)
}

extension SlotState: FoldedAggregate {}
extension ApplicantState: FoldedAggregate {}
extension DossierState: FoldedAggregate {}
