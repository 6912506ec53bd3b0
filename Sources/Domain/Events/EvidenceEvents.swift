// The event catalogue, version 1: see docs/EVENTS.md.
import Foundation

/// Booking attempts refused by a rule, counted per client fingerprint and minute, so that a bot's
/// thousands of attempts are on the record without one event each.
public struct BookingAttemptsRejected: Sendable, Hashable, Codable {
    public static let typeName = "BookingAttemptsRejected"
    public static let schemaVersion = 1

    public var fingerprint: Fingerprint
    /// The minute the attempts fell in (seconds are zero).
    public var minute: Date
    /// The rule that refused them.
    public var rule: RuleName
    public var count: Int
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(fingerprint: Fingerprint, minute: Date, rule: RuleName, count: Int, occurredAt: Date) {
        self.fingerprint = fingerprint
        self.minute = UTCTime.normalized(minute)
        self.rule = rule
        self.count = count
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension BookingAttemptsRejected: EventPayload {
    var domainEvent: DomainEvent { .bookingAttemptsRejected(self) }

    var homes: StreamHomes { StreamHomes(.fingerprint(fingerprint)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let fingerprint = r.fingerprint("fingerprint")
        let minute = r.date("minute")
        let rule = r.member("rule", of: RuleName.self)
        let count = r.integer("count", in: 1...1_000_000)
        let occurredAt = r.date("occurredAt")
        if let minute, minute.timeIntervalSince1970.truncatingRemainder(dividingBy: 60) != 0 {
            r.report("minute", .wholeMinute, "`minute` must be the start of a minute, such as 2024-09-03T09:00:00Z")
        }
        guard let fingerprint, let minute, let rule, let count, let occurredAt else { return nil }
        return Self(fingerprint: fingerprint, minute: minute, rule: rule, count: count, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("fingerprint", fingerprint)
        w.field("minute", minute)
        w.field("rule", rule)
        w.field("count", count)
        w.field("occurredAt", occurredAt)
    }
}

/// A client fingerprint went over the booking front end's rate limit.
public struct RateLimitTriggered: Sendable, Hashable, Codable {
    public static let typeName = "RateLimitTriggered"
    public static let schemaVersion = 1

    public var fingerprint: Fingerprint
    public var windowSeconds: Int
    public var limit: Int
    public var observed: Int
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(fingerprint: Fingerprint, windowSeconds: Int, limit: Int, observed: Int, occurredAt: Date) {
        self.fingerprint = fingerprint
        self.windowSeconds = windowSeconds
        self.limit = limit
        self.observed = observed
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension RateLimitTriggered: EventPayload {
    var domainEvent: DomainEvent { .rateLimitTriggered(self) }

    var homes: StreamHomes { StreamHomes(.fingerprint(fingerprint)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let fingerprint = r.fingerprint("fingerprint")
        let windowSeconds = r.integer("windowSeconds", in: 1...86_400)
        let limit = r.integer("limit", in: 1...1_000_000)
        let observed = r.integer("observed", in: 1...100_000_000)
        let occurredAt = r.date("occurredAt")
        guard let fingerprint, let windowSeconds, let limit, let observed, let occurredAt else { return nil }
        return Self(fingerprint: fingerprint, windowSeconds: windowSeconds, limit: limit, observed: observed, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("fingerprint", fingerprint)
        w.field("windowSeconds", windowSeconds)
        w.field("limit", limit)
        w.field("observed", observed)
        w.field("occurredAt", occurredAt)
    }
}

/// A client tried to book a second active appointment for one identity and motif.
public struct DuplicateBookingDetected: Sendable, Hashable, Codable {
    public static let typeName = "DuplicateBookingDetected"
    public static let schemaVersion = 1

    public var fingerprint: Fingerprint
    public var identityKey: IdentityKey
    public var motif: Motif
    public var existingAppointmentId: UUID
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(fingerprint: Fingerprint, identityKey: IdentityKey, motif: Motif, existingAppointmentId: UUID, occurredAt: Date) {
        self.fingerprint = fingerprint
        self.identityKey = identityKey
        self.motif = motif
        self.existingAppointmentId = existingAppointmentId
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension DuplicateBookingDetected: EventPayload {
    var domainEvent: DomainEvent { .duplicateBookingDetected(self) }

    var homes: StreamHomes { StreamHomes(.fingerprint(fingerprint)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let fingerprint = r.fingerprint("fingerprint")
        let identityKey = r.identityKey("identityKey")
        let motif = r.member("motif", of: Motif.self)
        let existingAppointmentId = r.uuid("existingAppointmentId")
        let occurredAt = r.date("occurredAt")
        guard let fingerprint, let identityKey, let motif, let existingAppointmentId, let occurredAt else { return nil }
        return Self(fingerprint: fingerprint, identityKey: identityKey, motif: motif, existingAppointmentId: existingAppointmentId, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("fingerprint", fingerprint)
        w.field("identityKey", identityKey)
        w.field("motif", motif)
        w.field("existingAppointmentId", existingAppointmentId)
        w.field("occurredAt", occurredAt)
    }
}

/// A booking flagged as probable abuse, with the pattern, a score and the ids of the journal events
/// that support it, so that the finding can be proven later.
public struct BookingFlagged: Sendable, Hashable, Codable {
    public static let typeName = "BookingFlagged"
    public static let schemaVersion = 1

    public var fingerprint: Fingerprint
    public var appointmentId: UUID?
    public var pattern: AbusePattern
    /// Confidence between 0 and 1.
    public var score: Double
    /// Journal event ids of the supporting events.
    public var evidenceEventIds: [UUID]
    /// Business time: the rules are judged on it, not on when the event was recorded.
    public var occurredAt: Date

    public init(fingerprint: Fingerprint, appointmentId: UUID? = nil, pattern: AbusePattern, score: Double, evidenceEventIds: [UUID], occurredAt: Date) {
        self.fingerprint = fingerprint
        self.appointmentId = appointmentId
        self.pattern = pattern
        self.score = score
        self.evidenceEventIds = evidenceEventIds
        self.occurredAt = UTCTime.normalized(occurredAt)
    }

    public init(from decoder: any Decoder) throws { self = try decodePayload(Self.self, from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePayload(self, to: encoder) }
}

extension BookingFlagged: EventPayload {
    var domainEvent: DomainEvent { .bookingFlagged(self) }

    var homes: StreamHomes { StreamHomes(.fingerprint(fingerprint)) }

    static func readCurrent(_ r: inout FieldReader) -> Self? {
        let fingerprint = r.fingerprint("fingerprint")
        let appointmentId = r.uuid("appointmentId", required: false)
        let pattern = r.member("pattern", of: AbusePattern.self)
        let score = r.number("score", in: 0...1)
        let evidenceEventIds = r.uuids("evidenceEventIds", count: 1...1000)
        let occurredAt = r.date("occurredAt")
        guard let fingerprint, let pattern, let score, let evidenceEventIds, let occurredAt else { return nil }
        return Self(fingerprint: fingerprint, appointmentId: appointmentId, pattern: pattern, score: score, evidenceEventIds: evidenceEventIds, occurredAt: occurredAt)
    }

    func write(to w: inout JSONObjectWriter) {
        w.field("schemaVersion", Self.schemaVersion)
        w.field("fingerprint", fingerprint)
        w.field("appointmentId", appointmentId)
        w.field("pattern", pattern)
        w.field("score", score)
        w.field("evidenceEventIds", evidenceEventIds)
        w.field("occurredAt", occurredAt)
    }
}
