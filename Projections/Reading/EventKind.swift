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

    private static let names: [(bytes: [UInt8], kind: EventKind)] = allCases.map { (Array($0.typeName.utf8), $0) }

    /// The kind whose type name is exactly `bytes`; `nil` for a type outside the catalogue.
    static func named(_ bytes: UnsafeRawBufferPointer) -> EventKind? {
        let count = bytes.count
        guard count > 0 else { return nil }
        let first = bytes[0], last = bytes[count - 1]
        for entry in names where entry.bytes.count == count && entry.bytes[0] == first && entry.bytes[count - 1] == last {
            let equal = entry.bytes.withUnsafeBytes { memcmp($0.baseAddress!, bytes.baseAddress!, count) == 0 }
            if equal { return entry.kind }
        }
        return nil
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
