import Foundation

/// One slot as folded from its stream: what was published and which appointments hold a place.
///
/// Capacity is guarded here, on one stream, so that the expected version of that stream is
/// enough to stop two racing bookings of the last place.
public struct SlotState: Sendable, Equatable {
    public let site: Site
    public let slotId: UUID
    /// The version of the last event folded in; `nil` while the stream does not exist.
    public private(set) var version: UInt64?
    public private(set) var publication: SlotPublished?
    public private(set) var isWithdrawn = false
    /// Appointments currently holding a place.
    public private(set) var holders: Set<UUID> = []
    /// Appointments cancelled in this slot, which may be reinstated while a place is free.
    public private(set) var cancelled: Set<UUID> = []

    public init(site: Site, slotId: UUID) {
        self.site = site
        self.slotId = slotId
    }

    public var stream: StreamName { .slot(site: site, slotId: slotId) }
    public var expectedVersion: ExpectedStreamVersion { version.expectation }
    public var freePlaces: Int { max(0, (publication?.capacity ?? 0) - holders.count) }

    /// An event of this stream whose data does not decode (`registre import` does not judge the
    /// domain) changes no state but still takes a version, so the expectation stays the journal's.
    public mutating func skipUndecodable() { version = version.advanced }

    public mutating func apply(_ event: DomainEvent) {
        version = version.advanced
        switch event {
        case .slotPublished(let published):
            publication = published
        case .slotWithdrawn:
            isWithdrawn = true
        case .appointmentBooked(let booked):
            holders.insert(booked.appointmentId)
        case .appointmentRescheduled(let moved):
            if isThisSlot(moved.fromSite, moved.fromSlotId) { holders.remove(moved.appointmentId) }
            if isThisSlot(moved.toSite, moved.toSlotId) { holders.insert(moved.appointmentId) }
        case .appointmentCancelledByApplicant(let cancellation):
            release(cancellation.appointmentId)
        case .appointmentCancelledByService(let cancellation):
            release(cancellation.appointmentId)
        case .appointmentReinstated(let reinstated):
            cancelled.remove(reinstated.appointmentId)
            holders.insert(reinstated.appointmentId)
        default:
            break
        }
    }

    private mutating func release(_ appointmentId: UUID) {
        if holders.remove(appointmentId) != nil { cancelled.insert(appointmentId) }
    }

    func isThisSlot(_ site: Site, _ slotId: UUID) -> Bool { site == self.site && slotId == self.slotId }

    /// Throws the rule that `event`, appended to this slot's stream, would break.
    public func check(_ event: DomainEvent) throws(Rejection) {
        switch event {
        case .slotPublished:
            if publication != nil { throw Rejection(.slotAlreadyPublished, "slot \(slotId.canonicalString) is already published") }
        case .slotWithdrawn:
            try requirePublished()
            try requireNotWithdrawn()
            if !holders.isEmpty {
                throw Rejection(.slotHasActiveBookings, "slot \(slotId.canonicalString) still holds \(holders.count) active booking(s); the service must cancel them first")
            }
        case .appointmentBooked(let booked):
            try requireBookable(at: booked.occurredAt, start: booked.start, motif: booked.motif, category: booked.category)
            try requireNew(booked.appointmentId)
            try requireFreePlace()
        case .appointmentRescheduled(let moved):
            let leaving = isThisSlot(moved.fromSite, moved.fromSlotId)
            let arriving = isThisSlot(moved.toSite, moved.toSlotId)
            if leaving && arriving {
                throw Rejection(.rescheduleToSameSlot, "appointment \(moved.appointmentId.canonicalString) is already in slot \(slotId.canonicalString)")
            }
            if leaving, !holders.contains(moved.appointmentId) {
                throw Rejection(.appointmentNotActive, "appointment \(moved.appointmentId.canonicalString) holds no place in slot \(slotId.canonicalString)")
            }
            if arriving {
                try requireBookable(at: moved.occurredAt, start: moved.toStart, motif: moved.motif, category: nil)
                try requireNew(moved.appointmentId)
                try requireFreePlace()
            }
        case .appointmentCancelledByApplicant(let cancellation):
            try requireHolder(cancellation.appointmentId)
        case .appointmentCancelledByService(let cancellation):
            try requireHolder(cancellation.appointmentId)
        case .appointmentReinstated(let reinstated):
            guard cancelled.contains(reinstated.appointmentId) else {
                throw Rejection(.appointmentNotCancelled, "appointment \(reinstated.appointmentId.canonicalString) was not cancelled in slot \(slotId.canonicalString)")
            }
            let published = try requirePublished()
            try requireBookable(at: reinstated.occurredAt, start: published.start, motif: published.motif, category: nil)
            try requireFreePlace()
        default:
            break
        }
    }

    @discardableResult
    private func requirePublished() throws(Rejection) -> SlotPublished {
        guard let publication else { throw Rejection(.slotNotPublished, "slot \(slotId.canonicalString) has not been published") }
        return publication
    }

    private func requireNotWithdrawn() throws(Rejection) {
        if isWithdrawn { throw Rejection(.slotWithdrawn, "slot \(slotId.canonicalString) has been withdrawn") }
    }

    /// Only a published, not withdrawn slot can take an appointment, and only before it starts.
    private func requireBookable(at time: Date, start: Date, motif: Motif, category: Category?) throws(Rejection) {
        let published = try requirePublished()
        try requireNotWithdrawn()
        guard published.start == start, published.motif == motif, category == nil || published.category == category else {
            throw Rejection(.slotDetailsMismatch, "the appointment's start, motif or category differ from slot \(slotId.canonicalString)'s publication (\(UTCTime.string(published.start)), \(published.motif.rawValue), \(published.category.rawValue))")
        }
        guard time < published.start else {
            throw Rejection(.slotAlreadyStarted, "slot \(slotId.canonicalString) started at \(UTCTime.string(published.start)); it cannot be booked at \(UTCTime.string(time))")
        }
    }

    private func requireNew(_ appointmentId: UUID) throws(Rejection) {
        if holders.contains(appointmentId) || cancelled.contains(appointmentId) {
            throw Rejection(.appointmentAlreadyExists, "appointment \(appointmentId.canonicalString) is already recorded in slot \(slotId.canonicalString)")
        }
    }

    private func requireFreePlace() throws(Rejection) {
        let capacity = publication?.capacity ?? 0
        if holders.count >= capacity {
            throw Rejection(.slotCapacityExceeded, "slot \(slotId.canonicalString) is full: \(holders.count) of \(capacity) places are taken")
        }
    }

    private func requireHolder(_ appointmentId: UUID) throws(Rejection) {
        guard holders.contains(appointmentId) else {
            throw Rejection(.appointmentNotActive, "appointment \(appointmentId.canonicalString) holds no place in slot \(slotId.canonicalString)")
        }
    }
}
