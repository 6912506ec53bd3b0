import Domain
import Foundation

/// A slot, as its stream names it.
public struct SlotRef: Hashable, Comparable, Sendable, Codable {
    public var site: Site
    public var slotId: UUID

    public init(site: Site, slotId: UUID) {
        self.site = site
        self.slotId = slotId
    }

    @inline(__always) var fastHash: UInt64 { slotId.fastHash ^ UInt64(ordinal(site)) }

    public static func < (a: SlotRef, b: SlotRef) -> Bool {
        (a.site.rawValue, a.slotId.uuidString) < (b.site.rawValue, b.slotId.uuidString)
    }
}

/// What the projections need from one event: the few fields they fold, with times in
/// milliseconds since the epoch. Read either straight from the journal's bytes or from a decoded
/// `DomainEvent`; both give the same fact.
enum Fact: Sendable, Equatable {
    case slotPublished(SlotRef, motif: Motif, category: Domain.Category, start: Int64, capacity: Int, release: UUID, at: Int64)
    case slotWithdrawn(SlotRef, at: Int64)
    case booked(appointment: UUID, identity: HashKey, slot: SlotRef, motif: Motif, category: Domain.Category, start: Int64, fingerprint: HashKey, at: Int64)
    case rescheduled(appointment: UUID, from: SlotRef, to: SlotRef, toStart: Int64, at: Int64)
    case cancelled(appointment: UUID, slot: SlotRef, byService: Bool, at: Int64)
    case reinstated(appointment: UUID, slot: SlotRef, at: Int64)
    case attended(appointment: UUID, matched: Bool, at: Int64)
    case noShow(appointment: UUID, at: Int64)
    case identityMismatch(appointment: UUID, at: Int64)
    case dossierSubmitted(dossier: UUID, category: Domain.Category, kind: DossierKind, channel: FilingChannel, site: Site, at: Int64)
    /// Any later dossier event; `decision` is set for `DecisionRecorded`.
    case dossierStep(dossier: UUID, kind: EventKind, decision: DecisionOutcome?, at: Int64)
    case attemptsRejected(HashKey, count: Int, at: Int64)
    case rateLimited(HashKey, at: Int64)
    case duplicateBooking(HashKey, at: Int64)
    case flagged(HashKey, pattern: AbusePattern, at: Int64)

    /// The appointment a copied event is about, to count it once per append.
    var appointmentId: UUID? {
        switch self {
        case .booked(let id, _, _, _, _, _, _, _), .rescheduled(let id, _, _, _, _), .cancelled(let id, _, _, _),
             .reinstated(let id, _, _): id
        default: nil
        }
    }
}

// MARK: - From the journal's bytes

extension Fact {
    /// The member names each event type may hold, in the order writers emit them.
    static func keyNames(_ kind: EventKind) -> [String] {
        switch kind {
        case .slotPublished: ["schemaVersion", "slotId", "site", "motif", "category", "start", "durationMinutes", "counter", "capacity", "releaseId", "occurredAt"]
        case .slotWithdrawn: ["schemaVersion", "slotId", "site", "reason", "occurredAt"]
        case .appointmentBooked: ["schemaVersion", "appointmentId", "identityKey", "site", "slotId", "motif", "category", "start", "fingerprint", "occurredAt"]
        case .appointmentRescheduled: ["schemaVersion", "appointmentId", "identityKey", "motif", "fromSite", "fromSlotId", "toSite", "toSlotId", "toStart", "occurredAt"]
        case .appointmentCancelledByApplicant, .appointmentReinstated, .appointmentNoShow:
            ["schemaVersion", "appointmentId", "identityKey", "site", "slotId", "occurredAt"]
        case .appointmentCancelledByService: ["schemaVersion", "appointmentId", "identityKey", "site", "slotId", "reason", "occurredAt"]
        case .appointmentAttended: ["schemaVersion", "appointmentId", "identityKey", "site", "slotId", "identityMatched", "occurredAt"]
        case .identityMismatchAtCounter: ["schemaVersion", "appointmentId", "identityKey", "site", "slotId", "presentedIdentityKey", "occurredAt"]
        case .dossierSubmitted: ["schemaVersion", "dossierId", "identityKey", "category", "kind", "channel", "site", "occurredAt"]
        case .documentsRequested: ["schemaVersion", "dossierId", "documents", "dueBy", "occurredAt"]
        case .documentsReceived: ["schemaVersion", "dossierId", "documents", "occurredAt"]
        case .dossierDeclaredComplete, .permitProductionOrdered, .dossierWithdrawn, .dossierClosedForNoFollowUp, .implicitRejectionDeadlineReached:
            ["schemaVersion", "dossierId", "occurredAt"]
        case .provisionalPermitIssued: ["schemaVersion", "dossierId", "kind", "validFrom", "validUntil", "occurredAt"]
        case .biometricsCaptured, .permitHandedOver: ["schemaVersion", "dossierId", "site", "appointmentId", "occurredAt"]
        case .consultationRequested: ["schemaVersion", "dossierId", "consultationId", "authority", "occurredAt"]
        case .consultationAnswered: ["schemaVersion", "dossierId", "consultationId", "outcome", "occurredAt"]
        case .decisionRecorded: ["schemaVersion", "dossierId", "outcome", "occurredAt"]
        case .permitAvailable: ["schemaVersion", "dossierId", "site", "occurredAt"]
        case .bookingAttemptsRejected: ["schemaVersion", "fingerprint", "minute", "rule", "count", "occurredAt"]
        case .rateLimitTriggered: ["schemaVersion", "fingerprint", "windowSeconds", "limit", "observed", "occurredAt"]
        case .duplicateBookingDetected: ["schemaVersion", "fingerprint", "identityKey", "motif", "existingAppointmentId", "occurredAt"]
        case .bookingFlagged: ["schemaVersion", "fingerprint", "appointmentId", "pattern", "score", "evidenceEventIds", "occurredAt"]
        }
    }

