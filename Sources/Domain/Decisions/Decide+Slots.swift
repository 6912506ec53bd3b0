import Foundation

extension Decide {
    /// Publishes a slot into its own, new stream.
    public static func publish(_ publication: SlotPublished, onto slot: SlotState) throws(Rejection) -> PlannedAppend {
        guard slot.isThisSlot(publication.site, publication.slotId) else {
            throw Rejection(.wrongStream, "the publication is for slot \(publication.slotId.canonicalString) at \(publication.site.rawValue), not \(slot.stream)")
        }
        let event = DomainEvent.slotPublished(publication)
        try slot.check(event)
        return try plan([(slot.stream, slot.expectedVersion, event)])
    }

    /// Withdraws a slot that no longer holds an active booking.
    public static func withdraw(_ slot: SlotState, because reason: SlotWithdrawalReason, at time: Date) throws(Rejection) -> PlannedAppend {
        let event = DomainEvent.slotWithdrawn(SlotWithdrawn(slotId: slot.slotId, site: slot.site, reason: reason, occurredAt: time))
        try slot.check(event)
        return try plan([(slot.stream, slot.expectedVersion, event)])
    }
}
