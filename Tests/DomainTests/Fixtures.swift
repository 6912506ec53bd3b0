import Foundation
import Domain

/// Fixed identifiers and times, so that failures print values a person can compare.
enum Sample {
    static func time(_ text: String) -> Date {
        guard let date = UTCTime.parse(text) else { fatalError("bad sample time \(text)") }
        return date
    }

    static func uuid(_ n: Int) -> UUID {
        let hex = String(n, radix: 16)
        return UUID(uuidString: "00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex)!
    }

    static func hash(_ n: Int) -> Hash256 {
        let hex = String(n, radix: 16)
        return Hash256(hex: String(repeating: "a", count: 64 - hex.count) + hex)!
    }

    static func identity(_ n: Int) -> IdentityKey { IdentityKey(hash(n)) }
    static func fingerprint(_ n: Int) -> Fingerprint { Fingerprint(hash(0x100 + n)) }

    /// Tuesday 3 September 2024, 09:00 UTC: a release morning in the student season.
    static let releaseTime = time("2024-09-03T09:00:00Z")
    static let slotStart = time("2024-09-10T08:30:00Z")

    static func publication(
        slot n: Int = 1, site: Site = .grenoble, motif: Motif = .filing, category: Category = .student,
        start: Date = slotStart, capacity: Int = 2, at time: Date = releaseTime
    ) -> SlotPublished {
        SlotPublished(slotId: uuid(n), site: site, motif: motif, category: category, start: start,
                      durationMinutes: 20, counter: "guichet 3", capacity: capacity, releaseId: uuid(0x9000), occurredAt: time)
    }

    /// A slot state already holding its publication.
    static func publishedSlot(_ publication: SlotPublished = publication()) -> SlotState {
        var slot = SlotState(site: publication.site, slotId: publication.slotId)
        slot.apply(.slotPublished(publication))
        return slot
    }

    /// One event of every type, valid, used for round trips and for the catalogue's examples.
    static let everyEvent: [DomainEvent] = {
        let t = releaseTime
        let dossier = uuid(0xD1)
        return [
            .slotPublished(publication()),
            .slotWithdrawn(SlotWithdrawn(slotId: uuid(1), site: .grenoble, reason: .staffShortage, occurredAt: t)),
            .appointmentBooked(AppointmentBooked(appointmentId: uuid(0xA1), identityKey: identity(1), site: .grenoble, slotId: uuid(1),
                                                 motif: .filing, category: .student, start: slotStart, fingerprint: fingerprint(1), occurredAt: t)),
            .appointmentRescheduled(AppointmentRescheduled(appointmentId: uuid(0xA1), identityKey: identity(1), motif: .filing,
                                                           fromSite: .grenoble, fromSlotId: uuid(1), toSite: .vienne, toSlotId: uuid(2),
                                                           toStart: time("2024-09-12T13:00:00Z"), occurredAt: t)),
            .appointmentCancelledByApplicant(AppointmentCancelledByApplicant(appointmentId: uuid(0xA1), identityKey: identity(1), site: .grenoble, slotId: uuid(1), occurredAt: t)),
            .appointmentCancelledByService(AppointmentCancelledByService(appointmentId: uuid(0xA1), identityKey: identity(1), site: .grenoble, slotId: uuid(1), reason: .fraud, occurredAt: t)),
            .appointmentReinstated(AppointmentReinstated(appointmentId: uuid(0xA1), identityKey: identity(1), site: .grenoble, slotId: uuid(1), occurredAt: t)),
            .appointmentAttended(AppointmentAttended(appointmentId: uuid(0xA1), identityKey: identity(1), site: .grenoble, slotId: uuid(1), identityMatched: false, occurredAt: slotStart)),
            .appointmentNoShow(AppointmentNoShow(appointmentId: uuid(0xA1), identityKey: identity(1), site: .grenoble, slotId: uuid(1), occurredAt: slotStart)),
            .identityMismatchAtCounter(IdentityMismatchAtCounter(appointmentId: uuid(0xA1), identityKey: identity(1), site: .grenoble, slotId: uuid(1), presentedIdentityKey: identity(2), occurredAt: slotStart)),
            .dossierSubmitted(DossierSubmitted(dossierId: dossier, identityKey: identity(1), category: .student, kind: .first, channel: .online, site: .grenoble, occurredAt: t)),
            .documentsRequested(DocumentsRequested(dossierId: dossier, documents: ["proof-of-address", "enrolment-certificate"], dueBy: time("2024-10-03T00:00:00Z"), occurredAt: t)),
            .documentsReceived(DocumentsReceived(dossierId: dossier, documents: ["proof-of-address"], occurredAt: t)),
            .dossierDeclaredComplete(DossierDeclaredComplete(dossierId: dossier, occurredAt: t)),
            .provisionalPermitIssued(ProvisionalPermitIssued(dossierId: dossier, kind: .receipt, validFrom: t, validUntil: time("2024-12-03T00:00:00Z"), occurredAt: t)),
            .biometricsCaptured(BiometricsCaptured(dossierId: dossier, site: .grenoble, appointmentId: uuid(0xA2), occurredAt: t)),
            .consultationRequested(ConsultationRequested(dossierId: dossier, consultationId: uuid(0xC1), authority: .labour, occurredAt: t)),
            .consultationAnswered(ConsultationAnswered(dossierId: dossier, consultationId: uuid(0xC1), outcome: .favourable, occurredAt: t)),
            .decisionRecorded(DecisionRecorded(dossierId: dossier, outcome: .granted, occurredAt: t)),
            .permitProductionOrdered(PermitProductionOrdered(dossierId: dossier, occurredAt: t)),
            .permitAvailable(PermitAvailable(dossierId: dossier, site: .vienne, occurredAt: t)),
            .permitHandedOver(PermitHandedOver(dossierId: dossier, site: .vienne, appointmentId: nil, occurredAt: t)),
            .dossierWithdrawn(DossierWithdrawn(dossierId: dossier, occurredAt: t)),
            .dossierClosedForNoFollowUp(DossierClosedForNoFollowUp(dossierId: dossier, occurredAt: t)),
            .implicitRejectionDeadlineReached(ImplicitRejectionDeadlineReached(dossierId: dossier, occurredAt: t)),
            .bookingAttemptsRejected(BookingAttemptsRejected(fingerprint: fingerprint(1), minute: t, rule: .slotCapacityExceeded, count: 412, occurredAt: t.addingTimeInterval(60))),
            .rateLimitTriggered(RateLimitTriggered(fingerprint: fingerprint(1), windowSeconds: 60, limit: 30, observed: 912, occurredAt: t)),
            .duplicateBookingDetected(DuplicateBookingDetected(fingerprint: fingerprint(1), identityKey: identity(1), motif: .filing, existingAppointmentId: uuid(0xA1), occurredAt: t)),
            .bookingFlagged(BookingFlagged(fingerprint: fingerprint(1), appointmentId: uuid(0xA1), pattern: .manyIdentities, score: 0.92, evidenceEventIds: [uuid(0xE1), uuid(0xE2)], occurredAt: t)),
        ]
    }()
}

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}

