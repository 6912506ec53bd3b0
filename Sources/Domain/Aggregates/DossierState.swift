import Foundation

/// Where a dossier stands in its lifecycle.
public enum DossierStatus: String, Sendable, CaseIterable, Codable {
    case submitted
    case incomplete
    case complete
    case underReview
    case granted
    case refused
    case inProduction
    case available
    case handedOver
    case withdrawn
    case closedForNoFollowUp

    /// Open states can still move; the others end the dossier.
    public var isOpen: Bool {
        switch self {
        case .refused, .handedOver, .withdrawn, .closedForNoFollowUp: false
        default: true
        }
    }

    /// Before the decision: where the legal clock still runs.
    var isAwaitingDecision: Bool {
        switch self {
        case .submitted, .incomplete, .complete, .underReview: true
        default: false
        }
    }
}

/// One dossier as folded from its stream.
public struct DossierState: Sendable, Equatable {
    public let dossierId: UUID
    public private(set) var version: UInt64?
    /// `nil` until the dossier is submitted.
    public private(set) var status: DossierStatus?
    public private(set) var submission: DossierSubmitted?
    /// The first completion, which starts the legal clock; never moved afterwards.
    public private(set) var completedAt: Date?
    /// Until when the requested documents may arrive.
    public private(set) var documentsDueBy: Date?
    /// Set by the 4-month timer (CESEDA R.432-2); the dossier goes on.
    public private(set) var isImplicitlyRejected = false
    /// Consultations sent and not yet answered.
    public private(set) var pendingConsultations: Set<UUID> = []
    public private(set) var answeredConsultations: Set<UUID> = []
    public private(set) var provisionalPermitCount = 0
    public private(set) var decidedAt: Date?
    public private(set) var availableAt: Date?

    public init(dossierId: UUID) {
        self.dossierId = dossierId
    }

    public var stream: StreamName { .dossier(dossierId) }
    public var expectedVersion: ExpectedStreamVersion { version.expectation }

    /// When silence becomes an implicit rejection, once the dossier is complete.
    public func implicitRejectionDue(rules: RuleParameters = .standard) -> Date? {
        completedAt.map { UTCTime.adding(months: rules.implicitRejectionMonths, to: $0) }
    }

    /// An event of this stream whose data does not decode (`registre import` does not judge the
    /// domain) changes no state but still takes a version, so the expectation stays the journal's.
    public mutating func skipUndecodable() { version = version.advanced }

    public mutating func apply(_ event: DomainEvent) {
        version = version.advanced
        switch event {
        case .dossierSubmitted(let submitted):
            submission = submitted
            status = .submitted
        case .documentsRequested(let request):
            status = .incomplete
            documentsDueBy = request.dueBy
        case .dossierDeclaredComplete(let completion):
            status = .complete
            if completedAt == nil { completedAt = completion.occurredAt }
        case .provisionalPermitIssued:
            status = .underReview
            provisionalPermitCount += 1
        case .biometricsCaptured:
            status = .underReview
        case .consultationRequested(let request):
            status = .underReview
            pendingConsultations.insert(request.consultationId)
        case .consultationAnswered(let answer):
            pendingConsultations.remove(answer.consultationId)
            answeredConsultations.insert(answer.consultationId)
        case .decisionRecorded(let decision):
            status = decision.outcome == .granted ? .granted : .refused
            decidedAt = decision.occurredAt
        case .permitProductionOrdered:
            status = .inProduction
        case .permitAvailable(let availability):
            status = .available
            availableAt = availability.occurredAt
        case .permitHandedOver:
            status = .handedOver
        case .dossierWithdrawn:
            status = .withdrawn
        case .dossierClosedForNoFollowUp:
            status = .closedForNoFollowUp
        case .implicitRejectionDeadlineReached:
            isImplicitlyRejected = true
        default:
            break
        }
    }

