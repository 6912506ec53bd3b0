import Foundation
import Domain

/// Running counts of what the simulation wrote, for its summary.
struct Tally {
    var events: UInt64 = 0
    var appends: UInt64 = 0
    var arrivals = 0
    var dossiers = 0
    var booked = 0
    var botBookings = 0
    var resoldByRebooking = 0
    var storms = 0
    var releases = 0
    var slotsPublished = 0
    var placesPublished = 0
    var attended = 0
    var identityMismatches = 0
    var noShows = 0
    var applicantCancellations = 0
    var serviceCancellations = 0
    var reinstatements = 0
    var reschedules = 0
    var rejectedAttempts = 0
    var granted = 0
    var refused = 0
    var permitsAvailable = 0
    var refusedDecisions = 0
    var firstRefusal: String?
    /// Keyed by year × 12 + month − 1.
    var bookedByMonth: [Int: Int] = [:]
    var attendedByMonth: [Int: Int] = [:]

    mutating func count(_ plan: PlannedAppend, at time: Double) {
        appends += 1
        events += UInt64(plan.events.count)
        var previous: DomainEvent?
        for planned in plan.events {
            defer { previous = planned.event }
            if previous == planned.event { continue }
            switch planned.event {
            case .appointmentBooked:
                booked += 1
                bookedByMonth[Self.monthKey(time), default: 0] += 1
            case .appointmentAttended:
                attended += 1
                attendedByMonth[Self.monthKey(time), default: 0] += 1
            case .identityMismatchAtCounter: identityMismatches += 1
            case .appointmentNoShow: noShows += 1
            case .appointmentCancelledByApplicant: applicantCancellations += 1
            case .appointmentCancelledByService: serviceCancellations += 1
            case .appointmentReinstated: reinstatements += 1
            case .appointmentRescheduled: reschedules += 1
            case .dossierSubmitted: dossiers += 1
            case .slotPublished(let slot):
                slotsPublished += 1
                placesPublished += slot.capacity
            case .bookingAttemptsRejected(let rejected): rejectedAttempts += rejected.count
            case .decisionRecorded(let decision):
                if decision.outcome == .granted { granted += 1 } else { refused += 1 }
            case .permitAvailable: permitsAvailable += 1
            default: break
            }
        }
    }

    static func monthKey(_ time: Double) -> Int {
        let civil = ParisTime.civil(Date(timeIntervalSince1970: time))
        return civil.year * 12 + civil.month - 1
    }
}
