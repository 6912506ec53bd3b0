import Domain
import Foundation
import Journal

/// The four projections, folded together in one pass over the journal.
///
/// A live server keeps one in memory and applies each event as it commits; the offline rebuild
/// folds a journal's segment files. The whole state is `Codable`: save it with its `position`
/// and resume from there with `JournalReader.forEachEvent(from: position)`. Memory grows with
/// the number of slots, releases, appointments, dossiers and client fingerprints, never with the
/// number of events (see docs/PROJECTIONS.md for the bytes per entity).
///
/// An event written to several streams in one append (a booking is in the slot's stream and in
/// the applicant's) is folded once; two events with the same bytes in one append are each folded
/// (`CopyCount`).
public struct ProjectionSet: Sendable, Codable, Equatable {
    /// The next position to apply: every event before it has been folded.
    public private(set) var position: UInt64 = 0
    /// The commit time of the last event folded, in microseconds since the epoch.
    public private(set) var lastRecordedAtMicros: Int64?
    public private(set) var slotAvailability = SlotAvailability()
    public private(set) var dossierBoard = DossierBoard()
    public private(set) var delayStatistics = DelayStatistics()
    public private(set) var abuseSignals: AbuseSignals
    public private(set) var appointments = AppointmentLedger()
    /// Events seen of types outside the catalogue, by name: at most `maximumForeignTypeNames`
    /// names, and the events of any further name under `otherForeignTypes`. `registre import`
    /// does not check types against the catalogue, so a journal could hold a new name per event;
    /// the state must not grow by one entry per name. The total stays exact.
    var foreignTypes: [String: UInt64] = [:]
    static let maximumForeignTypeNames = 1_000
    /// Not a name the journal accepts for a type (letters, digits and - _ . : only), so no type is
    /// counted under it by its own name.
    public static let otherForeignTypes = "(other types)"
    /// Events seen per catalogue type (copies included).
    var kindCounts = [UInt64](repeating: 0, count: EventKind.allCases.count)
    var anomalyTable: [AnomalyKind: Anomaly] = [:]
    /// The records of copied kinds in the append being read: how many times each stream held each event.
    var copiesInAppend = CopiesInAppend()

    /// An event about an appointment, as its records are compared within an append: its type and
    /// a digest of its data bytes (which hold the appointment id and the time).
    struct CopyKey: Hashable, Sendable, Codable {
        var kind: UInt8
        var data: UInt64
    }

    /// How many records of one event one stream has held so far in the append being read.
    ///
    /// The decisions write an event about an appointment to several streams (the slot's and the
    /// applicant's; a reschedule to both slots' too): those copies are one event and are folded
    /// once. But two events with identical bytes in one append (a cancellation, a reinstatement
    /// and a second cancellation at the same instant; reschedules s1 → s2 → s1 → s2) are
    /// different events and are each folded. A stream never holds two copies of one event, so
    /// the n-th record of an event in a stream is its n-th occurrence: it is folded when no
    /// stream has yet held the event n times, and is a copy otherwise.
    struct CopyCount: Equatable, Sendable, Codable {
        var key: CopyKey
        /// `ProjectionSet.digest` of the stream name's bytes.
        var stream: UInt64
        var count: UInt32
    }

    /// A 64-bit digest of data or stream-name bytes, eight at a time (the fold's hot path): stable
    /// across processes, since checkpoints keep these keys. Not a defence against crafted
    /// collisions, which would only make the projections count a crafted event as a copy of
    /// another, or a crafted copy as a second event.
    static func digest(_ string: String) -> UInt64 {
        var string = string
        return string.withUTF8 { digest(UnsafeRawBufferPointer($0)) }
    }

