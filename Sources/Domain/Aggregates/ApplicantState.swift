import Foundation

/// One applicant identity as folded from its stream: every appointment it ever booked.
///
/// "One active appointment per motif" is guarded here, on the applicant's own stream, so that a
/// bot booking the same identity in two slots at once loses one of the two appends.
public struct ApplicantState: Sendable, Equatable {
    public enum AppointmentStatus: Sendable, Equatable {
        case booked
        case cancelledByApplicant
        case cancelledByService(ServiceCancellationReason)
        case attended(identityMatched: Bool)
        case noShow

        public var isCancelled: Bool {
            switch self {
            case .cancelledByApplicant, .cancelledByService: true
            default: false
            }
        }
    }

    public struct Appointment: Sendable, Equatable {
        public var appointmentId: UUID
        public var site: Site
        public var slotId: UUID
        public var motif: Motif
        public var category: Category
        public var start: Date
        public var status: AppointmentStatus
        /// Whether an `IdentityMismatchAtCounter` was recorded for it.
        public var mismatchRecorded = false

        /// Active means booked, not cancelled, and not yet past at `time`.
        public func isActive(at time: Date) -> Bool { status == .booked && start > time }

        /// Whether the place was used by the person it was booked for; a resold slot was not.
        public var wasGenuinelyUsed: Bool { status == .attended(identityMatched: true) }
    }

    public let identityKey: IdentityKey
    public private(set) var version: UInt64?
    public private(set) var appointments: [UUID: Appointment] = [:]

    public init(identityKey: IdentityKey) {
        self.identityKey = identityKey
    }

    public var stream: StreamName { .applicant(identityKey) }
    public var expectedVersion: ExpectedStreamVersion { version.expectation }

    /// The appointment that is active for `motif` at `time`, if any.
    public func activeAppointment(for motif: Motif, at time: Date) -> Appointment? {
        appointments.values.first { $0.motif == motif && $0.isActive(at: time) }
    }

    /// An event of this stream whose data does not decode (`registre import` does not judge the
    /// domain) changes no state but still takes a version, so the expectation stays the journal's.
    public mutating func skipUndecodable() { version = version.advanced }

    public mutating func apply(_ event: DomainEvent) {
        version = version.advanced
        switch event {
        case .appointmentBooked(let booked):
            appointments[booked.appointmentId] = Appointment(
                appointmentId: booked.appointmentId, site: booked.site, slotId: booked.slotId, motif: booked.motif,
                category: booked.category, start: booked.start, status: .booked
            )
        case .appointmentRescheduled(let moved):
            updateAppointment(moved.appointmentId) {
                $0.site = moved.toSite
                $0.slotId = moved.toSlotId
                $0.start = moved.toStart
            }
        case .appointmentCancelledByApplicant(let cancellation):
            updateAppointment(cancellation.appointmentId) { $0.status = .cancelledByApplicant }
        case .appointmentCancelledByService(let cancellation):
            updateAppointment(cancellation.appointmentId) { $0.status = .cancelledByService(cancellation.reason) }
        case .appointmentReinstated(let reinstated):
            updateAppointment(reinstated.appointmentId) { $0.status = .booked }
        case .appointmentAttended(let attendance):
            updateAppointment(attendance.appointmentId) { $0.status = .attended(identityMatched: attendance.identityMatched) }
        case .appointmentNoShow(let noShow):
            updateAppointment(noShow.appointmentId) { $0.status = .noShow }
        case .identityMismatchAtCounter(let mismatch):
            updateAppointment(mismatch.appointmentId) { $0.mismatchRecorded = true }
        default:
            break
        }
    }

    /// Changes the appointment `id` if this applicant has it. A copy written back rather than
    /// `appointments[id]?.field = …`, whose modify accessor allocated coroutine frames on every
    /// call, a heap allocation or more per event in a replay of millions.
    private mutating func updateAppointment(_ id: UUID, _ change: (inout Appointment) -> Void) {
        guard var appointment = appointments[id] else { return }
        change(&appointment)
        appointments.updateValue(appointment, forKey: id)
    }