    /// The length of the string a member always holds in the current schema, or 0: UUIDs (every
    /// `…Id`), hashes, and times, which writers spell without a fraction of a second. Every such
    /// member is read by `uuid`, `hash` or `millis` in `SpanReader.fact`, which check each of its
    /// bytes (a test corrupts each of them in turn).
    static func fixedLength(_ name: String) -> UInt8 {
        switch name {
        case "identityKey", "presentedIdentityKey", "fingerprint": 64
        case "start", "toStart", "occurredAt", "dueBy", "validFrom", "validUntil", "minute": 20
        default: name.hasSuffix("Id") ? 36 : 0
        }
    }

    /// Members that may be absent or null.
    static func optionalMask(_ kind: EventKind) -> UInt32 {
        let optional: Set<String> = ["presentedIdentityKey", "appointmentId"]
        let required: Set<String> = kind == .appointmentBooked || kind.isCopiedAcrossStreams || kind == .appointmentAttended
            || kind == .appointmentNoShow || kind == .identityMismatchAtCounter ? ["appointmentId"] : []
        var mask: UInt32 = 0
        for (i, name) in keyNames(kind).enumerated() where optional.contains(name) && !required.contains(name) { mask |= 1 << UInt32(i) }
        return mask
    }

    /// Reads a current-schema event from its bytes; `nil` whenever anything is not exactly as the
    /// catalogue writes it, in which case the caller asks the full decoder.
    static func read(_ kind: EventKind, _ b: UnsafeRawBufferPointer) -> Fact? {
        FactReader().read(kind, b)
    }
}

/// Every table the fast reader consults, built once and never freed.
///
/// Each is plain memory behind pointers: a copy of a table costs no reference counting, and
/// the fold reaches them through one pointer it fetched once, where a `static let` per table
/// was a call to the lazy-global check (`swift_once`) per table and event.
struct CatalogueTables: @unchecked Sendable {
    /// Per `EventKind`, its member names.
    let keys: UnsafePointer<KeySet>
    /// Per `EventKind`, the members that may be absent or null.
    let optionalMasks: UnsafePointer<UInt32>
    let kinds: EventKindLookup
    let sites: MemberTable<Site>
    let motifs: MemberTable<Motif>
    let categories: MemberTable<Domain.Category>
    let dossierKinds: MemberTable<DossierKind>
    let channels: MemberTable<FilingChannel>
    let provisionalKinds: MemberTable<ProvisionalPermitKind>
    let authorities: MemberTable<ConsultationAuthority>
    let consultationOutcomes: MemberTable<ConsultationOutcome>
    let decisions: MemberTable<DecisionOutcome>
    let serviceReasons: MemberTable<ServiceCancellationReason>
    let withdrawalReasons: MemberTable<SlotWithdrawalReason>
    let patterns: MemberTable<AbusePattern>