    static func digest(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(bytes.count)
        var i = 0
        while i + 8 <= bytes.count {
            h = (h ^ UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            i += 8
        }
        while i < bytes.count {
            h = (h ^ UInt64(bytes[i])) &* 0x0000_0100_0000_01B3
            i += 1
        }
        return h
    }

    public init(thresholds: AbuseThresholds = AbuseThresholds()) {
        abuseSignals = AbuseSignals(thresholds: thresholds)
    }

    // MARK: Applying events

    /// Folds one event read from the journal. Returns the dossier step it made, if it was a dossier event.
    @discardableResult
    public mutating func apply(_ view: EventView) throws(ProjectionError) -> DossierHistoryEntry? {
        try apply(type: view.typeBytes, data: view.dataBytes, stream: view.streamBytes, id: view.id, position: view.position,
                  recordedAtMicros: view.recordedAtMicros, endsAppend: view.endsAppend)?.entry
    }

    @discardableResult
    public mutating func apply(_ event: RecordedEvent) throws(ProjectionError) -> DossierHistoryEntry? {
        var type = event.type, stream = event.stream
        let result: Result<DossierHistoryEntry?, ProjectionError> = type.withUTF8 { typeBytes in
            stream.withUTF8 { streamBytes in
                event.data.withUnsafeBytes { data in
                    do throws(ProjectionError) {
                        return .success(try apply(type: UnsafeRawBufferPointer(typeBytes), data: data, stream: UnsafeRawBufferPointer(streamBytes),
                                                  id: event.id, position: event.position, recordedAtMicros: event.recordedAtMicros,
                                                  endsAppend: event.endsAppend)?.entry)
                    } catch { return .failure(error) }
                }
            }
        }
        return try result.get()
    }

    /// Folds an event the caller already decoded (a server that just committed it). `stream` is
    /// the stream it was written to: the copies of one event in the other streams of its append
    /// are recognised by it (`CopyCount`).
    @discardableResult
    public mutating func apply(_ event: DomainEvent, stream: String, id: UUID, position: UInt64, recordedAtMicros: Int64, endsAppend: Bool) throws(ProjectionError) -> DossierHistoryEntry? {
        guard position == self.position else { throw .outOfOrder(expected: self.position, got: position) }
        let kind = EventKind.allCases.first { $0.typeName == event.typeName }!
        let copied = kind.isCopiedAcrossStreams
        let digest = copied ? event.encodedData().withUnsafeBytes { Self.digest($0) } : 0
        return fold(kind, Fact(event), data: digest, stream: copied ? Self.digest(stream) : 0, id: id, position: position,
                    recordedAtMicros: recordedAtMicros, endsAppend: endsAppend)?.entry
    }

    /// The offline rebuild's `apply`: the second copy of an event written to two streams in one
    /// append is counted without being read again (see `CopyDetector`).
    mutating func apply(_ view: EventView, copies: inout CopyDetector, reader: FactReader) throws(ProjectionError) -> FoldedStep? {
        let type = view.typeBytes, data = view.dataBytes
        let kind = reader.kind(named: type)
        // The same bytes as the record before it: the same event, or a repeat of it in this stream.
        if let kind, view.position == position, copies.isCopy(kind, data),
           case let key = CopyKey(kind: kind.rawValue, data: Self.digest(data)), case let stream = Self.digest(view.streamBytes),
           isCopy(key, stream: stream) {
            _ = countRecord(key, stream: stream)
            kindCounts[Int(kind.rawValue)] += 1
            advance(recordedAtMicros: view.recordedAtMicros, endsAppend: view.endsAppend)
            copies.remember(kind, data, endsAppend: view.endsAppend)
            return nil
        }
        let step = try apply(kind: kind, type: type, data: data, stream: view.streamBytes, id: view.id, position: view.position,
                             recordedAtMicros: view.recordedAtMicros, endsAppend: view.endsAppend, reader: reader)
        copies.remember(kind, data, endsAppend: view.endsAppend)
        return step
    }

    mutating func apply(type: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer, stream: UnsafeRawBufferPointer, id: UUID, position: UInt64,
                        recordedAtMicros: Int64, endsAppend: Bool) throws(ProjectionError) -> FoldedStep? {
        let reader = FactReader()
        return try apply(kind: reader.kind(named: type), type: type, data: data, stream: stream, id: id, position: position,
                         recordedAtMicros: recordedAtMicros, endsAppend: endsAppend, reader: reader)
    }

    /// `kind` is `reader.kind(named: type)`; `stream` the name of the stream the record is in.
    private mutating func apply(kind: EventKind?, type: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer, stream: UnsafeRawBufferPointer, id: UUID, position: UInt64,
                                recordedAtMicros: Int64, endsAppend: Bool, reader: FactReader) throws(ProjectionError) -> FoldedStep? {
        guard position == self.position else { throw .outOfOrder(expected: self.position, got: position) }
        guard let kind else {
            countForeign(String(decoding: type, as: UTF8.self))
            note(.foreignEventType, position: position, id: id)
            advance(recordedAtMicros: recordedAtMicros, endsAppend: endsAppend)
            return nil
        }
        let fact: Fact
        if let read = reader.read(kind, data) {
            fact = read
        } else {
            // Not in the exact current shape: an older schema version, escaped strings, or damage.
            do {
                fact = Fact(try DomainEvent.decode(type: kind.typeName, data: Array(data), eventIndex: 0))
            } catch {
                throw .invalidEvent(position: position, eventId: id, type: kind.typeName, problem: error.description)
            }
        }
        let copied = kind.isCopiedAcrossStreams
        return fold(kind, fact, data: copied ? Self.digest(data) : 0, stream: copied ? Self.digest(stream) : 0, id: id, position: position,
                    recordedAtMicros: recordedAtMicros, endsAppend: endsAppend)
    }

    /// Counts a catalogue event whose data does not decode (`apply` threw `invalidEvent` for it)
    /// as an anomaly and moves past it: a live reader must not stop at one bad event that
    /// `registre import`, which does not judge the domain, let in. (Offline, `project` stops
    /// there and names it; the audit reports it.)
    public mutating func skipUndecodable(_ view: EventView) {
        guard view.position == position else { return }
        note(.undecodableEvent, position: view.position, id: view.id)
        advance(recordedAtMicros: view.recordedAtMicros, endsAppend: view.endsAppend)
    }

    /// Counts an event of a type outside the catalogue under its name while fewer than
    /// `maximumForeignTypeNames` are named, else under `otherForeignTypes`.
    private mutating func countForeign(_ name: String) {
        let named = foreignTypes.count - (foreignTypes[Self.otherForeignTypes] == nil ? 0 : 1)
        if foreignTypes[name] != nil || named < Self.maximumForeignTypeNames {
            foreignTypes[name, default: 0] += 1
        } else {
            foreignTypes[Self.otherForeignTypes, default: 0] += 1
        }
    }

    private mutating func advance(recordedAtMicros: Int64, endsAppend: Bool) {
        position += 1
        lastRecordedAtMicros = recordedAtMicros
        if endsAppend, !copiesInAppend.isEmpty { copiesInAppend.removeAll() }
    }

    private func isCopy(_ key: CopyKey, stream: UInt64) -> Bool { copiesInAppend.isCopy(key, stream: stream) }

    private mutating func countRecord(_ key: CopyKey, stream: UInt64) -> Bool { copiesInAppend.count(key, stream: stream) }

    private mutating func fold(_ kind: EventKind, _ fact: Fact, data: UInt64, stream: UInt64, id: UUID, position: UInt64, recordedAtMicros: Int64, endsAppend: Bool) -> FoldedStep? {
        defer { advance(recordedAtMicros: recordedAtMicros, endsAppend: endsAppend) }
        kindCounts[Int(kind.rawValue)] += 1
        if kind.isCopiedAcrossStreams, countRecord(CopyKey(kind: kind.rawValue, data: data), stream: stream) { return nil }
        folding: switch fact {
        case .slotPublished(let ref, let motif, let category, let start, let capacity, let release, let at):
            if slotAvailability.publish(ref, motif: motif, category: category, start: start, capacity: capacity, release: release, at: at, position: position) == nil {
                note(.slotPublishedTwice, position: position, id: id)
            }
        case .slotWithdrawn(let ref, let at):
            guard let slot = slotAvailability.slot(ref) else { note(.unknownSlot, position: position, id: id); break }
            slotAvailability.withdraw(slot, at: at)
        case .booked(let appointment, let identity, let ref, _, let category, let start, let fingerprint, let at):
            book(appointment, identity: identity, ref: ref, category: category, start: start, fingerprint: fingerprint, at: at, id: id, position: position)
        case .rescheduled(let appointment, _, let to, _, _):
            guard let a = appointments.recentPosition(of: appointment).map(Int.init) else { note(.unknownAppointment, position: position, id: id); break }
            guard appointments.appointments[a].status == .active else { note(.appointmentNotActive, position: position, id: id); break }
            let old = appointments.appointments[a].slot
            if old >= 0 { slotAvailability.free(old) }
            let new = slotAvailability.slot(to) ?? -1
            if new >= 0 { take(new, at: fact.time, isNewBooking: false, position: position, id: id) } else { note(.unknownSlot, position: position, id: id) }
            appointments.appointments[a].slot = new
        case .cancelled(let appointment, _, let byService, let at):
            guard let a = appointments.recentPosition(of: appointment).map(Int.init) else { note(.unknownAppointment, position: position, id: id); break }
            guard appointments.appointments[a].status == .active else { note(.appointmentNotActive, position: position, id: id); break }
            appointments.appointments[a].status = .cancelled
            let entry = appointments.appointments[a]
            if entry.slot >= 0 { slotAvailability.free(entry.slot) }
            let c = Int(entry.client)
            if byService {
                abuseSignals.clients[c].cancelledByService += 1
            } else {
                abuseSignals.clients[c].cancelledByApplicant += 1
                if entry.churnEvent == nil, at - entry.bookedAt <= abuseSignals.thresholds.churnWindowSeconds * 1000 {
                    abuseSignals.clients[c].churned += 1
                    appointments.appointments[a].churnEvent = id
                }
            }
        case .reinstated(let appointment, _, let at):
            guard let a = appointments.recentPosition(of: appointment).map(Int.init) else { note(.unknownAppointment, position: position, id: id); break }
            guard appointments.appointments[a].status == .cancelled else { note(.appointmentNotCancelled, position: position, id: id); break }
            appointments.appointments[a].status = .active
            let slot = appointments.appointments[a].slot
            if slot >= 0 { take(slot, at: at, isNewBooking: false, position: position, id: id) }
        case .attended(let appointment, _, _), .noShow(let appointment, _):
            guard let a = appointments.recentPosition(of: appointment).map(Int.init) else { note(.unknownAppointment, position: position, id: id); break }
            // Only an appointment holding its place is attended or missed (the holder may come
            // after an impostor: attended again). A cancelled one's place was given back, so
            // its slot's places booked are exactly the appointments holding one (a checkpoint
            // is checked against that).
            switch appointments.appointments[a].status {
            case .active, .attended: break
            case .cancelled, .noShow: note(.appointmentNotActive, position: position, id: id); break folding
            }
            if case .attended = fact { appointments.appointments[a].status = .attended } else { appointments.appointments[a].status = .noShow }
        case .identityMismatch(let appointment, _):
            guard let a = appointments.recentPosition(of: appointment).map(Int.init) else { note(.unknownAppointment, position: position, id: id); break }
            guard appointments.appointments[a].mismatchEvent == nil else { break }
            appointments.appointments[a].mismatchEvent = id
            abuseSignals.clients[Int(appointments.appointments[a].client)].mismatches += 1
        case .dossierSubmitted(let dossier, let category, let dossierKind, let channel, let site, let at):
            guard dossierBoard.submit(dossier, category: category, kind: dossierKind, channel: channel, site: site, at: at, position: position) else {
                note(.dossierSubmittedTwice, position: position, id: id)
                return nil
            }
            return FoldedStep(dossierId: dossier, position: position, eventId: id, kind: kind, statusAfter: .submitted,
                               occurredAtMillis: at, recordedAtMicros: recordedAtMicros)
        case .dossierStep(let dossier, let stepKind, let decision, let at):
            guard let after = dossierBoard.step(dossier, kind: stepKind, decision: decision, at: at, position: position) else {
                note(.unknownDossier, position: position, id: id)
                return nil
            }
            if let completed = after.completedAt {
                if stepKind == .decisionRecorded {
                    delayStatistics.record(.completeToDecision, category: after.category, site: after.site, from: completed, to: at)
                } else if stepKind == .permitAvailable {
                    delayStatistics.record(.completeToAvailable, category: after.category, site: after.site, from: completed, to: at)
                }
            }
            return FoldedStep(dossierId: dossier, position: position, eventId: id, kind: kind, statusAfter: after.status,
                               occurredAtMillis: at, recordedAtMicros: recordedAtMicros)
        case .attemptsRejected(let fingerprint, let count, let at):
            let c = abuseSignals.client(fingerprint, at: at)
            abuseSignals.clients[Int(c)].rejectedAttempts += Int64(count)
            abuseSignals.clients[Int(c)].rejectedEvents += 1
            abuseSignals.evidence(c, .rejectedAttempts, id)
        case .rateLimited(let fingerprint, let at):
            let c = abuseSignals.client(fingerprint, at: at)
            abuseSignals.clients[Int(c)].rateLimits += 1
            abuseSignals.evidence(c, .rateLimited, id)
        case .duplicateBooking(let fingerprint, let at):
            let c = abuseSignals.client(fingerprint, at: at)
            abuseSignals.clients[Int(c)].duplicates += 1
            abuseSignals.evidence(c, .duplicateBooking, id)
        case .flagged(let fingerprint, _, let at):
            let c = abuseSignals.client(fingerprint, at: at)
            abuseSignals.clients[Int(c)].flagsRecorded += 1
            abuseSignals.evidence(c, .flaggedByService, id)
        }
        return nil
    }

    private mutating func book(_ appointment: UUID, identity: HashKey, ref: SlotRef, category: Domain.Category, start: Int64,
                               fingerprint: HashKey, at: Int64, id: UUID, position: UInt64) {
        guard appointments.position(of: appointment) == nil else { note(.appointmentBookedTwice, position: position, id: id); return }
        let client = abuseSignals.client(fingerprint, at: at)
        let slot = slotAvailability.slot(ref) ?? -1
        var release: Int32? = nil
        var sniped = false
        if slot >= 0 {
            let r = slotAvailability.slots[Int(slot)].release
            release = r
            sniped = at - slotAvailability.releases[Int(r)].openedAt <= abuseSignals.thresholds.snipeWindowSeconds * 1000
            take(slot, at: at, isNewBooking: true, position: position, id: id)
        } else {
            note(.unknownSlot, position: position, id: id)
        }
        if abuseSignals.booked(client: client, identity: identity, release: release, sniped: sniped), let release {
            slotAvailability.releases[Int(release)].distinctFingerprints += 1
        }
        delayStatistics.record(.bookingToAppointment, category: category, site: ref.site, from: at, to: start)
        appointments.append(.init(id: appointment, slot: slot, client: client, status: .active, bookedAt: at,
                                               bookingEvent: id, sniped: sniped, churnEvent: nil, mismatchEvent: nil))
    }

    private mutating func take(_ slot: Int32, at: Int64, isNewBooking: Bool, position: UInt64, id: UUID) {
        slotAvailability.take(slot, at: at, isNewBooking: isNewBooking)
        let s = slotAvailability.slots[Int(slot)]
        if s.booked > s.capacity { note(.overbooked, position: position, id: id) }
        if s.withdrawnAt != nil { note(.bookingInWithdrawnSlot, position: position, id: id) }
    }

    private mutating func note(_ kind: AnomalyKind, position: UInt64, id: UUID) {
        if anomalyTable[kind] == nil {
            anomalyTable[kind] = Anomaly(kind: kind, count: 0, firstPosition: position, firstEventId: id)
        }
        anomalyTable[kind]!.count += 1
    }

    // MARK: Queries

    public func freeSlots(site: Site, category: Domain.Category, from: Date, to: Date) -> [FreeSlot] {
        slotAvailability.freeSlots(site: site, category: category, from: from, to: to)
    }

    public func slotDays(site: Site? = nil, category: Domain.Category? = nil) -> [SlotDay] {
        slotAvailability.days(site: site, category: category)
    }

    public func releases() -> [ReleaseSummary] { slotAvailability.releaseSummaries() }

    public func dossier(id: UUID) -> DossierSummary? { dossierBoard.dossier(id: id) }

    public func dossiers(state: DossierStatus) -> [DossierSummary] { dossierBoard.dossiers(state: state) }

    public func dossierCounts() -> [DossierCount] { dossierBoard.counts() }

    public func backlog() -> [BacklogDay] { dossierBoard.backlog() }

    public func pastImplicitRejectionDeadline(at time: Date) -> [DossierSummary] { dossierBoard.pastImplicitRejectionDeadline(at: time) }

    public func delays(groupBy grouping: DelayGrouping) -> [DelayRow] { delayStatistics.delays(groupBy: grouping) }

    /// The flagged fingerprints, most suspicious first.
    public func abuseRanking(limit: Int = 100) -> [FingerprintSignals] {
        Array(abuseSignals.ranking(appointments: appointments).prefix { $0.rank != nil }.prefix(max(0, limit)))
    }

    /// Every fingerprint seen, flagged or not, the flagged first.
    public func allFingerprints() -> [FingerprintSignals] { abuseSignals.ranking(appointments: appointments) }

    public func fingerprint(_ fingerprint: Fingerprint) -> FingerprintSignals? {
        abuseSignals.fingerprint(fingerprint, appointments: appointments)
    }

    /// What the journal said that its own rules forbid, or that the projections could not place.
    public func anomalies() -> [Anomaly] { anomalyTable.values.sorted { $0.firstPosition < $1.firstPosition } }

    /// Events folded per type name (each copy of a multi-stream event counts). Types outside the
    /// catalogue past the first 1,000 names are counted together under `otherForeignTypes`.
    public func eventCounts() -> [String: UInt64] {
        var out = foreignTypes
        for kind in EventKind.allCases where kindCounts[Int(kind.rawValue)] > 0 { out[kind.typeName] = kindCounts[Int(kind.rawValue)] }
        return out
    }

    /// How many of each entity the state holds, counted without building any answer (for summaries).
    public var sizes: (slots: Int, releases: Int, appointments: Int, dossiers: Int, fingerprints: Int, flaggedFingerprints: Int) {
        (slotAvailability.slots.count, slotAvailability.releases.count, appointments.count, dossierBoard.dossiers.count,
         abuseSignals.clients.count, abuseSignals.clients.reduce(0) { $0 + (abuseSignals.flags($1).isEmpty ? 0 : 1) })
    }

    /// Live entities held: slots, releases, appointments, dossiers and fingerprints.
    public var entityCount: Int {
        slotAvailability.slots.count + slotAvailability.releases.count + appointments.count + dossierBoard.dossiers.count + abuseSignals.clients.count
    }
}

/// Something the journal holds that its rules forbid, counted rather than thrown: the projections
/// fold what the journal says, and the audit (`RuleChecker`) explains why it is wrong.
public enum AnomalyKind: String, Sendable, Codable, CaseIterable {
    case foreignEventType = "foreign-event-type"
    case slotPublishedTwice = "slot-published-twice"
    case unknownSlot = "unknown-slot"
    case unknownAppointment = "unknown-appointment"
    case appointmentBookedTwice = "appointment-booked-twice"
    case appointmentNotActive = "appointment-not-active"
    case appointmentNotCancelled = "appointment-not-cancelled"
    case overbooked = "overbooked"
    case bookingInWithdrawnSlot = "booking-in-withdrawn-slot"
    case dossierSubmittedTwice = "dossier-submitted-twice"
    case unknownDossier = "unknown-dossier"
    case undecodableEvent = "undecodable-event"
}

public struct Anomaly: Sendable, Codable, Equatable {
    public var kind: AnomalyKind
    public var count: Int
    public var firstPosition: UInt64
    public var firstEventId: UUID
}

/// One step of a dossier's history, as the fold makes it: a `DossierHistoryEntry` has a type
/// name and a `Date`, built only for whoever asks (most steps of a rebuild go nowhere, and
/// the name is a cross-module global, a call per dossier event).
struct FoldedStep {
    var dossierId: UUID
    var position: UInt64
    var eventId: UUID
    var kind: EventKind
    var statusAfter: DossierStatus
    var occurredAtMillis: Int64
    var recordedAtMicros: Int64

