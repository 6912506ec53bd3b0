/// The stable name of each business rule, reported by the server when it refuses a command
/// and by the audit when it finds a breach in a journal. Renaming one breaks integrators.
public enum RuleName: String, ClosedSet {
    // Slots
    case slotCapacityExceeded = "slot.capacityExceeded"
    case slotNotPublished = "slot.notPublished"
    case slotAlreadyPublished = "slot.alreadyPublished"
    case slotWithdrawn = "slot.withdrawn"
    case slotAlreadyStarted = "slot.alreadyStarted"
    case slotHasActiveBookings = "slot.hasActiveBookings"
    case slotDetailsMismatch = "slot.detailsMismatch"
    /// Not a rule the state breaks: a booking that lost the race for its streams more times
    /// than the server decides again. Recorded as a refused attempt, because a bot hammering a
    /// release loses races by the thousand, and every attempt is on the record.
    case slotContended = "slot.contended"

    // Applicants and their appointments
    case oneActiveAppointmentPerMotif = "applicant.oneActiveAppointmentPerMotif"
    case appointmentAlreadyExists = "appointment.alreadyExists"
    /// An appointment id booked again for another applicant or slot: each stream checks ids
    /// only among its own, so only the whole history shows it (the audit reports it).
    case appointmentIdReused = "appointment.idReused"
    case appointmentUnknown = "appointment.unknown"
    case appointmentNotActive = "appointment.notActive"
    case appointmentNotCancelled = "appointment.notCancelled"
    /// The service's cancellations (fraud, a duplicate, a withdrawn slot) are not undone by a
    /// reinstatement: a bot's booking cancelled for fraud must not come back through the
    /// booking site. The service books again if it was wrong.
    case serviceCancellationIsFinal = "appointment.serviceCancellationIsFinal"
    case cancellationCutOffPassed = "appointment.cancellationCutOffPassed"
    case appointmentNotStartedYet = "appointment.notStartedYet"
    case rescheduleChangesMotif = "appointment.rescheduleChangesMotif"
    case rescheduleToSameSlot = "appointment.rescheduleToSameSlot"
    case mismatchWithoutFailedCheck = "appointment.mismatchWithoutFailedCheck"

    // Dossiers
    case dossierNotSubmitted = "dossier.notSubmitted"
    case dossierAlreadySubmitted = "dossier.alreadySubmitted"
    case dossierClosed = "dossier.closed"
    case dossierInvalidTransition = "dossier.invalidTransition"
    case permitAvailableBeforeGrant = "dossier.permitAvailableBeforeGrant"
    case handoverBeforeAvailable = "dossier.handoverBeforeAvailable"
    case followUpDeadlineNotReached = "dossier.followUpDeadlineNotReached"
    case implicitRejectionNotDue = "dossier.implicitRejectionNotDue"
    case implicitRejectionAlreadyRecorded = "dossier.implicitRejectionAlreadyRecorded"
    case consultationNotPending = "dossier.consultationNotPending"
    case consultationAlreadyRequested = "dossier.consultationAlreadyRequested"

    // Time and data
    case businessTimeTooFarFromServerClock = "clock.businessTimeTooFar"
    /// The event could not be decoded or validated; the violation carries the problems.
    case invalidEvent = "event.invalid"
    /// An event sits in a stream of the wrong kind or of another aggregate.
    case wrongStream = "event.wrongStream"
}
