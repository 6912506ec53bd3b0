// The event catalogue, version 1: see docs/EVENTS.md.
import Foundation

/// A slot offered for booking. Slots are published in releases (several a week); the release id
/// lets the audit measure how fast each release ran out and how many distinct clients took it.
public struct SlotPublished: Sendable, Hashable, Codable {
    public static let typeName = "SlotPublished"
    public static let schemaVersion = 1

    public var slotId: UUID
    public var site: Site
    public var motif: Motif
    public var category: Category
    public var start: Date
    public var durationMinutes: Int
    /// The counter (guichet) label shown to the applicant, such as "guichet 3".
    public var counter: String
    /// How many applicants the slot receives at once.
    public var capacity: Int
    public var releaseId: UUID
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(slotId: UUID, site: Site, motif: Motif, category: Category, start: Date, durationMinutes: Int, counter: String, capacity: Int, releaseId: UUID, occurredAt: Date) {
        self.slotId = slotId
        self.site = site
        self.motif = motif
        self.category = category
        self.start = UTCTime.normalized(start)
        self.durationMinutes = durationMinutes
        self.counter = counter
        self.capacity = capacity
        self.releaseId = releaseId
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    /// When the appointment ends.
    public var end: Date { start.addingTimeInterval(TimeInterval(durationMinutes * 60)) }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension SlotPublished: EventPayload {
    var domainEvent: DomainEvent { .slotPublished(self) }

    var homes: StreamHomes { StreamHomes(.slot(site: site, slotId: slotId)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let slotId = r.uuid("slotId")
        let site = r.member("site", of: Site.self)
        let motif = r.member("motif", of: Motif.self)
        let category = r.member("category", of: Category.self)
        let start = r.date("start")
        let durationMinutes = r.integer("durationMinutes", in: 1...480)
        let counter = r.string("counter", maxLength: 32)
        let capacity = r.integer("capacity", in: 1...500)
        let releaseId = r.uuid("releaseId")
        let occurredAt = r.date("occurredAt")
        guard let slotId, let site, let motif, let category, let start, let durationMinutes, let counter, let capacity, let releaseId, let occurredAt else { return nil }
        return Self(slotId: slotId, site: site, motif: motif, category: category, start: start, durationMinutes: durationMinutes, counter: counter, capacity: capacity, releaseId: releaseId, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("slotId", slotId)
        w.field("site", site)
        w.field("motif", motif)
        w.field("category", category)
        w.field("start", start)
        w.field("durationMinutes", durationMinutes)
        w.field("counter", counter)
        w.field("capacity", capacity)
        w.field("releaseId", releaseId)
        w.field("occurredAt", occurredAt)
    }
}

/// A slot taken off the booking page. It must hold no active booking: the service cancels those
/// first, with the reason `slot-withdrawn`, so each applicant's stream says why they lost it.
public struct SlotWithdrawn: Sendable, Hashable, Codable {
    public static let typeName = "SlotWithdrawn"
    public static let schemaVersion = 1

    public var slotId: UUID
    public var site: Site
    public var reason: SlotWithdrawalReason
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(slotId: UUID, site: Site, reason: SlotWithdrawalReason, occurredAt: Date) {
        self.slotId = slotId
        self.site = site
        self.reason = reason
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension SlotWithdrawn: EventPayload {
    var domainEvent: DomainEvent { .slotWithdrawn(self) }

    var homes: StreamHomes { StreamHomes(.slot(site: site, slotId: slotId)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let slotId = r.uuid("slotId")
        let site = r.member("site", of: Site.self)
        let reason = r.member("reason", of: SlotWithdrawalReason.self)
        let occurredAt = r.date("occurredAt")
        guard let slotId, let site, let reason, let occurredAt else { return nil }
        return Self(slotId: slotId, site: site, reason: reason, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("slotId", slotId)
        w.field("site", site)
        w.field("reason", reason)
        w.field("occurredAt", occurredAt)
    }
}