func bytes(_ json: String) -> [UInt8] { Array(json.utf8) }

/// A journal in memory that honours expected versions the way the real one must, so that tests
/// can play commands, races included, without the storage engine.
struct MemoryJournal {
    private(set) var log: [(stream: String, event: DomainEvent)] = []
    private(set) var streams: [String: [DomainEvent]] = [:]

    enum AppendError: Error, Equatable { case wrongExpectedVersion(String) }

    mutating func append(_ plan: PlannedAppend) throws(AppendError) {
        for (stream, expected) in plan.expectedVersions {
            let count = streams[stream]?.count ?? 0
            let fits = switch expected {
            case .any: true
            case .noStream: count == 0
            case .streamExists: count > 0
            case .exact(let version): count > 0 && UInt64(count - 1) == version
            }
            guard fits else { throw .wrongExpectedVersion(stream) }
        }
        for planned in plan.events {
            streams[planned.stream, default: []].append(planned.event)
            log.append((planned.stream, planned.event))
        }
    }

    func slot(_ site: Site, _ slotId: UUID) -> SlotState {
        var state = SlotState(site: site, slotId: slotId)
        for event in streams[state.stream.description] ?? [] { state.apply(event) }
        return state
    }

    func applicant(_ identity: IdentityKey) -> ApplicantState {
        var state = ApplicantState(identityKey: identity)
        for event in streams[state.stream.description] ?? [] { state.apply(event) }
        return state
    }

    func dossier(_ id: UUID) -> DossierState {
        var state = DossierState(dossierId: id)
        for event in streams[state.stream.description] ?? [] { state.apply(event) }
        return state
    }

    /// Replays the log through a `RuleChecker`, as the audit would, from the encoded bytes.
    func replay(rules: RuleParameters = .standard) -> (checker: RuleChecker, violations: [RuleViolation]) {
        var checker = RuleChecker(rules: rules)
        var violations: [RuleViolation] = []
        for (position, entry) in log.enumerated() {
            violations += checker.check(stream: entry.stream, type: entry.event.typeName, data: entry.event.encodedData(), position: UInt64(position))
        }
        return (checker, violations)
    }
}
