/// A value taken from a closed list, spelled in the journal by its raw string.
///
/// The lists are closed on purpose: an integrator who sends `"Grenoble"` or `"students"` gets a
/// validation problem naming the accepted values instead of a silently new statistics bucket.
public protocol ClosedSet: RawRepresentable, CaseIterable, Hashable, Sendable, Codable where RawValue == String {}

extension ClosedSet {
    /// The accepted spellings, for messages that tell the integrator what to send instead.
    static var acceptedValues: String {
        allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
    }
}

/// The prefecture sites of Isère that receive applicants.
public enum Site: String, ClosedSet {
    case grenoble
    case vienne
    case laTourDuPin = "la-tour-du-pin"
}

/// The applicant categories that delay statistics are grouped by.
public enum Category: String, ClosedSet {
    case student
    /// Salaried workers and the "talent" permits.
    case worker
    case family
    case visitor
    case humanitarian
    case other
}

/// Why an applicant comes to the counter; one active appointment per motif and applicant.
public enum Motif: String, ClosedSet {
    /// First filing of a dossier.
    case filing
    /// Bringing the documents that were missing.
    case completion
    case biometrics
    /// Collecting the permit.
    case handover
}

/// Whether a dossier asks for a first permit, a renewal or a change of status.
public enum DossierKind: String, ClosedSet {
    case first
    case renewal
    case change
}

/// How a dossier reached the prefecture.
public enum FilingChannel: String, ClosedSet {
    case online
    case counter
    case post
}

/// The two provisional permits that cover an applicant while the file is reviewed.
public enum ProvisionalPermitKind: String, ClosedSet {
    /// Récépissé.
    case receipt
    /// Attestation de prolongation d'instruction.
    case attestation
}

/// The bodies a prefecture consults before deciding.
public enum ConsultationAuthority: String, ClosedSet {
    /// The labour administration (work authorisation).
    case labour
    /// The immigration and integration office.
    case ofii
    case police
    case mayor
    case other
}

public enum ConsultationOutcome: String, ClosedSet {
    case favourable
    case unfavourable
    case noAnswer = "no-answer"
}

public enum DecisionOutcome: String, ClosedSet {
    case granted
    case refused
}

/// Why the service cancelled an appointment; free text is not allowed because it would invite personal data.
public enum ServiceCancellationReason: String, ClosedSet {
    case fraud
    case duplicate
    case slotWithdrawn = "slot-withdrawn"
    case serviceClosure = "service-closure"
    case applicantRequest = "applicant-request"
    case other
}

/// Why a slot was withdrawn.
public enum SlotWithdrawalReason: String, ClosedSet {
    case staffShortage = "staff-shortage"
    case serviceClosure = "service-closure"
    case publishedByMistake = "published-by-mistake"
    case other
}

/// The abuse patterns the audit and the server know how to flag.
public enum AbusePattern: String, ClosedSet {
    /// Slots taken within seconds of their release.
    case releaseSniping = "release-sniping"
    /// One client fingerprint booking for many identities.
    case manyIdentities = "many-identities"
    /// Repeated book-then-cancel, the mark of slots held for resale.
    case bookCancelChurn = "book-cancel-churn"
    /// One identity trying to hold several appointments for one motif.
    case duplicateIdentity = "duplicate-identity"
    /// A person other than the booked applicant showing up at the counter.
    case identityMismatch = "identity-mismatch"
    case other
}
