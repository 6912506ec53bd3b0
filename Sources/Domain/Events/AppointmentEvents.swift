// The event catalogue, version 1: see docs/EVENTS.md.
import Foundation

/// A place in a slot taken for one applicant identity.
///
/// Written to two streams in one atomic append: the slot's (which guards its capacity) and the
/// applicant's (which guards one active appointment per motif). The slot's details are copied so
/// that each aggregate can be folded from its own stream alone.
public struct AppointmentBooked: Sendable, Hashable, Codable {
    public static let typeName = "AppointmentBooked"
    public static let schemaVersion = 1

    public var appointmentId: UUID
    public var identityKey: IdentityKey
    public var site: Site
    public var slotId: UUID
    public var motif: Motif
    public var category: Category
    /// The slot's start, copied from its publication.
    public var start: Date
    /// The client that booked, kept as evidence: one fingerprint booking for many identities is the mark of a bot.
    public var fingerprint: Fingerprint
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(appointmentId: UUID, identityKey: IdentityKey, site: Site, slotId: UUID, motif: Motif, category: Category, start: Date, fingerprint: Fingerprint, occurredAt: Date) {
        self.appointmentId = appointmentId
        self.identityKey = identityKey
        self.site = site
        self.slotId = slotId
        self.motif = motif
        self.category = category
        self.start = UTCTime.normalized(start)
        self.fingerprint = fingerprint
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension AppointmentBooked: EventPayload {
    var domainEvent: DomainEvent { .appointmentBooked(self) }

    var homes: StreamHomes { StreamHomes(.slot(site: site, slotId: slotId), .applicant(identityKey)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let appointmentId = r.uuid("appointmentId")
        let identityKey = r.identityKey("identityKey")
        let site = r.member("site", of: Site.self)
        let slotId = r.uuid("slotId")
        let motif = r.member("motif", of: Motif.self)
        let category = r.member("category", of: Category.self)
        let start = r.date("start")
        let fingerprint = r.fingerprint("fingerprint")
        let occurredAt = r.date("occurredAt")
        guard let appointmentId, let identityKey, let site, let slotId, let motif, let category, let start, let fingerprint, let occurredAt else { return nil }
        return Self(appointmentId: appointmentId, identityKey: identityKey, site: site, slotId: slotId, motif: motif, category: category, start: start, fingerprint: fingerprint, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("appointmentId", appointmentId)
        w.field("identityKey", identityKey)
        w.field("site", site)
        w.field("slotId", slotId)
        w.field("motif", motif)
        w.field("category", category)
        w.field("start", start)
        w.field("fingerprint", fingerprint)
        w.field("occurredAt", occurredAt)
    }
}

/// An appointment moved to another slot of the same motif; it stays booked and keeps its id.
/// Written to the old slot's stream (which frees a place), the new slot's and the applicant's.
public struct AppointmentRescheduled: Sendable, Hashable, Codable {
    public static let typeName = "AppointmentRescheduled"
    public static let schemaVersion = 1

    public var appointmentId: UUID
    public var identityKey: IdentityKey
    public var motif: Motif
    public var fromSite: Site
    public var fromSlotId: UUID
    public var toSite: Site
    public var toSlotId: UUID
    public var toStart: Date
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(appointmentId: UUID, identityKey: IdentityKey, motif: Motif, fromSite: Site, fromSlotId: UUID, toSite: Site, toSlotId: UUID, toStart: Date, occurredAt: Date) {
        self.appointmentId = appointmentId
        self.identityKey = identityKey
        self.motif = motif
        self.fromSite = fromSite
        self.fromSlotId = fromSlotId
        self.toSite = toSite
        self.toSlotId = toSlotId
        self.toStart = UTCTime.normalized(toStart)
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension AppointmentRescheduled: EventPayload {
    var domainEvent: DomainEvent { .appointmentRescheduled(self) }

    var homes: StreamHomes { StreamHomes(.slot(site: fromSite, slotId: fromSlotId), .slot(site: toSite, slotId: toSlotId), .applicant(identityKey)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let appointmentId = r.uuid("appointmentId")
        let identityKey = r.identityKey("identityKey")
        let motif = r.member("motif", of: Motif.self)
        let fromSite = r.member("fromSite", of: Site.self)
        let fromSlotId = r.uuid("fromSlotId")
        let toSite = r.member("toSite", of: Site.self)
        let toSlotId = r.uuid("toSlotId")
        let toStart = r.date("toStart")
        let occurredAt = r.date("occurredAt")
        guard let appointmentId, let identityKey, let motif, let fromSite, let fromSlotId, let toSite, let toSlotId, let toStart, let occurredAt else { return nil }
        return Self(appointmentId: appointmentId, identityKey: identityKey, motif: motif, fromSite: fromSite, fromSlotId: fromSlotId, toSite: toSite, toSlotId: toSlotId, toStart: toStart, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("appointmentId", appointmentId)
        w.field("identityKey", identityKey)
        w.field("motif", motif)
        w.field("fromSite", fromSite)
        w.field("fromSlotId", fromSlotId)
        w.field("toSite", toSite)
        w.field("toSlotId", toSlotId)
        w.field("toStart", toStart)
        w.field("occurredAt", occurredAt)
    }
}

/// The applicant gave the appointment up before the cut-off; the place is free again at once.
public struct AppointmentCancelledByApplicant: Sendable, Hashable, Codable {
    public static let typeName = "AppointmentCancelledByApplicant"
    public static let schemaVersion = 1

    public var appointmentId: UUID
    public var identityKey: IdentityKey
    public var site: Site
    public var slotId: UUID
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(appointmentId: UUID, identityKey: IdentityKey, site: Site, slotId: UUID, occurredAt: Date) {
        self.appointmentId = appointmentId
        self.identityKey = identityKey
        self.site = site
        self.slotId = slotId
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension AppointmentCancelledByApplicant: EventPayload {
    var domainEvent: DomainEvent { .appointmentCancelledByApplicant(self) }

    var homes: StreamHomes { StreamHomes(.slot(site: site, slotId: slotId), .applicant(identityKey)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let appointmentId = r.uuid("appointmentId")
        let identityKey = r.identityKey("identityKey")
        let site = r.member("site", of: Site.self)
        let slotId = r.uuid("slotId")
        let occurredAt = r.date("occurredAt")
        guard let appointmentId, let identityKey, let site, let slotId, let occurredAt else { return nil }
        return Self(appointmentId: appointmentId, identityKey: identityKey, site: site, slotId: slotId, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("appointmentId", appointmentId)
        w.field("identityKey", identityKey)
        w.field("site", site)
        w.field("slotId", slotId)
        w.field("occurredAt", occurredAt)
    }
}

/// The prefecture cancelled the appointment, at any time, for a reason from a closed list (fraud
/// among them). The place is free again at once.
public struct AppointmentCancelledByService: Sendable, Hashable, Codable {
    public static let typeName = "AppointmentCancelledByService"
    public static let schemaVersion = 1

    public var appointmentId: UUID
    public var identityKey: IdentityKey
    public var site: Site
    public var slotId: UUID
    public var reason: ServiceCancellationReason
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(appointmentId: UUID, identityKey: IdentityKey, site: Site, slotId: UUID, reason: ServiceCancellationReason, occurredAt: Date) {
        self.appointmentId = appointmentId
        self.identityKey = identityKey
        self.site = site
        self.slotId = slotId
        self.reason = reason
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension AppointmentCancelledByService: EventPayload {
    var domainEvent: DomainEvent { .appointmentCancelledByService(self) }

    var homes: StreamHomes { StreamHomes(.slot(site: site, slotId: slotId), .applicant(identityKey)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let appointmentId = r.uuid("appointmentId")
        let identityKey = r.identityKey("identityKey")
        let site = r.member("site", of: Site.self)
        let slotId = r.uuid("slotId")
        let reason = r.member("reason", of: ServiceCancellationReason.self)
        let occurredAt = r.date("occurredAt")
        guard let appointmentId, let identityKey, let site, let slotId, let reason, let occurredAt else { return nil }
        return Self(appointmentId: appointmentId, identityKey: identityKey, site: site, slotId: slotId, reason: reason, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("appointmentId", appointmentId)
        w.field("identityKey", identityKey)
        w.field("site", site)
        w.field("slotId", slotId)
        w.field("reason", reason)
        w.field("occurredAt", occurredAt)
    }
}

/// A cancelled appointment booked again in the same slot, which must still have a free place, be
/// published, not withdrawn and not started. Audited because it is also how a slot could be
/// handed back to a reseller.
public struct AppointmentReinstated: Sendable, Hashable, Codable {
    public static let typeName = "AppointmentReinstated"
    public static let schemaVersion = 1

    public var appointmentId: UUID
    public var identityKey: IdentityKey
    public var site: Site
    public var slotId: UUID
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(appointmentId: UUID, identityKey: IdentityKey, site: Site, slotId: UUID, occurredAt: Date) {
        self.appointmentId = appointmentId
        self.identityKey = identityKey
        self.site = site
        self.slotId = slotId
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension AppointmentReinstated: EventPayload {
    var domainEvent: DomainEvent { .appointmentReinstated(self) }

    var homes: StreamHomes { StreamHomes(.slot(site: site, slotId: slotId), .applicant(identityKey)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let appointmentId = r.uuid("appointmentId")
        let identityKey = r.identityKey("identityKey")
        let site = r.member("site", of: Site.self)
        let slotId = r.uuid("slotId")
        let occurredAt = r.date("occurredAt")
        guard let appointmentId, let identityKey, let site, let slotId, let occurredAt else { return nil }
        return Self(appointmentId: appointmentId, identityKey: identityKey, site: site, slotId: slotId, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("appointmentId", appointmentId)
        w.field("identityKey", identityKey)
        w.field("site", site)
        w.field("slotId", slotId)
        w.field("occurredAt", occurredAt)
    }
}

/// The applicant came to the counter, after the appointment's start. Records whether the identity
/// presented matched the booking; when it did not, an `IdentityMismatchAtCounter` follows and the
/// place does not count as genuinely used.
public struct AppointmentAttended: Sendable, Hashable, Codable {
    public static let typeName = "AppointmentAttended"
    public static let schemaVersion = 1

    public var appointmentId: UUID
    public var identityKey: IdentityKey
    public var site: Site
    public var slotId: UUID
    public var identityMatched: Bool
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(appointmentId: UUID, identityKey: IdentityKey, site: Site, slotId: UUID, identityMatched: Bool, occurredAt: Date) {
        self.appointmentId = appointmentId
        self.identityKey = identityKey
        self.site = site
        self.slotId = slotId
        self.identityMatched = identityMatched
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension AppointmentAttended: EventPayload {
    var domainEvent: DomainEvent { .appointmentAttended(self) }

    var homes: StreamHomes { StreamHomes(.applicant(identityKey)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let appointmentId = r.uuid("appointmentId")
        let identityKey = r.identityKey("identityKey")
        let site = r.member("site", of: Site.self)
        let slotId = r.uuid("slotId")
        let identityMatched = r.boolean("identityMatched")
        let occurredAt = r.date("occurredAt")
        guard let appointmentId, let identityKey, let site, let slotId, let identityMatched, let occurredAt else { return nil }
        return Self(appointmentId: appointmentId, identityKey: identityKey, site: site, slotId: slotId, identityMatched: identityMatched, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("appointmentId", appointmentId)
        w.field("identityKey", identityKey)
        w.field("site", site)
        w.field("slotId", slotId)
        w.field("identityMatched", identityMatched)
        w.field("occurredAt", occurredAt)
    }
}

/// Nobody came; recorded only after the appointment's start.
public struct AppointmentNoShow: Sendable, Hashable, Codable {
    public static let typeName = "AppointmentNoShow"
    public static let schemaVersion = 1

    public var appointmentId: UUID
    public var identityKey: IdentityKey
    public var site: Site
    public var slotId: UUID
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(appointmentId: UUID, identityKey: IdentityKey, site: Site, slotId: UUID, occurredAt: Date) {
        self.appointmentId = appointmentId
        self.identityKey = identityKey
        self.site = site
        self.slotId = slotId
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension AppointmentNoShow: EventPayload {
    var domainEvent: DomainEvent { .appointmentNoShow(self) }

    var homes: StreamHomes { StreamHomes(.applicant(identityKey)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let appointmentId = r.uuid("appointmentId")
        let identityKey = r.identityKey("identityKey")
        let site = r.member("site", of: Site.self)
        let slotId = r.uuid("slotId")
        let occurredAt = r.date("occurredAt")
        guard let appointmentId, let identityKey, let site, let slotId, let occurredAt else { return nil }
        return Self(appointmentId: appointmentId, identityKey: identityKey, site: site, slotId: slotId, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("appointmentId", appointmentId)
        w.field("identityKey", identityKey)
        w.field("site", site)
        w.field("slotId", slotId)
        w.field("occurredAt", occurredAt)
    }
}

/// Someone other than the booked applicant presented themselves: the usual trace of a resold slot.
/// Follows an `AppointmentAttended` whose `identityMatched` is false.
public struct IdentityMismatchAtCounter: Sendable, Hashable, Codable {
    public static let typeName = "IdentityMismatchAtCounter"
    public static let schemaVersion = 1

    public var appointmentId: UUID
    public var identityKey: IdentityKey
    public var site: Site
    public var slotId: UUID
    /// The salted hash of the document actually presented, when it could be read; it links resold slots together.
    public var presentedIdentityKey: IdentityKey?
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(appointmentId: UUID, identityKey: IdentityKey, site: Site, slotId: UUID, presentedIdentityKey: IdentityKey? = nil, occurredAt: Date) {
        self.appointmentId = appointmentId
        self.identityKey = identityKey
        self.site = site
        self.slotId = slotId
        self.presentedIdentityKey = presentedIdentityKey
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension IdentityMismatchAtCounter: EventPayload {
    var domainEvent: DomainEvent { .identityMismatchAtCounter(self) }

    var homes: StreamHomes { StreamHomes(.applicant(identityKey)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let appointmentId = r.uuid("appointmentId")
        let identityKey = r.identityKey("identityKey")
        let site = r.member("site", of: Site.self)
        let slotId = r.uuid("slotId")
        let presentedIdentityKey = r.identityKey("presentedIdentityKey", required: false)
        let occurredAt = r.date("occurredAt")
        guard let appointmentId, let identityKey, let site, let slotId, let occurredAt else { return nil }
        return Self(appointmentId: appointmentId, identityKey: identityKey, site: site, slotId: slotId, presentedIdentityKey: presentedIdentityKey, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("appointmentId", appointmentId)
        w.field("identityKey", identityKey)
        w.field("site", site)
        w.field("slotId", slotId)
        w.field("presentedIdentityKey", presentedIdentityKey)
        w.field("occurredAt", occurredAt)
    }
}