    /// Throws the rule that `event`, appended to this applicant's stream, would break.
    public func check(_ event: DomainEvent, rules: RuleParameters = .standard) throws(Rejection) {
        switch event {
        case .appointmentBooked(let booked):
            if appointments[booked.appointmentId] != nil {
                throw Rejection(.appointmentAlreadyExists, "appointment \(booked.appointmentId.canonicalString) is already booked for this applicant")
            }
            try requireNoOtherActive(booked.motif, at: booked.occurredAt, except: booked.appointmentId)
        case .appointmentRescheduled(let moved):
            let appointment = try requireActive(moved.appointmentId, at: moved.occurredAt)
            guard appointment.site == moved.fromSite, appointment.slotId == moved.fromSlotId else {
                throw Rejection(.slotDetailsMismatch, "appointment \(moved.appointmentId.canonicalString) is in slot \(appointment.slotId.canonicalString), not in the slot it is moved from")
            }
            if moved.fromSite == moved.toSite, moved.fromSlotId == moved.toSlotId {
                throw Rejection(.rescheduleToSameSlot, "appointment \(moved.appointmentId.canonicalString) is already in slot \(moved.toSlotId.canonicalString)")
            }
            guard appointment.motif == moved.motif else {
                throw Rejection(.rescheduleChangesMotif, "appointment \(moved.appointmentId.canonicalString) is for \(appointment.motif.rawValue); it cannot be moved to a \(moved.motif.rawValue) slot")
            }
            try requireBeforeCutOff(appointment, at: moved.occurredAt, rules: rules, action: "reschedule")
        case .appointmentCancelledByApplicant(let cancellation):
            let appointment = try requireBooked(cancellation.appointmentId, inSlot: cancellation.slotId)
            try requireBeforeCutOff(appointment, at: cancellation.occurredAt, rules: rules, action: "cancel")
        case .appointmentCancelledByService(let cancellation):
            try requireBooked(cancellation.appointmentId, inSlot: cancellation.slotId)
        case .appointmentReinstated(let reinstated):
            let appointment = try requireKnown(reinstated.appointmentId, inSlot: reinstated.slotId)
            guard appointment.status.isCancelled else {
                throw Rejection(.appointmentNotCancelled, "appointment \(reinstated.appointmentId.canonicalString) is not cancelled, so it cannot be reinstated")
            }
            if case .cancelledByService(let reason) = appointment.status {
                throw Rejection(.serviceCancellationIsFinal, "appointment \(reinstated.appointmentId.canonicalString) was cancelled by the service (\(reason.rawValue)); only an applicant's own cancellation is reinstated")
            }
            try requireNoOtherActive(appointment.motif, at: reinstated.occurredAt, except: reinstated.appointmentId)
        case .appointmentAttended(let attendance):
            let appointment = try requireKnown(attendance.appointmentId, inSlot: attendance.slotId)
            // The holder may still come after someone else presented the booking (a slot sold to
            // several people): an impostor must not use the appointment up.
            let holderAfterImpostor = appointment.status == .attended(identityMatched: false) && attendance.identityMatched
            guard appointment.status == .booked || holderAfterImpostor else {
                throw Rejection(.appointmentNotActive, "appointment \(attendance.appointmentId.canonicalString) is no longer booked (\(appointment.status))")
            }
            try requireStarted(appointment, at: attendance.occurredAt)
        case .appointmentNoShow(let noShow):
            let appointment = try requireBooked(noShow.appointmentId, inSlot: noShow.slotId)
            try requireStarted(appointment, at: noShow.occurredAt)
        case .identityMismatchAtCounter(let mismatch):
            let appointment = try requireKnown(mismatch.appointmentId, inSlot: mismatch.slotId)
            // Every identity presented for a booking that is not its holder's is evidence, however
            // many people bought the slot; each follows an attendance at the counter.
            guard case .attended = appointment.status, mismatch.presentedIdentityKey != identityKey else {
                throw Rejection(.mismatchWithoutFailedCheck, "an identity mismatch must follow an attendance at the counter and name another identity than the holder's; appointment \(mismatch.appointmentId.canonicalString) has none")
            }
        default:
            break
        }
    }

    private func requireNoOtherActive(_ motif: Motif, at time: Date, except appointmentId: UUID) throws(Rejection) {
        if let active = appointments.values.first(where: { $0.appointmentId != appointmentId && $0.motif == motif && $0.isActive(at: time) }) {
            throw Rejection(.oneActiveAppointmentPerMotif, "this applicant already holds appointment \(active.appointmentId.canonicalString) for \(motif.rawValue) on \(UTCTime.string(active.start))")
        }
    }

    @discardableResult
    private func requireKnown(_ appointmentId: UUID, inSlot slotId: UUID) throws(Rejection) -> Appointment {
        guard let appointment = appointments[appointmentId] else {
            throw Rejection(.appointmentUnknown, "this applicant has no appointment \(appointmentId.canonicalString)")
        }
        guard appointment.slotId == slotId else {
            throw Rejection(.slotDetailsMismatch, "appointment \(appointmentId.canonicalString) is in slot \(appointment.slotId.canonicalString), not \(slotId.canonicalString)")
        }
        return appointment
    }

    @discardableResult
    private func requireBooked(_ appointmentId: UUID, inSlot slotId: UUID) throws(Rejection) -> Appointment {
        let appointment = try requireKnown(appointmentId, inSlot: slotId)
        guard appointment.status == .booked else {
            throw Rejection(.appointmentNotActive, "appointment \(appointmentId.canonicalString) is no longer booked (\(appointment.status))")
        }
        return appointment
    }

    private func requireActive(_ appointmentId: UUID, at time: Date) throws(Rejection) -> Appointment {
        guard let appointment = appointments[appointmentId] else {
            throw Rejection(.appointmentUnknown, "this applicant has no appointment \(appointmentId.canonicalString)")
        }
        guard appointment.isActive(at: time) else {
            throw Rejection(.appointmentNotActive, "appointment \(appointmentId.canonicalString) is not active: it is cancelled, already recorded or past")
        }
        return appointment
    }

    private func requireBeforeCutOff(_ appointment: Appointment, at time: Date, rules: RuleParameters, action: String) throws(Rejection) {
        let cutOff = appointment.start.addingTimeInterval(-rules.applicantCancellationCutOff)
        guard time <= cutOff else {
            throw Rejection(.cancellationCutOffPassed, "an applicant may \(action) only until \(UTCTime.string(cutOff)), \(Int(rules.applicantCancellationCutOff / 3600)) h before the start; after that only the service can cancel")
        }
    }

    /// Attendance and no-shows are facts about the counter, so they cannot precede the start.
    private func requireStarted(_ appointment: Appointment, at time: Date) throws(Rejection) {
        guard time >= appointment.start else {
            throw Rejection(.appointmentNotStartedYet, "appointment \(appointment.appointmentId.canonicalString) starts at \(UTCTime.string(appointment.start)); attendance cannot be recorded at \(UTCTime.string(time))")
        }
    }
}