    private init() {
        keys = UnsafePointer(Immortal.copy(EventKind.allCases.map { kind in
            let names = Fact.keyNames(kind)
            return KeySet(names, fixedLengths: names.map(Fact.fixedLength))
        }))
        optionalMasks = UnsafePointer(Immortal.copy(EventKind.allCases.map(Fact.optionalMask)))
        kinds = EventKindLookup()
        sites = MemberTable()
        motifs = MemberTable()
        categories = MemberTable()
        dossierKinds = MemberTable()
        channels = MemberTable()
        provisionalKinds = MemberTable()
        authorities = MemberTable()
        consultationOutcomes = MemberTable()
        decisions = MemberTable()
        serviceReasons = MemberTable()
        withdrawalReasons = MemberTable()
        patterns = MemberTable()
    }

    /// The one instance, for the lifetime of the process.
    static let shared = SharedPointer(UnsafePointer(Immortal.copy([CatalogueTables()])))

    struct SharedPointer: @unchecked Sendable {
        let pointer: UnsafePointer<CatalogueTables>
        init(_ pointer: UnsafePointer<CatalogueTables>) { self.pointer = pointer }
    }
}

/// Memory allocated once for tables that live as long as the process.
enum Immortal {
    static func copy<T>(_ elements: [T]) -> UnsafeMutablePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: max(elements.count, 1))
        p.initialize(from: elements, count: elements.count)
        return p
    }
}

/// The fast reader of current-schema events, with the catalogue's tables at hand.
///
/// A fold fetches one for all its events (`ProjectionSet.apply(_:copies:reader:)`); anyone else
/// makes one per event, which costs a load.
struct FactReader {
    let tables: UnsafePointer<CatalogueTables>

    init() { tables = CatalogueTables.shared.pointer }

    /// The kind whose type name is exactly `bytes`; `nil` for a type outside the catalogue.
    @inline(__always) func kind(named bytes: UnsafeRawBufferPointer) -> EventKind? { tables.pointee.kinds.kind(named: bytes) }

    /// `Fact.read`.
    func read(_ kind: EventKind, _ b: UnsafeRawBufferPointer) -> Fact? {
        let t = tables
        let keys = t.pointee.keys[Int(kind.rawValue)]
        let optional = t.pointee.optionalMasks[Int(kind.rawValue)]
        return withUnsafeTemporaryAllocation(of: ValueSpan.self, capacity: 12) { spans -> Fact? in
            guard let found = FieldScanner.scan(b, keys: keys, into: spans) else { return nil }
            let all: UInt32 = (1 << UInt32(keys.count)) - 1
            guard found | optional == all else { return nil }
            let r = SpanReader(b: b, spans: spans, found: found, tables: t)
            guard r.int(0) == 1 else { return nil }
            return r.fact(kind)
        }
    }
}

/// Typed access to the members `FieldScanner` found, by their index in the kind's key list.
private struct SpanReader {
    let b: UnsafeRawBufferPointer
    let spans: UnsafeMutableBufferPointer<ValueSpan>
    let found: UInt32
    let tables: UnsafePointer<CatalogueTables>

    func has(_ i: Int) -> Bool { found & (1 << UInt32(i)) != 0 && spans[i].kind != .literalNull }
    func uuid(_ i: Int) -> UUID? { FieldScanner.uuid(b, spans[i]) }
    func hash(_ i: Int) -> HashKey? { FieldScanner.hash(b, spans[i]) }
    func time(_ i: Int) -> Int64? { FieldScanner.millis(b, spans[i]) }
    func int(_ i: Int) -> Int? { FieldScanner.integer(b, spans[i]) }
    func bool(_ i: Int) -> Bool? { FieldScanner.boolean(spans[i]) }
    func member<T: ClosedSet>(_ i: Int, _ table: MemberTable<T>) -> T? {
        guard let bytes = FieldScanner.plainBytes(b, spans[i]) else { return nil }
        return table.value(bytes)
    }
    func slot(site: Int, id: Int) -> SlotRef? {
        guard let s = member(site, tables.pointee.sites), let u = uuid(id) else { return nil }
        return SlotRef(site: s, slotId: u)
    }
    /// A syntactically valid optional hash, when present.
    func optionalHashIsValid(_ i: Int) -> Bool { !has(i) || hash(i) != nil }
    func optionalUUIDIsValid(_ i: Int) -> Bool { !has(i) || uuid(i) != nil }
    func isString(_ i: Int) -> Bool { spans[i].kind == .plainString || spans[i].kind == .escapedString }

