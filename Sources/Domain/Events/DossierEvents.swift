// The event catalogue, version 1: see docs/EVENTS.md.
import Foundation

/// An application file (dossier) filed for a permit. Opens the dossier's stream.
public struct DossierSubmitted: Sendable, Hashable, Codable {
    public static let typeName = "DossierSubmitted"
    public static let schemaVersion = 1

    public var dossierId: UUID
    public var identityKey: IdentityKey
    public var category: Category
    public var kind: DossierKind
    public var channel: FilingChannel
    public var site: Site
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(dossierId: UUID, identityKey: IdentityKey, category: Category, kind: DossierKind, channel: FilingChannel, site: Site, occurredAt: Date) {
        self.dossierId = dossierId
        self.identityKey = identityKey
        self.category = category
        self.kind = kind
        self.channel = channel
        self.site = site
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension DossierSubmitted: EventPayload {
    var domainEvent: DomainEvent { .dossierSubmitted(self) }

    var homes: StreamHomes { StreamHomes(.dossier(dossierId)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let dossierId = r.uuid("dossierId")
        let identityKey = r.identityKey("identityKey")
        let category = r.member("category", of: Category.self)
        let kind = r.member("kind", of: DossierKind.self)
        let channel = r.member("channel", of: FilingChannel.self)
        let site = r.member("site", of: Site.self)
        let occurredAt = r.date("occurredAt")
        guard let dossierId, let identityKey, let category, let kind, let channel, let site, let occurredAt else { return nil }
        return Self(dossierId: dossierId, identityKey: identityKey, category: category, kind: kind, channel: channel, site: site, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("dossierId", dossierId)
        w.field("identityKey", identityKey)
        w.field("category", category)
        w.field("kind", kind)
        w.field("channel", channel)
        w.field("site", site)
        w.field("occurredAt", occurredAt)
    }
}

/// The file lacks documents: it becomes incomplete until they arrive, and is closed for no
/// follow-up once `dueBy` passes without completion.
public struct DocumentsRequested: Sendable, Hashable, Codable {
    public static let typeName = "DocumentsRequested"
    public static let schemaVersion = 1

    public var dossierId: UUID
    /// Short codes of the missing documents (e.g. "proof-of-address"); never their content.
    public var documents: [String]
    public var dueBy: Date
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(dossierId: UUID, documents: [String], dueBy: Date, occurredAt: Date) {
        self.dossierId = dossierId
        self.documents = documents
        self.dueBy = UTCTime.normalized(dueBy)
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension DocumentsRequested: EventPayload {
    var domainEvent: DomainEvent { .documentsRequested(self) }

    var homes: StreamHomes { StreamHomes(.dossier(dossierId)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let dossierId = r.uuid("dossierId")
        let documents = r.strings("documents", count: 1...30, maxLength: 64)
        let dueBy = r.date("dueBy")
        let occurredAt = r.date("occurredAt")
        r.requireOrder(occurredAt, "occurredAt", before: dueBy, "dueBy")
        guard let dossierId, let documents, let dueBy, let occurredAt else { return nil }
        return Self(dossierId: dossierId, documents: documents, dueBy: dueBy, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("dossierId", dossierId)
        w.field("documents", documents)
        w.field("dueBy", dueBy)
        w.field("occurredAt", occurredAt)
    }
}

/// Some requested documents arrived; the file stays incomplete until declared complete.
public struct DocumentsReceived: Sendable, Hashable, Codable {
    public static let typeName = "DocumentsReceived"
    public static let schemaVersion = 1

    public var dossierId: UUID
    public var documents: [String]
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(dossierId: UUID, documents: [String], occurredAt: Date) {
        self.dossierId = dossierId
        self.documents = documents
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension DocumentsReceived: EventPayload {
    var domainEvent: DomainEvent { .documentsReceived(self) }

    var homes: StreamHomes { StreamHomes(.dossier(dossierId)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let dossierId = r.uuid("dossierId")
        let documents = r.strings("documents", count: 1...30, maxLength: 64)
        let occurredAt = r.date("occurredAt")
        guard let dossierId, let documents, let occurredAt else { return nil }
        return Self(dossierId: dossierId, documents: documents, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("dossierId", dossierId)
        w.field("documents", documents)
        w.field("occurredAt", occurredAt)
    }
}

/// The file is complete. The first completion starts the legal clock (CESEDA R.432-2); a later one,
/// after more documents were requested, does not move it.
public struct DossierDeclaredComplete: Sendable, Hashable, Codable {
    public static let typeName = "DossierDeclaredComplete"
    public static let schemaVersion = 1

    public var dossierId: UUID
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(dossierId: UUID, occurredAt: Date) {
        self.dossierId = dossierId
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension DossierDeclaredComplete: EventPayload {
    var domainEvent: DomainEvent { .dossierDeclaredComplete(self) }

    var homes: StreamHomes { StreamHomes(.dossier(dossierId)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let dossierId = r.uuid("dossierId")
        let occurredAt = r.date("occurredAt")
        guard let dossierId, let occurredAt else { return nil }
        return Self(dossierId: dossierId, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("dossierId", dossierId)
        w.field("occurredAt", occurredAt)
    }
}

/// A receipt (récépissé) or an attestation that covers the applicant while the file is reviewed.
public struct ProvisionalPermitIssued: Sendable, Hashable, Codable {
    public static let typeName = "ProvisionalPermitIssued"
    public static let schemaVersion = 1

    public var dossierId: UUID
    public var kind: ProvisionalPermitKind
    public var validFrom: Date
    public var validUntil: Date
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(dossierId: UUID, kind: ProvisionalPermitKind, validFrom: Date, validUntil: Date, occurredAt: Date) {
        self.dossierId = dossierId
        self.kind = kind
        self.validFrom = UTCTime.normalized(validFrom)
        self.validUntil = UTCTime.normalized(validUntil)
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension ProvisionalPermitIssued: EventPayload {
    var domainEvent: DomainEvent { .provisionalPermitIssued(self) }

    var homes: StreamHomes { StreamHomes(.dossier(dossierId)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let dossierId = r.uuid("dossierId")
        let kind = r.member("kind", of: ProvisionalPermitKind.self)
        let validFrom = r.date("validFrom")
        let validUntil = r.date("validUntil")
        let occurredAt = r.date("occurredAt")
        r.requireOrder(validFrom, "validFrom", before: validUntil, "validUntil")
        guard let dossierId, let kind, let validFrom, let validUntil, let occurredAt else { return nil }
        return Self(dossierId: dossierId, kind: kind, validFrom: validFrom, validUntil: validUntil, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("dossierId", dossierId)
        w.field("kind", kind)
        w.field("validFrom", validFrom)
        w.field("validUntil", validUntil)
        w.field("occurredAt", occurredAt)
    }
}

/// Fingerprints and photograph taken at a counter, usually during a `biometrics` appointment.
public struct BiometricsCaptured: Sendable, Hashable, Codable {
    public static let typeName = "BiometricsCaptured"
    public static let schemaVersion = 1

    public var dossierId: UUID
    public var site: Site
    public var appointmentId: UUID?
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(dossierId: UUID, site: Site, appointmentId: UUID? = nil, occurredAt: Date) {
        self.dossierId = dossierId
        self.site = site
        self.appointmentId = appointmentId
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension BiometricsCaptured: EventPayload {
    var domainEvent: DomainEvent { .biometricsCaptured(self) }

    var homes: StreamHomes { StreamHomes(.dossier(dossierId)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let dossierId = r.uuid("dossierId")
        let site = r.member("site", of: Site.self)
        let appointmentId = r.uuid("appointmentId", required: false)
        let occurredAt = r.date("occurredAt")
        guard let dossierId, let site, let occurredAt else { return nil }
        return Self(dossierId: dossierId, site: site, appointmentId: appointmentId, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("dossierId", dossierId)
        w.field("site", site)
        w.field("appointmentId", appointmentId)
        w.field("occurredAt", occurredAt)
    }
}

/// Another authority is asked for its opinion before the decision.
public struct ConsultationRequested: Sendable, Hashable, Codable {
    public static let typeName = "ConsultationRequested"
    public static let schemaVersion = 1

    public var dossierId: UUID
    public var consultationId: UUID
    public var authority: ConsultationAuthority
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(dossierId: UUID, consultationId: UUID, authority: ConsultationAuthority, occurredAt: Date) {
        self.dossierId = dossierId
        self.consultationId = consultationId
        self.authority = authority
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension ConsultationRequested: EventPayload {
    var domainEvent: DomainEvent { .consultationRequested(self) }

    var homes: StreamHomes { StreamHomes(.dossier(dossierId)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let dossierId = r.uuid("dossierId")
        let consultationId = r.uuid("consultationId")
        let authority = r.member("authority", of: ConsultationAuthority.self)
        let occurredAt = r.date("occurredAt")
        guard let dossierId, let consultationId, let authority, let occurredAt else { return nil }
        return Self(dossierId: dossierId, consultationId: consultationId, authority: authority, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("dossierId", dossierId)
        w.field("consultationId", consultationId)
        w.field("authority", authority)
        w.field("occurredAt", occurredAt)
    }
}

/// The consulted authority answered (or its time ran out: `no-answer`).
public struct ConsultationAnswered: Sendable, Hashable, Codable {
    public static let typeName = "ConsultationAnswered"
    public static let schemaVersion = 1

    public var dossierId: UUID
    public var consultationId: UUID
    public var outcome: ConsultationOutcome
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(dossierId: UUID, consultationId: UUID, outcome: ConsultationOutcome, occurredAt: Date) {
        self.dossierId = dossierId
        self.consultationId = consultationId
        self.outcome = outcome
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension ConsultationAnswered: EventPayload {
    var domainEvent: DomainEvent { .consultationAnswered(self) }

    var homes: StreamHomes { StreamHomes(.dossier(dossierId)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let dossierId = r.uuid("dossierId")
        let consultationId = r.uuid("consultationId")
        let outcome = r.member("outcome", of: ConsultationOutcome.self)
        let occurredAt = r.date("occurredAt")
        guard let dossierId, let consultationId, let outcome, let occurredAt else { return nil }
        return Self(dossierId: dossierId, consultationId: consultationId, outcome: outcome, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("dossierId", dossierId)
        w.field("consultationId", consultationId)
        w.field("outcome", outcome)
        w.field("occurredAt", occurredAt)
    }
}

/// The prefecture granted or refused the permit.
public struct DecisionRecorded: Sendable, Hashable, Codable {
    public static let typeName = "DecisionRecorded"
    public static let schemaVersion = 1

    public var dossierId: UUID
    public var outcome: DecisionOutcome
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(dossierId: UUID, outcome: DecisionOutcome, occurredAt: Date) {
        self.dossierId = dossierId
        self.outcome = outcome
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension DecisionRecorded: EventPayload {
    var domainEvent: DomainEvent { .decisionRecorded(self) }

    var homes: StreamHomes { StreamHomes(.dossier(dossierId)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let dossierId = r.uuid("dossierId")
        let outcome = r.member("outcome", of: DecisionOutcome.self)
        let occurredAt = r.date("occurredAt")
        guard let dossierId, let outcome, let occurredAt else { return nil }
        return Self(dossierId: dossierId, outcome: outcome, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("dossierId", dossierId)
        w.field("outcome", outcome)
        w.field("occurredAt", occurredAt)
    }
}

/// The granted permit card was ordered from the national producer.
public struct PermitProductionOrdered: Sendable, Hashable, Codable {
    public static let typeName = "PermitProductionOrdered"
    public static let schemaVersion = 1

    public var dossierId: UUID
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(dossierId: UUID, occurredAt: Date) {
        self.dossierId = dossierId
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension PermitProductionOrdered: EventPayload {
    var domainEvent: DomainEvent { .permitProductionOrdered(self) }

    var homes: StreamHomes { StreamHomes(.dossier(dossierId)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let dossierId = r.uuid("dossierId")
        let occurredAt = r.date("occurredAt")
        guard let dossierId, let occurredAt else { return nil }
        return Self(dossierId: dossierId, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("dossierId", dossierId)
        w.field("occurredAt", occurredAt)
    }
}

/// The permit card arrived at a site and can be collected. Delay statistics end here.
public struct PermitAvailable: Sendable, Hashable, Codable {
    public static let typeName = "PermitAvailable"
    public static let schemaVersion = 1

    public var dossierId: UUID
    public var site: Site
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(dossierId: UUID, site: Site, occurredAt: Date) {
        self.dossierId = dossierId
        self.site = site
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension PermitAvailable: EventPayload {
    var domainEvent: DomainEvent { .permitAvailable(self) }

    var homes: StreamHomes { StreamHomes(.dossier(dossierId)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let dossierId = r.uuid("dossierId")
        let site = r.member("site", of: Site.self)
        let occurredAt = r.date("occurredAt")
        guard let dossierId, let site, let occurredAt else { return nil }
        return Self(dossierId: dossierId, site: site, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("dossierId", dossierId)
        w.field("site", site)
        w.field("occurredAt", occurredAt)
    }
}

/// The applicant collected the permit. Ends the dossier.
public struct PermitHandedOver: Sendable, Hashable, Codable {
    public static let typeName = "PermitHandedOver"
    public static let schemaVersion = 1

    public var dossierId: UUID
    public var site: Site
    public var appointmentId: UUID?
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(dossierId: UUID, site: Site, appointmentId: UUID? = nil, occurredAt: Date) {
        self.dossierId = dossierId
        self.site = site
        self.appointmentId = appointmentId
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension PermitHandedOver: EventPayload {
    var domainEvent: DomainEvent { .permitHandedOver(self) }

    var homes: StreamHomes { StreamHomes(.dossier(dossierId)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let dossierId = r.uuid("dossierId")
        let site = r.member("site", of: Site.self)
        let appointmentId = r.uuid("appointmentId", required: false)
        let occurredAt = r.date("occurredAt")
        guard let dossierId, let site, let occurredAt else { return nil }
        return Self(dossierId: dossierId, site: site, appointmentId: appointmentId, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("dossierId", dossierId)
        w.field("site", site)
        w.field("appointmentId", appointmentId)
        w.field("occurredAt", occurredAt)
    }
}

/// The applicant withdrew the file, from any open state. Ends the dossier.
public struct DossierWithdrawn: Sendable, Hashable, Codable {
    public static let typeName = "DossierWithdrawn"
    public static let schemaVersion = 1

    public var dossierId: UUID
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(dossierId: UUID, occurredAt: Date) {
        self.dossierId = dossierId
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension DossierWithdrawn: EventPayload {
    var domainEvent: DomainEvent { .dossierWithdrawn(self) }

    var homes: StreamHomes { StreamHomes(.dossier(dossierId)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let dossierId = r.uuid("dossierId")
        let occurredAt = r.date("occurredAt")
        guard let dossierId, let occurredAt else { return nil }
        return Self(dossierId: dossierId, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("dossierId", dossierId)
        w.field("occurredAt", occurredAt)
    }
}

/// An incomplete file closed because the requested documents did not arrive before `dueBy`.
public struct DossierClosedForNoFollowUp: Sendable, Hashable, Codable {
    public static let typeName = "DossierClosedForNoFollowUp"
    public static let schemaVersion = 1

    public var dossierId: UUID
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(dossierId: UUID, occurredAt: Date) {
        self.dossierId = dossierId
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension DossierClosedForNoFollowUp: EventPayload {
    var domainEvent: DomainEvent { .dossierClosedForNoFollowUp(self) }

    var homes: StreamHomes { StreamHomes(.dossier(dossierId)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let dossierId = r.uuid("dossierId")
        let occurredAt = r.date("occurredAt")
        guard let dossierId, let occurredAt else { return nil }
        return Self(dossierId: dossierId, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("dossierId", dossierId)
        w.field("occurredAt", occurredAt)
    }
}

/// Four months passed after completion without a decision: in law the silence is now an implicit
/// rejection, which the applicant may challenge. The file goes on; this only sets a flag.
public struct ImplicitRejectionDeadlineReached: Sendable, Hashable, Codable {
    public static let typeName = "ImplicitRejectionDeadlineReached"
    public static let schemaVersion = 1

    public var dossierId: UUID
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(dossierId: UUID, occurredAt: Date) {
        self.dossierId = dossierId
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension ImplicitRejectionDeadlineReached: EventPayload {
    var domainEvent: DomainEvent { .implicitRejectionDeadlineReached(self) }

    var homes: StreamHomes { StreamHomes(.dossier(dossierId)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let dossierId = r.uuid("dossierId")
        let occurredAt = r.date("occurredAt")
        guard let dossierId, let occurredAt else { return nil }
        return Self(dossierId: dossierId, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("dossierId", dossierId)
        w.field("occurredAt", occurredAt)
    }
}
