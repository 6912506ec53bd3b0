// The closed union of the catalogue; see docs/EVENTS.md.
import Foundation

/// Every event of the catalogue, version 1.
///
/// A closed enum rather than a protocol so that a `switch` in the rules and projections is checked
/// for exhaustiveness when the catalogue grows.
public enum DomainEvent: Sendable, Hashable {
    case slotPublished(SlotPublished)
    case slotWithdrawn(SlotWithdrawn)
    case appointmentBooked(AppointmentBooked)
    case appointmentRescheduled(AppointmentRescheduled)
    case appointmentCancelledByApplicant(AppointmentCancelledByApplicant)
    case appointmentCancelledByService(AppointmentCancelledByService)
    case appointmentReinstated(AppointmentReinstated)
    case appointmentAttended(AppointmentAttended)
    case appointmentNoShow(AppointmentNoShow)
    case identityMismatchAtCounter(IdentityMismatchAtCounter)
    case dossierSubmitted(DossierSubmitted)
    case documentsRequested(DocumentsRequested)
    case documentsReceived(DocumentsReceived)
    case dossierDeclaredComplete(DossierDeclaredComplete)
    case provisionalPermitIssued(ProvisionalPermitIssued)
    case biometricsCaptured(BiometricsCaptured)
    case consultationRequested(ConsultationRequested)
    case consultationAnswered(ConsultationAnswered)
    case decisionRecorded(DecisionRecorded)
    case permitProductionOrdered(PermitProductionOrdered)
    case permitAvailable(PermitAvailable)
    case permitHandedOver(PermitHandedOver)
    case dossierWithdrawn(DossierWithdrawn)
    case dossierClosedForNoFollowUp(DossierClosedForNoFollowUp)
    case implicitRejectionDeadlineReached(ImplicitRejectionDeadlineReached)
    case bookingAttemptsRejected(BookingAttemptsRejected)
    case rateLimitTriggered(RateLimitTriggered)
    case duplicateBookingDetected(DuplicateBookingDetected)
    case bookingFlagged(BookingFlagged)

    /// Every event type name, as the journal stores it.
    public static let allTypeNames: [String] = [SlotPublished.typeName, SlotWithdrawn.typeName, AppointmentBooked.typeName, AppointmentRescheduled.typeName, AppointmentCancelledByApplicant.typeName, AppointmentCancelledByService.typeName, AppointmentReinstated.typeName, AppointmentAttended.typeName, AppointmentNoShow.typeName, IdentityMismatchAtCounter.typeName, DossierSubmitted.typeName, DocumentsRequested.typeName, DocumentsReceived.typeName, DossierDeclaredComplete.typeName, ProvisionalPermitIssued.typeName, BiometricsCaptured.typeName, ConsultationRequested.typeName, ConsultationAnswered.typeName, DecisionRecorded.typeName, PermitProductionOrdered.typeName, PermitAvailable.typeName, PermitHandedOver.typeName, DossierWithdrawn.typeName, DossierClosedForNoFollowUp.typeName, ImplicitRejectionDeadlineReached.typeName, BookingAttemptsRejected.typeName, RateLimitTriggered.typeName, DuplicateBookingDetected.typeName, BookingFlagged.typeName]