    func fact(_ kind: EventKind) -> Fact? {
        switch kind {
        case .slotPublished:
            guard let slot = slot(site: 2, id: 1), let motif = member(3, tables.pointee.motifs), let category = member(4, tables.pointee.categories),
                  let start = time(5), let duration = int(6), (1...480).contains(duration), isString(7),
                  let capacity = int(8), (1...500).contains(capacity), let release = uuid(9), let at = time(10) else { return nil }
            return .slotPublished(slot, motif: motif, category: category, start: start, capacity: capacity, release: release, at: at)
        case .slotWithdrawn:
            guard let slot = slot(site: 2, id: 1), member(3, tables.pointee.withdrawalReasons) != nil, let at = time(4) else { return nil }
            return .slotWithdrawn(slot, at: at)
        case .appointmentBooked:
            guard let appointment = uuid(1), let identity = hash(2), let slot = slot(site: 3, id: 4), let motif = member(5, tables.pointee.motifs),
                  let category = member(6, tables.pointee.categories), let start = time(7), let fingerprint = hash(8), let at = time(9) else { return nil }
            return .booked(appointment: appointment, identity: identity, slot: slot, motif: motif, category: category, start: start, fingerprint: fingerprint, at: at)
        case .appointmentRescheduled:
            guard let appointment = uuid(1), hash(2) != nil, member(3, tables.pointee.motifs) != nil, let from = slot(site: 4, id: 5),
                  let to = slot(site: 6, id: 7), let toStart = time(8), let at = time(9) else { return nil }
            return .rescheduled(appointment: appointment, from: from, to: to, toStart: toStart, at: at)
        case .appointmentCancelledByApplicant, .appointmentReinstated, .appointmentNoShow:
            guard let appointment = uuid(1), hash(2) != nil, let slot = slot(site: 3, id: 4), let at = time(5) else { return nil }
            switch kind {
            case .appointmentCancelledByApplicant: return .cancelled(appointment: appointment, slot: slot, byService: false, at: at)
            case .appointmentReinstated: return .reinstated(appointment: appointment, slot: slot, at: at)
            default: return .noShow(appointment: appointment, at: at)
            }
        case .appointmentCancelledByService:
            guard let appointment = uuid(1), hash(2) != nil, let slot = slot(site: 3, id: 4), member(5, tables.pointee.serviceReasons) != nil,
                  let at = time(6) else { return nil }
            return .cancelled(appointment: appointment, slot: slot, byService: true, at: at)
        case .appointmentAttended:
            guard let appointment = uuid(1), hash(2) != nil, slot(site: 3, id: 4) != nil, let matched = bool(5), let at = time(6) else { return nil }
            return .attended(appointment: appointment, matched: matched, at: at)
        case .identityMismatchAtCounter:
            guard let appointment = uuid(1), hash(2) != nil, slot(site: 3, id: 4) != nil, optionalHashIsValid(5), let at = time(6) else { return nil }
            return .identityMismatch(appointment: appointment, at: at)
        case .dossierSubmitted:
            guard let dossier = uuid(1), hash(2) != nil, let category = member(3, tables.pointee.categories), let dossierKind = member(4, tables.pointee.dossierKinds),
                  let channel = member(5, tables.pointee.channels), let site = member(6, tables.pointee.sites), let at = time(7) else { return nil }
            return .dossierSubmitted(dossier: dossier, category: category, kind: dossierKind, channel: channel, site: site, at: at)
        case .documentsRequested:
            guard let dossier = uuid(1), spans[2].kind == .array, time(3) != nil, let at = time(4) else { return nil }
            return .dossierStep(dossier: dossier, kind: kind, decision: nil, at: at)
        case .documentsReceived:
            guard let dossier = uuid(1), spans[2].kind == .array, let at = time(3) else { return nil }
            return .dossierStep(dossier: dossier, kind: kind, decision: nil, at: at)
        case .dossierDeclaredComplete, .permitProductionOrdered, .dossierWithdrawn, .dossierClosedForNoFollowUp, .implicitRejectionDeadlineReached:
            guard let dossier = uuid(1), let at = time(2) else { return nil }
            return .dossierStep(dossier: dossier, kind: kind, decision: nil, at: at)
        case .provisionalPermitIssued:
            guard let dossier = uuid(1), member(2, tables.pointee.provisionalKinds) != nil, time(3) != nil, time(4) != nil, let at = time(5) else { return nil }
            return .dossierStep(dossier: dossier, kind: kind, decision: nil, at: at)
        case .biometricsCaptured, .permitHandedOver:
            guard let dossier = uuid(1), member(2, tables.pointee.sites) != nil, optionalUUIDIsValid(3), let at = time(4) else { return nil }
            return .dossierStep(dossier: dossier, kind: kind, decision: nil, at: at)
        case .consultationRequested:
            guard let dossier = uuid(1), uuid(2) != nil, member(3, tables.pointee.authorities) != nil, let at = time(4) else { return nil }
            return .dossierStep(dossier: dossier, kind: kind, decision: nil, at: at)
        case .consultationAnswered:
            guard let dossier = uuid(1), uuid(2) != nil, member(3, tables.pointee.consultationOutcomes) != nil, let at = time(4) else { return nil }
            return .dossierStep(dossier: dossier, kind: kind, decision: nil, at: at)
        case .decisionRecorded:
            guard let dossier = uuid(1), let outcome = member(2, tables.pointee.decisions), let at = time(3) else { return nil }
            return .dossierStep(dossier: dossier, kind: kind, decision: outcome, at: at)
        case .permitAvailable:
            guard let dossier = uuid(1), member(2, tables.pointee.sites) != nil, let at = time(3) else { return nil }
            return .dossierStep(dossier: dossier, kind: kind, decision: nil, at: at)
        case .bookingAttemptsRejected:
            guard let fingerprint = hash(1), time(2) != nil, isString(3), let count = int(4), (1...1_000_000).contains(count), let at = time(5) else { return nil }
            return .attemptsRejected(fingerprint, count: count, at: at)
        case .rateLimitTriggered:
            guard let fingerprint = hash(1), int(2) != nil, int(3) != nil, int(4) != nil, let at = time(5) else { return nil }
            return .rateLimited(fingerprint, at: at)
        case .duplicateBookingDetected:
            guard let fingerprint = hash(1), hash(2) != nil, member(3, tables.pointee.motifs) != nil, uuid(4) != nil, let at = time(5) else { return nil }
            return .duplicateBooking(fingerprint, at: at)
        case .bookingFlagged:
            guard let fingerprint = hash(1), optionalUUIDIsValid(2), let pattern = member(3, tables.pointee.patterns), spans[4].kind == .number,
                  spans[5].kind == .array, let at = time(6) else { return nil }
            return .flagged(fingerprint, pattern: pattern, at: at)
        }
    }
}