    var entry: DossierHistoryEntry {
        DossierHistoryEntry(dossierId: dossierId, position: position, eventId: eventId, type: kind.typeName, statusAfter: statusAfter,
                            occurredAt: Millis.date(occurredAtMillis), recordedAtMicros: recordedAtMicros)
    }
}

/// One step of a dossier's history.
public struct DossierHistoryEntry: Sendable, Codable, Equatable {
    public var dossierId: UUID
    public var position: UInt64
    public var eventId: UUID
    public var type: String
    public var statusAfter: DossierStatus
    public var occurredAt: Date
    public var recordedAtMicros: Int64
}

extension Fact {
    var time: Int64 {
        switch self {
        case .slotPublished(_, _, _, _, _, _, let at), .slotWithdrawn(_, let at), .booked(_, _, _, _, _, _, _, let at),
             .rescheduled(_, _, _, _, let at), .cancelled(_, _, _, let at), .reinstated(_, _, let at), .attended(_, _, let at),
             .noShow(_, let at), .identityMismatch(_, let at), .dossierSubmitted(_, _, _, _, _, let at), .dossierStep(_, _, _, let at),
             .attemptsRejected(_, _, let at), .rateLimited(_, let at), .duplicateBooking(_, let at), .flagged(_, _, let at): at
        }
    }
}
