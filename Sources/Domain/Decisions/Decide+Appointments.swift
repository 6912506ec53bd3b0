import Foundation

extension Decide {
    /// Books a place in `slot` for `applicant`: one event in the slot's stream and the same in the
    /// applicant's, each guarded by its expected version, so that two racing bookings of the last
    /// place (or of two places for one identity and motif) cannot both succeed.
    public static func book(
        _ appointmentId: UUID,
        in slot: SlotState,
        for applicant: ApplicantState,
        from fingerprint: Fingerprint,
        at time: Date
    ) throws(Rejection) -> PlannedAppend {
        guard let publication = slot.publication else {
            throw Rejection(.slotNotPublished, "slot \(slot.slotId.canonicalString) has not been published")
        }
        let event = DomainEvent.appointmentBooked(AppointmentBooked(
            appointmentId: appointmentId, identityKey: applicant.identityKey, site: slot.site, slotId: slot.slotId,
            motif: publication.motif, category: publication.category, start: publication.start,
            fingerprint: fingerprint, occurredAt: time
        ))
        try slot.check(event)
        try applicant.check(event)
        return try plan([
            (slot.stream, slot.expectedVersion, event),
            (applicant.stream, applicant.expectedVersion, event),
        ])
    }

    /// Moves an active appointment to another slot of the same motif, before the applicant's cut-off.
    public static func reschedule(
        _ appointmentId: UUID,
        of applicant: ApplicantState,
        from current: SlotState,
        to target: SlotState,
        at time: Date,
        rules: RuleParameters = .standard
    ) throws(Rejection) -> PlannedAppend {
        guard let appointment = applicant.appointments[appointmentId] else {
            throw Rejection(.appointmentUnknown, "this applicant has no appointment \(appointmentId.canonicalString)")
        }
        guard let publication = target.publication else {
            throw Rejection(.slotNotPublished, "slot \(target.slotId.canonicalString) has not been published")
        }
        guard publication.motif == appointment.motif else {
            throw Rejection(.rescheduleChangesMotif, "appointment \(appointmentId.canonicalString) is for \(appointment.motif.rawValue); slot \(target.slotId.canonicalString) is for \(publication.motif.rawValue)")
        }
        let event = DomainEvent.appointmentRescheduled(AppointmentRescheduled(
            appointmentId: appointmentId, identityKey: applicant.identityKey, motif: appointment.motif,
            fromSite: current.site, fromSlotId: current.slotId, toSite: target.site, toSlotId: target.slotId,
            toStart: publication.start, occurredAt: time
        ))
        try applicant.check(event, rules: rules)
        try current.check(event)
        try target.check(event)
        return try plan([
            (current.stream, current.expectedVersion, event),
            (target.stream, target.expectedVersion, event),
            (applicant.stream, applicant.expectedVersion, event),
        ])
    }

    /// The applicant gives the appointment up; allowed until the cut-off before the start.
    public static func cancelByApplicant(
        _ appointmentId: UUID,
        of applicant: ApplicantState,
        in slot: SlotState,
        at time: Date,
        rules: RuleParameters = .standard
    ) throws(Rejection) -> PlannedAppend {
        let event = DomainEvent.appointmentCancelledByApplicant(AppointmentCancelledByApplicant(
            appointmentId: appointmentId, identityKey: applicant.identityKey, site: slot.site, slotId: slot.slotId, occurredAt: time
        ))
        return try freeingPlace(event, applicant: applicant, slot: slot, rules: rules)
    }

    /// The service cancels the appointment, at any time, for a stated reason.
    public static func cancelByService(
        _ appointmentId: UUID,
        of applicant: ApplicantState,
        in slot: SlotState,
        because reason: ServiceCancellationReason,
        at time: Date
    ) throws(Rejection) -> PlannedAppend {
        let event = DomainEvent.appointmentCancelledByService(AppointmentCancelledByService(
            appointmentId: appointmentId, identityKey: applicant.identityKey, site: slot.site, slotId: slot.slotId,
            reason: reason, occurredAt: time
        ))
        return try freeingPlace(event, applicant: applicant, slot: slot, rules: .standard)
    }