    /// Throws the rule that `event`, appended to this dossier's stream, would break.
    public func check(_ event: DomainEvent, rules: RuleParameters = .standard) throws(Rejection) {
        if case .dossierSubmitted = event {
            if let status { throw Rejection(.dossierAlreadySubmitted, "dossier \(dossierId.canonicalString) was already submitted; it is \(status.rawValue)") }
            return
        }
        guard let status else {
            throw Rejection(.dossierNotSubmitted, "dossier \(dossierId.canonicalString) has not been submitted")
        }
        guard status.isOpen else {
            throw Rejection(.dossierClosed, "dossier \(dossierId.canonicalString) is \(status.rawValue); nothing more can happen to it")
        }
        switch event {
        case .documentsRequested:
            try require(status, in: [.submitted, .incomplete, .complete], for: event)
        case .documentsReceived:
            try require(status, in: [.submitted, .incomplete], for: event)
        case .dossierDeclaredComplete:
            try require(status, in: [.submitted, .incomplete], for: event)
        case .provisionalPermitIssued, .biometricsCaptured:
            try require(status, in: [.complete, .underReview], for: event)
        case .consultationRequested(let request):
            try require(status, in: [.complete, .underReview], for: event)
            if pendingConsultations.contains(request.consultationId) || answeredConsultations.contains(request.consultationId) {
                throw Rejection(.consultationAlreadyRequested, "consultation \(request.consultationId.canonicalString) was already requested")
            }
        case .consultationAnswered(let answer):
            try require(status, in: [.underReview], for: event)
            guard pendingConsultations.contains(answer.consultationId) else {
                throw Rejection(.consultationNotPending, "consultation \(answer.consultationId.canonicalString) is not awaiting an answer")
            }
        case .decisionRecorded:
            try require(status, in: [.underReview], for: event)
        case .permitProductionOrdered:
            try require(status, in: [.granted], for: event)
        case .permitAvailable:
            if status.isAwaitingDecision {
                throw Rejection(.permitAvailableBeforeGrant, "a permit can be available only after a grant; dossier \(dossierId.canonicalString) is \(status.rawValue)")
            }
            try require(status, in: [.inProduction], for: event)
        case .permitHandedOver:
            guard status == .available else {
                throw Rejection(.handoverBeforeAvailable, "a permit can be handed over only once available; dossier \(dossierId.canonicalString) is \(status.rawValue)")
            }
        case .dossierWithdrawn:
            break
        case .dossierClosedForNoFollowUp(let closure):
            try require(status, in: [.incomplete], for: event)
            if let documentsDueBy, closure.occurredAt < documentsDueBy {
                throw Rejection(.followUpDeadlineNotReached, "the documents are due by \(UTCTime.string(documentsDueBy)); the dossier cannot be closed for no follow-up before then")
            }
        case .implicitRejectionDeadlineReached(let deadline):
            if isImplicitlyRejected {
                throw Rejection(.implicitRejectionAlreadyRecorded, "the implicit-rejection deadline of dossier \(dossierId.canonicalString) was already recorded")
            }
            guard status.isAwaitingDecision, let due = implicitRejectionDue(rules: rules), deadline.occurredAt >= due else {
                let when = implicitRejectionDue(rules: rules).map { "it falls on \(UTCTime.string($0))" } ?? "the dossier was never complete"
                throw Rejection(.implicitRejectionNotDue, "the implicit-rejection deadline runs \(rules.implicitRejectionMonths) months from completion, without a decision; \(when)")
            }
        default:
            throw Rejection(.dossierInvalidTransition, "\(event.typeName) is not a dossier event")
        }
    }

    private func require(_ status: DossierStatus, in allowed: [DossierStatus], for event: DomainEvent) throws(Rejection) {
        guard allowed.contains(status) else {
            let names = allowed.map(\.rawValue).joined(separator: " or ")
            throw Rejection(.dossierInvalidTransition, "\(event.typeName) is allowed only when the dossier is \(names); dossier \(dossierId.canonicalString) is \(status.rawValue)")
        }
    }
}
