import Foundation

/// One step of a dossier's life after its submission.
public enum DossierStep: Sendable, Equatable {
    case requestDocuments([String], dueBy: Date)
    case receiveDocuments([String])
    case declareComplete
    case issueProvisionalPermit(ProvisionalPermitKind, validFrom: Date, validUntil: Date)
    case captureBiometrics(at: Site, appointmentId: UUID?)
    case requestConsultation(UUID, from: ConsultationAuthority)
    case answerConsultation(UUID, outcome: ConsultationOutcome)
    case decide(DecisionOutcome)
    case orderProduction
    case makeAvailable(at: Site)
    case handOver(at: Site, appointmentId: UUID?)
    case withdraw
    case closeForNoFollowUp
    case reachImplicitRejectionDeadline
}

extension DossierStep {
    /// The type of the event the step records, known before any state is read: a command checks
    /// that its peer may append it before deciding, so that a peer without the grant learns
    /// nothing from the rules' verdicts.
    public var eventTypeName: String {
        switch self {
        case .requestDocuments: DocumentsRequested.typeName
        case .receiveDocuments: DocumentsReceived.typeName
        case .declareComplete: DossierDeclaredComplete.typeName
        case .issueProvisionalPermit: ProvisionalPermitIssued.typeName
        case .captureBiometrics: BiometricsCaptured.typeName
        case .requestConsultation: ConsultationRequested.typeName
        case .answerConsultation: ConsultationAnswered.typeName
        case .decide: DecisionRecorded.typeName
        case .orderProduction: PermitProductionOrdered.typeName
        case .makeAvailable: PermitAvailable.typeName
        case .handOver: PermitHandedOver.typeName
        case .withdraw: DossierWithdrawn.typeName
        case .closeForNoFollowUp: DossierClosedForNoFollowUp.typeName
        case .reachImplicitRejectionDeadline: ImplicitRejectionDeadlineReached.typeName
        }
    }
}

extension Decide {
    /// Opens a dossier's stream.
    public static func submit(
        _ dossier: DossierState,
        for identity: IdentityKey,
        category: Category,
        kind: DossierKind,
        channel: FilingChannel,
        at site: Site,
        on time: Date
    ) throws(Rejection) -> PlannedAppend {
        let event = DomainEvent.dossierSubmitted(DossierSubmitted(
            dossierId: dossier.dossierId, identityKey: identity, category: category, kind: kind, channel: channel, site: site, occurredAt: time
        ))
        try dossier.check(event)
        return try plan([(dossier.stream, dossier.expectedVersion, event)])
    }

    /// Moves a dossier one step along its lifecycle, or names the rule that forbids it.
    public static func advance(
        _ dossier: DossierState,
        by step: DossierStep,
        at time: Date,
        rules: RuleParameters = .standard
    ) throws(Rejection) -> PlannedAppend {
        let id = dossier.dossierId
        let event: DomainEvent = switch step {
        case .requestDocuments(let documents, let dueBy):
            .documentsRequested(DocumentsRequested(dossierId: id, documents: documents, dueBy: dueBy, occurredAt: time))
        case .receiveDocuments(let documents):
            .documentsReceived(DocumentsReceived(dossierId: id, documents: documents, occurredAt: time))
        case .declareComplete:
            .dossierDeclaredComplete(DossierDeclaredComplete(dossierId: id, occurredAt: time))
        case .issueProvisionalPermit(let kind, let validFrom, let validUntil):
            .provisionalPermitIssued(ProvisionalPermitIssued(dossierId: id, kind: kind, validFrom: validFrom, validUntil: validUntil, occurredAt: time))
        case .captureBiometrics(let site, let appointmentId):
            .biometricsCaptured(BiometricsCaptured(dossierId: id, site: site, appointmentId: appointmentId, occurredAt: time))
        case .requestConsultation(let consultationId, let authority):
            .consultationRequested(ConsultationRequested(dossierId: id, consultationId: consultationId, authority: authority, occurredAt: time))
        case .answerConsultation(let consultationId, let outcome):
            .consultationAnswered(ConsultationAnswered(dossierId: id, consultationId: consultationId, outcome: outcome, occurredAt: time))
        case .decide(let outcome):
            .decisionRecorded(DecisionRecorded(dossierId: id, outcome: outcome, occurredAt: time))
        case .orderProduction:
            .permitProductionOrdered(PermitProductionOrdered(dossierId: id, occurredAt: time))
        case .makeAvailable(let site):
            .permitAvailable(PermitAvailable(dossierId: id, site: site, occurredAt: time))
        case .handOver(let site, let appointmentId):
            .permitHandedOver(PermitHandedOver(dossierId: id, site: site, appointmentId: appointmentId, occurredAt: time))
        case .withdraw:
            .dossierWithdrawn(DossierWithdrawn(dossierId: id, occurredAt: time))
        case .closeForNoFollowUp:
            .dossierClosedForNoFollowUp(DossierClosedForNoFollowUp(dossierId: id, occurredAt: time))
        case .reachImplicitRejectionDeadline:
            .implicitRejectionDeadlineReached(ImplicitRejectionDeadlineReached(dossierId: id, occurredAt: time))
        }
        try dossier.check(event, rules: rules)
        return try plan([(dossier.stream, dossier.expectedVersion, event)])
    }
}