    /// The journal's event type string.
    public var typeName: String {
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

    /// Business time, on which every time rule is judged.
    public var occurredAt: Date {
        switch self {
        case .slotPublished(let event): event.occurredAt
        case .slotWithdrawn(let event): event.occurredAt
        case .appointmentBooked(let event): event.occurredAt
        case .appointmentRescheduled(let event): event.occurredAt
        case .appointmentCancelledByApplicant(let event): event.occurredAt
        case .appointmentCancelledByService(let event): event.occurredAt
        case .appointmentReinstated(let event): event.occurredAt
        case .appointmentAttended(let event): event.occurredAt
        case .appointmentNoShow(let event): event.occurredAt
        case .identityMismatchAtCounter(let event): event.occurredAt
        case .dossierSubmitted(let event): event.occurredAt
        case .documentsRequested(let event): event.occurredAt
        case .documentsReceived(let event): event.occurredAt
        case .dossierDeclaredComplete(let event): event.occurredAt
        case .provisionalPermitIssued(let event): event.occurredAt
        case .biometricsCaptured(let event): event.occurredAt
        case .consultationRequested(let event): event.occurredAt
        case .consultationAnswered(let event): event.occurredAt
        case .decisionRecorded(let event): event.occurredAt
        case .permitProductionOrdered(let event): event.occurredAt
        case .permitAvailable(let event): event.occurredAt
        case .permitHandedOver(let event): event.occurredAt
        case .dossierWithdrawn(let event): event.occurredAt
        case .dossierClosedForNoFollowUp(let event): event.occurredAt
        case .implicitRejectionDeadlineReached(let event): event.occurredAt
        case .bookingAttemptsRejected(let event): event.occurredAt
        case .rateLimitTriggered(let event): event.occurredAt
        case .duplicateBookingDetected(let event): event.occurredAt
        case .bookingFlagged(let event): event.occurredAt
        }
    }

    /// The same event at another business time: the server judges a live write's time rules
    /// on its own clock as well as on the time the client gave (a cancellation dated a minute
    /// earlier must not pass a cut-off that has passed).
    public func retimed(to time: Date) -> DomainEvent {
        switch self {
        case .slotPublished(var event): event.occurredAt = time; return .slotPublished(event)
        case .slotWithdrawn(var event): event.occurredAt = time; return .slotWithdrawn(event)
        case .appointmentBooked(var event): event.occurredAt = time; return .appointmentBooked(event)
        case .appointmentRescheduled(var event): event.occurredAt = time; return .appointmentRescheduled(event)
        case .appointmentCancelledByApplicant(var event): event.occurredAt = time; return .appointmentCancelledByApplicant(event)
        case .appointmentCancelledByService(var event): event.occurredAt = time; return .appointmentCancelledByService(event)
        case .appointmentReinstated(var event): event.occurredAt = time; return .appointmentReinstated(event)
        case .appointmentAttended(var event): event.occurredAt = time; return .appointmentAttended(event)
        case .appointmentNoShow(var event): event.occurredAt = time; return .appointmentNoShow(event)
        case .identityMismatchAtCounter(var event): event.occurredAt = time; return .identityMismatchAtCounter(event)
        case .dossierSubmitted(var event): event.occurredAt = time; return .dossierSubmitted(event)
        case .documentsRequested(var event): event.occurredAt = time; return .documentsRequested(event)
        case .documentsReceived(var event): event.occurredAt = time; return .documentsReceived(event)
        case .dossierDeclaredComplete(var event): event.occurredAt = time; return .dossierDeclaredComplete(event)
        case .provisionalPermitIssued(var event): event.occurredAt = time; return .provisionalPermitIssued(event)
        case .biometricsCaptured(var event): event.occurredAt = time; return .biometricsCaptured(event)
        case .consultationRequested(var event): event.occurredAt = time; return .consultationRequested(event)
        case .consultationAnswered(var event): event.occurredAt = time; return .consultationAnswered(event)
        case .decisionRecorded(var event): event.occurredAt = time; return .decisionRecorded(event)
        case .permitProductionOrdered(var event): event.occurredAt = time; return .permitProductionOrdered(event)
        case .permitAvailable(var event): event.occurredAt = time; return .permitAvailable(event)
        case .permitHandedOver(var event): event.occurredAt = time; return .permitHandedOver(event)
        case .dossierWithdrawn(var event): event.occurredAt = time; return .dossierWithdrawn(event)
        case .dossierClosedForNoFollowUp(var event): event.occurredAt = time; return .dossierClosedForNoFollowUp(event)
        case .implicitRejectionDeadlineReached(var event): event.occurredAt = time; return .implicitRejectionDeadlineReached(event)
        case .bookingAttemptsRejected(var event): event.occurredAt = time; return .bookingAttemptsRejected(event)
        case .rateLimitTriggered(var event): event.occurredAt = time; return .rateLimitTriggered(event)
        case .duplicateBookingDetected(var event): event.occurredAt = time; return .duplicateBookingDetected(event)
        case .bookingFlagged(var event): event.occurredAt = time; return .bookingFlagged(event)
        }
    }

    var payload: any EventPayload {
        switch self {
        case .slotPublished(let event): event
        case .slotWithdrawn(let event): event
        case .appointmentBooked(let event): event
        case .appointmentRescheduled(let event): event
        case .appointmentCancelledByApplicant(let event): event
        case .appointmentCancelledByService(let event): event
        case .appointmentReinstated(let event): event
        case .appointmentAttended(let event): event
        case .appointmentNoShow(let event): event
        case .identityMismatchAtCounter(let event): event
        case .dossierSubmitted(let event): event
        case .documentsRequested(let event): event
        case .documentsReceived(let event): event
        case .dossierDeclaredComplete(let event): event
        case .provisionalPermitIssued(let event): event
        case .biometricsCaptured(let event): event
        case .consultationRequested(let event): event
        case .consultationAnswered(let event): event
        case .decisionRecorded(let event): event
        case .permitProductionOrdered(let event): event
        case .permitAvailable(let event): event
        case .permitHandedOver(let event): event
        case .dossierWithdrawn(let event): event
        case .dossierClosedForNoFollowUp(let event): event
        case .implicitRejectionDeadlineReached(let event): event
        case .bookingAttemptsRejected(let event): event
        case .rateLimitTriggered(let event): event
        case .duplicateBookingDetected(let event): event
        case .bookingFlagged(let event): event
        }
    }

    /// The streams this event may be appended to; the first of its kind in the list is where the decisions put it.
    public var homes: StreamHomes {
        switch self {
        case .slotPublished(let event): event.homes
        case .slotWithdrawn(let event): event.homes
        case .appointmentBooked(let event): event.homes
        case .appointmentRescheduled(let event): event.homes
        case .appointmentCancelledByApplicant(let event): event.homes
        case .appointmentCancelledByService(let event): event.homes
        case .appointmentReinstated(let event): event.homes
        case .appointmentAttended(let event): event.homes
        case .appointmentNoShow(let event): event.homes
        case .identityMismatchAtCounter(let event): event.homes
        case .dossierSubmitted(let event): event.homes
        case .documentsRequested(let event): event.homes
        case .documentsReceived(let event): event.homes
        case .dossierDeclaredComplete(let event): event.homes
        case .provisionalPermitIssued(let event): event.homes
        case .biometricsCaptured(let event): event.homes
        case .consultationRequested(let event): event.homes
        case .consultationAnswered(let event): event.homes
        case .decisionRecorded(let event): event.homes
        case .permitProductionOrdered(let event): event.homes
        case .permitAvailable(let event): event.homes
        case .permitHandedOver(let event): event.homes
        case .dossierWithdrawn(let event): event.homes
        case .dossierClosedForNoFollowUp(let event): event.homes
        case .implicitRejectionDeadlineReached(let event): event.homes
        case .bookingAttemptsRejected(let event): event.homes
        case .rateLimitTriggered(let event): event.homes
        case .duplicateBookingDetected(let event): event.homes
        case .bookingFlagged(let event): event.homes
        }
    }

    /// How many streams an event of `type` lives in (its `homes.count`), known from the type alone:
    /// 2 for a booking, a cancellation or a reinstatement (the slot's and the applicant's), 3 for a
    /// reschedule (both slots and the applicant's), 1 for any other type of the catalogue; nil for
    /// a type outside it. For readers that must keep an event's copies together without decoding it.
    public static func homeCount(ofType type: String) -> Int? {
        switch type {
        case AppointmentBooked.typeName, AppointmentCancelledByApplicant.typeName, AppointmentCancelledByService.typeName,
             AppointmentReinstated.typeName: 2
        case AppointmentRescheduled.typeName: 3
        default: readers[type] == nil ? nil : 1
        }
    }

    /// How one type name is read, including older schema versions.
    ///
    /// A struct around the closure rather than the bare closure: a closure kept in a collection
    /// is stored in its most general form, and taking one out wrapped it in a freshly allocated
    /// reabstraction thunk, once per event replayed.
    struct Reader: Sendable {
        let read: @Sendable (inout FieldReader, Int) -> DomainEvent?
    }

    static let readers: [String: Reader] = [
        SlotPublished.typeName: Reader { SlotPublished.read(&$0, schemaVersion: $1)?.domainEvent },
        SlotWithdrawn.typeName: Reader { SlotWithdrawn.read(&$0, schemaVersion: $1)?.domainEvent },
        AppointmentBooked.typeName: Reader { AppointmentBooked.read(&$0, schemaVersion: $1)?.domainEvent },
        AppointmentRescheduled.typeName: Reader { AppointmentRescheduled.read(&$0, schemaVersion: $1)?.domainEvent },
        AppointmentCancelledByApplicant.typeName: Reader { AppointmentCancelledByApplicant.read(&$0, schemaVersion: $1)?.domainEvent },
        AppointmentCancelledByService.typeName: Reader { AppointmentCancelledByService.read(&$0, schemaVersion: $1)?.domainEvent },
        AppointmentReinstated.typeName: Reader { AppointmentReinstated.read(&$0, schemaVersion: $1)?.domainEvent },
        AppointmentAttended.typeName: Reader { AppointmentAttended.read(&$0, schemaVersion: $1)?.domainEvent },
        AppointmentNoShow.typeName: Reader { AppointmentNoShow.read(&$0, schemaVersion: $1)?.domainEvent },
        IdentityMismatchAtCounter.typeName: Reader { IdentityMismatchAtCounter.read(&$0, schemaVersion: $1)?.domainEvent },
        DossierSubmitted.typeName: Reader { DossierSubmitted.read(&$0, schemaVersion: $1)?.domainEvent },
        DocumentsRequested.typeName: Reader { DocumentsRequested.read(&$0, schemaVersion: $1)?.domainEvent },
        DocumentsReceived.typeName: Reader { DocumentsReceived.read(&$0, schemaVersion: $1)?.domainEvent },
        DossierDeclaredComplete.typeName: Reader { DossierDeclaredComplete.read(&$0, schemaVersion: $1)?.domainEvent },
        ProvisionalPermitIssued.typeName: Reader { ProvisionalPermitIssued.read(&$0, schemaVersion: $1)?.domainEvent },
        BiometricsCaptured.typeName: Reader { BiometricsCaptured.read(&$0, schemaVersion: $1)?.domainEvent },
        ConsultationRequested.typeName: Reader { ConsultationRequested.read(&$0, schemaVersion: $1)?.domainEvent },
        ConsultationAnswered.typeName: Reader { ConsultationAnswered.read(&$0, schemaVersion: $1)?.domainEvent },
        DecisionRecorded.typeName: Reader { DecisionRecorded.read(&$0, schemaVersion: $1)?.domainEvent },
        PermitProductionOrdered.typeName: Reader { PermitProductionOrdered.read(&$0, schemaVersion: $1)?.domainEvent },
        PermitAvailable.typeName: Reader { PermitAvailable.read(&$0, schemaVersion: $1)?.domainEvent },
        PermitHandedOver.typeName: Reader { PermitHandedOver.read(&$0, schemaVersion: $1)?.domainEvent },
        DossierWithdrawn.typeName: Reader { DossierWithdrawn.read(&$0, schemaVersion: $1)?.domainEvent },
        DossierClosedForNoFollowUp.typeName: Reader { DossierClosedForNoFollowUp.read(&$0, schemaVersion: $1)?.domainEvent },
        ImplicitRejectionDeadlineReached.typeName: Reader { ImplicitRejectionDeadlineReached.read(&$0, schemaVersion: $1)?.domainEvent },
        BookingAttemptsRejected.typeName: Reader { BookingAttemptsRejected.read(&$0, schemaVersion: $1)?.domainEvent },
        RateLimitTriggered.typeName: Reader { RateLimitTriggered.read(&$0, schemaVersion: $1)?.domainEvent },
        DuplicateBookingDetected.typeName: Reader { DuplicateBookingDetected.read(&$0, schemaVersion: $1)?.domainEvent },
        BookingFlagged.typeName: Reader { BookingFlagged.read(&$0, schemaVersion: $1)?.domainEvent },
    ]
}