/// The raw spellings of one closed set, matched against bytes without building a `String`.
struct MemberTable<T: ClosedSet>: @unchecked Sendable {
    private let names: KeySet
    private let values: UnsafePointer<T>

    init() {
        let all = Array(T.allCases)
        values = UnsafePointer(Immortal.copy(all))
        names = KeySet(all.map(\.rawValue))
    }

    /// `bytes` are a plain JSON string's contents: its closing quote follows them, and is
    /// compared too (`KeySet` holds each name with its quote).
    @inline(__always) func value(_ bytes: UnsafeRawBufferPointer) -> T? {
        let n = bytes.count + 1
        for k in 0..<names.count where names.length(k) == n {
            if names.matches(k, bytes.baseAddress!) { return values[k] }
        }
        return nil
    }
}

// MARK: - From a decoded event

extension Fact {
    init(_ event: DomainEvent) {
        func ms(_ date: Date) -> Int64 { Millis.of(date) }
        switch event {
        case .slotPublished(let e):
            self = .slotPublished(SlotRef(site: e.site, slotId: e.slotId), motif: e.motif, category: e.category, start: ms(e.start), capacity: e.capacity, release: e.releaseId, at: ms(e.occurredAt))
        case .slotWithdrawn(let e):
            self = .slotWithdrawn(SlotRef(site: e.site, slotId: e.slotId), at: ms(e.occurredAt))
        case .appointmentBooked(let e):
            self = .booked(appointment: e.appointmentId, identity: HashKey(e.identityKey), slot: SlotRef(site: e.site, slotId: e.slotId), motif: e.motif, category: e.category, start: ms(e.start), fingerprint: HashKey(e.fingerprint), at: ms(e.occurredAt))
        case .appointmentRescheduled(let e):
            self = .rescheduled(appointment: e.appointmentId, from: SlotRef(site: e.fromSite, slotId: e.fromSlotId), to: SlotRef(site: e.toSite, slotId: e.toSlotId), toStart: ms(e.toStart), at: ms(e.occurredAt))
        case .appointmentCancelledByApplicant(let e):
            self = .cancelled(appointment: e.appointmentId, slot: SlotRef(site: e.site, slotId: e.slotId), byService: false, at: ms(e.occurredAt))
        case .appointmentCancelledByService(let e):
            self = .cancelled(appointment: e.appointmentId, slot: SlotRef(site: e.site, slotId: e.slotId), byService: true, at: ms(e.occurredAt))
        case .appointmentReinstated(let e):
            self = .reinstated(appointment: e.appointmentId, slot: SlotRef(site: e.site, slotId: e.slotId), at: ms(e.occurredAt))
        case .appointmentAttended(let e):
            self = .attended(appointment: e.appointmentId, matched: e.identityMatched, at: ms(e.occurredAt))
        case .appointmentNoShow(let e):
            self = .noShow(appointment: e.appointmentId, at: ms(e.occurredAt))
        case .identityMismatchAtCounter(let e):
            self = .identityMismatch(appointment: e.appointmentId, at: ms(e.occurredAt))
        case .dossierSubmitted(let e):
            self = .dossierSubmitted(dossier: e.dossierId, category: e.category, kind: e.kind, channel: e.channel, site: e.site, at: ms(e.occurredAt))
        case .documentsRequested(let e): self = .dossierStep(dossier: e.dossierId, kind: .documentsRequested, decision: nil, at: ms(e.occurredAt))
        case .documentsReceived(let e): self = .dossierStep(dossier: e.dossierId, kind: .documentsReceived, decision: nil, at: ms(e.occurredAt))
        case .dossierDeclaredComplete(let e): self = .dossierStep(dossier: e.dossierId, kind: .dossierDeclaredComplete, decision: nil, at: ms(e.occurredAt))
        case .provisionalPermitIssued(let e): self = .dossierStep(dossier: e.dossierId, kind: .provisionalPermitIssued, decision: nil, at: ms(e.occurredAt))
        case .biometricsCaptured(let e): self = .dossierStep(dossier: e.dossierId, kind: .biometricsCaptured, decision: nil, at: ms(e.occurredAt))
        case .consultationRequested(let e): self = .dossierStep(dossier: e.dossierId, kind: .consultationRequested, decision: nil, at: ms(e.occurredAt))
        case .consultationAnswered(let e): self = .dossierStep(dossier: e.dossierId, kind: .consultationAnswered, decision: nil, at: ms(e.occurredAt))
        case .decisionRecorded(let e): self = .dossierStep(dossier: e.dossierId, kind: .decisionRecorded, decision: e.outcome, at: ms(e.occurredAt))
        case .permitProductionOrdered(let e): self = .dossierStep(dossier: e.dossierId, kind: .permitProductionOrdered, decision: nil, at: ms(e.occurredAt))
        case .permitAvailable(let e): self = .dossierStep(dossier: e.dossierId, kind: .permitAvailable, decision: nil, at: ms(e.occurredAt))
        case .permitHandedOver(let e): self = .dossierStep(dossier: e.dossierId, kind: .permitHandedOver, decision: nil, at: ms(e.occurredAt))
        case .dossierWithdrawn(let e): self = .dossierStep(dossier: e.dossierId, kind: .dossierWithdrawn, decision: nil, at: ms(e.occurredAt))
        case .dossierClosedForNoFollowUp(let e): self = .dossierStep(dossier: e.dossierId, kind: .dossierClosedForNoFollowUp, decision: nil, at: ms(e.occurredAt))
        case .implicitRejectionDeadlineReached(let e): self = .dossierStep(dossier: e.dossierId, kind: .implicitRejectionDeadlineReached, decision: nil, at: ms(e.occurredAt))
        case .bookingAttemptsRejected(let e): self = .attemptsRejected(HashKey(e.fingerprint), count: e.count, at: ms(e.occurredAt))
        case .rateLimitTriggered(let e): self = .rateLimited(HashKey(e.fingerprint), at: ms(e.occurredAt))
        case .duplicateBookingDetected(let e): self = .duplicateBooking(HashKey(e.fingerprint), at: ms(e.occurredAt))
        case .bookingFlagged(let e): self = .flagged(HashKey(e.fingerprint), pattern: e.pattern, at: ms(e.occurredAt))
        }
    }
}
