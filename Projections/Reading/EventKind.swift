import Domain

/// The catalogue's event types, as the projections tell them apart from the journal's type bytes
/// without building a `String` per event.
enum EventKind: UInt8, CaseIterable, Sendable {
    case slotPublished, slotWithdrawn
    case appointmentBooked, appointmentRescheduled, appointmentCancelledByApplicant, appointmentCancelledByService
    case appointmentReinstated, appointmentAttended, appointmentNoShow, identityMismatchAtCounter
    case dossierSubmitted, documentsRequested, documentsReceived, dossierDeclaredComplete, provisionalPermitIssued
    case biometricsCaptured, consultationRequested, consultationAnswered, decisionRecorded, permitProductionOrdered
    case permitAvailable, permitHandedOver, dossierWithdrawn, dossierClosedForNoFollowUp, implicitRejectionDeadlineReached
    case bookingAttemptsRejected, rateLimitTriggered, duplicateBookingDetected, bookingFlagged

    var typeName: String {
        switch self {
        case .slotPublished: SlotPublished.typeName
        case .slotWithdrawn: SlotWithdrawn.typeName
        case .appointmentBooked: AppointmentBooked.typeName
        case .appointmentRescheduled: AppointmentRescheduled.typeName
        case .appointmentCancelledByApplicant: AppointmentCancelledByApplicant.typeName
        case .appointmentCancelledByService: AppointmentCancelledByService.typeName
        case .appointmentReinstated: AppointmentReinstated.typeName
        case .appointmentAttended: AppointmentAttended.typeName
        case .appointmentNoShow: AppointmentNoShow.typeName
        case .identityMismatchAtCounter: IdentityMismatchAtCounter.typeName
        case .dossierSubmitted: DossierSubmitted.typeName
        case .documentsRequested: DocumentsRequested.typeName
        case .documentsReceived: DocumentsReceived.typeName
        case .dossierDeclaredComplete: DossierDeclaredComplete.typeName
        case .provisionalPermitIssued: ProvisionalPermitIssued.typeName
        case .biometricsCaptured: BiometricsCaptured.typeName
        case .consultationRequested: ConsultationRequested.typeName
        case .consultationAnswered: ConsultationAnswered.typeName
        case .decisionRecorded: DecisionRecorded.typeName
        case .permitProductionOrdered: PermitProductionOrdered.typeName
        case .permitAvailable: PermitAvailable.typeName
        case .permitHandedOver: PermitHandedOver.typeName
        case .dossierWithdrawn: DossierWithdrawn.typeName
        case .dossierClosedForNoFollowUp: DossierClosedForNoFollowUp.typeName
        case .implicitRejectionDeadlineReached: ImplicitRejectionDeadlineReached.typeName
        case .bookingAttemptsRejected: BookingAttemptsRejected.typeName
        case .rateLimitTriggered: RateLimitTriggered.typeName
        case .duplicateBookingDetected: DuplicateBookingDetected.typeName
        case .bookingFlagged: BookingFlagged.typeName
        }
    }

    /// Events written to several streams in one append (a booking goes to the slot's stream and the
    /// applicant's). The projections count each such event once per append.
    var isCopiedAcrossStreams: Bool {
        switch self {
        case .appointmentBooked, .appointmentRescheduled, .appointmentCancelledByApplicant,
             .appointmentCancelledByService, .appointmentReinstated: true
        default: false
        }
    }

    /// Events of a dossier's stream: each one folded makes a step of its dossier's history.
    var isDossierEvent: Bool {
        (EventKind.dossierSubmitted.rawValue...EventKind.implicitRejectionDeadlineReached.rawValue).contains(rawValue)
    }

    /// The kind whose type name is exactly `bytes`; `nil` for a type outside the catalogue.
    static func named(_ bytes: UnsafeRawBufferPointer) -> EventKind? {
        CatalogueTables.shared.pointer.pointee.kinds.kind(named: bytes)
    }
}

/// Type names by a perfect hash of their length and first and last eight bytes (every name
/// is at least eight bytes long), found once: one probe and one `memcmp` per event instead of
/// a walk through the list. Plain memory, never freed (it lives in `CatalogueTables`), so a
/// lookup retains nothing.
struct EventKindLookup: @unchecked Sendable {
    let seed: UInt64
    /// Index into `EventKind.allCases` + 1 per slot, 0 where no name hashes.
    let slots: UnsafePointer<UInt8>
    /// The type names, each followed by a quote (`KeySet`'s layout; the quote is not compared).
    let names: KeySet

    static let slotBits = 7

    @inline(__always) static func slot(_ p: UnsafeRawPointer, _ count: Int, seed: UInt64) -> Int {
        let first = p.loadUnaligned(as: UInt64.self)
        let last = (p + count - 8).loadUnaligned(as: UInt64.self)
        let h = (first ^ (last &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(count)) &* seed
        return Int(truncatingIfNeeded: h >> UInt64(64 - slotBits))
    }

    init() {
        let names = EventKind.allCases.map { Array($0.typeName.utf8) }
        precondition(names.allSatisfy { $0.count >= 8 }, "every catalogue type name is at least 8 bytes")
        var seed: UInt64 = 0xD6E8_FEB8_6659_FD93
        while true {
            var slots = [UInt8](repeating: 0, count: 1 << Self.slotBits)
            var clash = false
            for (k, name) in names.enumerated() {
                let slot = name.withUnsafeBytes { Self.slot($0.baseAddress!, name.count, seed: seed) }
                if slots[slot] != 0 { clash = true; break }
                slots[slot] = UInt8(k + 1)
            }
            if !clash {
                self.seed = seed
                self.slots = UnsafePointer(Immortal.copy(slots))
                self.names = KeySet(EventKind.allCases.map(\.typeName))
                return
            }
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        }
    }

    @inline(__always) func kind(named bytes: UnsafeRawBufferPointer) -> EventKind? {
        let count = bytes.count
        guard count >= 8 else { return nil }
        let entry = slots[Self.slot(bytes.baseAddress!, count, seed: seed)]
        guard entry != 0, names.spells(Int(entry) - 1, bytes.baseAddress!, count) else { return nil }
        return EventKind(rawValue: entry - 1)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