    /// Books a cancelled appointment again in its slot, which must still have a free place.
    public static func reinstate(
        _ appointmentId: UUID,
        of applicant: ApplicantState,
        in slot: SlotState,
        at time: Date
    ) throws(Rejection) -> PlannedAppend {
        let event = DomainEvent.appointmentReinstated(AppointmentReinstated(
            appointmentId: appointmentId, identityKey: applicant.identityKey, site: slot.site, slotId: slot.slotId, occurredAt: time
        ))
        return try freeingPlace(event, applicant: applicant, slot: slot, rules: .standard)
    }

    private static func freeingPlace(_ event: DomainEvent, applicant: ApplicantState, slot: SlotState, rules: RuleParameters) throws(Rejection) -> PlannedAppend {
        try applicant.check(event, rules: rules)
        try slot.check(event)
        return try plan([
            (slot.stream, slot.expectedVersion, event),
            (applicant.stream, applicant.expectedVersion, event),
        ])
    }

    /// Records the applicant at the counter, after the start. When the identity presented is not
    /// the one booked, an `IdentityMismatchAtCounter` follows in the same append, so the evidence
    /// of a resold slot can never be missing. A slot sold to several people brings several to
    /// the counter: each further mismatch is recorded on its own, and the holder, if they come
    /// after an impostor, is still checked in.
    public static func checkIn(
        _ appointmentId: UUID,
        of applicant: ApplicantState,
        presenting presented: IdentityKey,
        at time: Date
    ) throws(Rejection) -> PlannedAppend {
        guard let appointment = applicant.appointments[appointmentId] else {
            throw Rejection(.appointmentUnknown, "this applicant has no appointment \(appointmentId.canonicalString)")
        }
        let matched = presented == applicant.identityKey
        if case .attended = appointment.status, !matched {
            let mismatch = DomainEvent.identityMismatchAtCounter(IdentityMismatchAtCounter(
                appointmentId: appointmentId, identityKey: applicant.identityKey, site: appointment.site, slotId: appointment.slotId,
                presentedIdentityKey: presented, occurredAt: time
            ))
            try applicant.check(mismatch)
            return try plan([(applicant.stream, applicant.expectedVersion, mismatch)])
        }
        let attendance = DomainEvent.appointmentAttended(AppointmentAttended(
            appointmentId: appointmentId, identityKey: applicant.identityKey, site: appointment.site, slotId: appointment.slotId,
            identityMatched: matched, occurredAt: time
        ))
        try applicant.check(attendance)
        guard !matched else { return try plan([(applicant.stream, applicant.expectedVersion, attendance)]) }
        let mismatch = DomainEvent.identityMismatchAtCounter(IdentityMismatchAtCounter(
            appointmentId: appointmentId, identityKey: applicant.identityKey, site: appointment.site, slotId: appointment.slotId,
            presentedIdentityKey: presented, occurredAt: time
        ))
        var attended = applicant
        attended.apply(attendance)
        try attended.check(mismatch)
        return try plan([
            (applicant.stream, applicant.expectedVersion, attendance),
            (applicant.stream, applicant.expectedVersion, mismatch),
        ])
    }

    /// Records that nobody came, after the start.
    public static func recordNoShow(_ appointmentId: UUID, of applicant: ApplicantState, at time: Date) throws(Rejection) -> PlannedAppend {
        guard let appointment = applicant.appointments[appointmentId] else {
            throw Rejection(.appointmentUnknown, "this applicant has no appointment \(appointmentId.canonicalString)")
        }
        let event = DomainEvent.appointmentNoShow(AppointmentNoShow(
            appointmentId: appointmentId, identityKey: applicant.identityKey, site: appointment.site, slotId: appointment.slotId, occurredAt: time
        ))
        try applicant.check(event)
        return try plan([(applicant.stream, applicant.expectedVersion, event)])
    }
}
