import Foundation
import Domain

/// What a simulation wrote, in figures to compare with the ones it was calibrated on.
public struct SimulationSummary: Sendable, Equatable {
    public struct Month: Sendable, Equatable {
        public var year: Int
        /// 1 to 12.
        public var month: Int
        public var appointmentsBooked: Int
        public var appointmentsAttended: Int
    }

    public var profileName: String
    public var seed: UInt64
    public var scale: Double
    public var events: UInt64
    public var appends: UInt64
    /// Applicants who started a procedure (some file later, at a counter appointment).
    public var arrivals: Int
    public var dossiers: Int
    public var appointmentsBooked: Int
    public var appointmentsAttended: Int
    public var months: [Month]
    public var releases: Int
    public var slotsPublished: Int
    public var placesPublished: Int
    public var storms: Int
    public var botBookings: Int
    public var identityMismatches: Int
    public var rejectedBookingAttempts: Int
    public var noShows: Int
    public var applicantCancellations: Int
    public var serviceCancellations: Int
    public var reinstatements: Int
    public var reschedules: Int
    public var permitsGranted: Int
    public var permitsRefused: Int
    public var permitsAvailable: Int
    /// Decisions the domain refused while simulating: always 0 unless the simulator has a bug.
    public var refusedDecisions: Int
    public var firstRefusal: String?
    /// The release that would come next, for a live demo to publish and storm.
    public var nextRelease: PlannedRelease?

    public var appointmentsPerDossier: Double { dossiers == 0 ? 0 : Double(appointmentsBooked) / Double(dossiers) }

    /// A few lines for people, in the terms of the press release.
    public var report: String {
        var lines: [String] = []
        lines.append("profile \(profileName), seed \(seed), scale \(scale)")
        lines.append("events: \(events) in \(appends) appends")
        lines.append("applicants: \(arrivals); dossiers submitted: \(dossiers); appointments booked: \(appointmentsBooked) (\(String(format: "%.2f", appointmentsPerDossier)) per dossier), attended: \(appointmentsAttended)")
        lines.append("releases: \(releases), slots: \(slotsPublished), places: \(placesPublished)")
        lines.append("bot storms: \(storms), bot bookings: \(botBookings), identity mismatches at the counter: \(identityMismatches), rejected booking attempts: \(rejectedBookingAttempts)")
        lines.append("no-shows: \(noShows), cancellations: \(applicantCancellations) by applicants, \(serviceCancellations) by the service, reinstated: \(reinstatements), rescheduled: \(reschedules)")
        lines.append("decisions: \(permitsGranted) granted, \(permitsRefused) refused; permits available: \(permitsAvailable)")
        lines.append("appointments per month (booked / attended):")
        for month in months {
            lines.append(String(format: "  %04d-%02d  %6d / %6d", month.year, month.month, month.appointmentsBooked, month.appointmentsAttended))
        }
        if let nextRelease {
            lines.append("next release: \(UTCTime.string(nextRelease.time)), \(nextRelease.publications.count) slots")
        }
        if refusedDecisions > 0 {
            lines.append("WARNING: \(refusedDecisions) decisions were refused by the domain (a simulator bug); first: \(firstRefusal ?? "?")")
        }
        return lines.joined(separator: "\n")
    }
}

extension Tally {
    func summary(profile: SimulationProfile, nextRelease: PlannedRelease?) -> SimulationSummary {
        let keys = Set(bookedByMonth.keys).union(attendedByMonth.keys).sorted()
        let months = keys.map { key in
            SimulationSummary.Month(year: key / 12, month: key % 12 + 1, appointmentsBooked: bookedByMonth[key] ?? 0, appointmentsAttended: attendedByMonth[key] ?? 0)
        }
        return SimulationSummary(
            profileName: profile.name, seed: profile.seed, scale: profile.scale, events: events, appends: appends, arrivals: arrivals, dossiers: dossiers,
            appointmentsBooked: booked, appointmentsAttended: attended, months: months, releases: releases,
            slotsPublished: slotsPublished, placesPublished: placesPublished, storms: storms, botBookings: botBookings,
            identityMismatches: identityMismatches, rejectedBookingAttempts: rejectedAttempts, noShows: noShows,
            applicantCancellations: applicantCancellations, serviceCancellations: serviceCancellations,
            reinstatements: reinstatements, reschedules: reschedules, permitsGranted: granted, permitsRefused: refused,
            permitsAvailable: permitsAvailable, refusedDecisions: refusedDecisions, firstRefusal: firstRefusal, nextRelease: nextRelease
        )
    }
}
