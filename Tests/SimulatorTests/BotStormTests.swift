import Foundation
import Testing
import Domain
import Simulator

@Suite struct BotStormTests {
    let facts = SharedRuns.twoYears.facts

    /// Releases where fingerprints that booked several places in the first minute (a person books
    /// one) took more than half the places: the storms, seen from the events alone.
    private func stormReleases() -> [(release: UUID, fingerprints: [Fingerprint], share: Double, seconds: Double, firstMinute: Int, places: Int)] {
        var byRelease: [UUID: [HistoryFacts.Booking]] = [:]
        for booking in facts.bookings {
            guard let release = facts.releaseOfSlot[booking.slotId], let time = facts.releaseTime[release],
                  booking.occurredAt.timeIntervalSince(time) < 60 else { continue }
            byRelease[release, default: []].append(booking)
        }
        var storms: [(UUID, [Fingerprint], Double, Double, Int, Int)] = []
        for (release, bookings) in byRelease {
            let perFingerprint = Dictionary(grouping: bookings, by: \.fingerprint).filter { $0.value.count >= 3 }
            let taken = perFingerprint.values.reduce(0) { $0 + $1.count }
            let share = Double(taken) / Double(facts.placesOfRelease[release] ?? 1)
            guard share > 0.5 else { continue }
            let last = perFingerprint.values.joined().map { $0.occurredAt.timeIntervalSince(facts.releaseTime[release]!) }.max() ?? 0
            storms.append((release, Array(perFingerprint.keys), share, last, bookings.count, facts.placesOfRelease[release] ?? 0))
        }
        return storms
    }

    @Test func onStormReleasesAFewFingerprintsTakeMostPlacesWithinSeconds() {
        let storms = stormReleases()
        #expect(storms.count >= 5, "\(storms.count) storm releases found")
        #expect(storms.count <= SharedRuns.twoYears.summary.storms)
        for storm in storms {
            #expect(storm.fingerprints.count <= 5, "\(storm.fingerprints.count) fingerprints")
            #expect(storm.seconds < 15, "the bots of release \(storm.release) took \(storm.seconds) s")
        }
    }

    /// domain.md: in 2024 the releases were all taken within about a minute. A stormed release is
    /// taken whole, genuine applicants and bots together, in its first minute.
    @Test func aStormedReleaseRunsOutWithinAMinute() {
        let storms = stormReleases()
        #expect(!storms.isEmpty)
        for storm in storms {
            #expect(storm.firstMinute >= storm.places, "release \(storm.release): \(storm.firstMinute) of \(storm.places) places booked in its first minute")
        }
    }

    @Test func stormFingerprintsBookForManyIdentitiesAndTheirSlotsFailTheIdentityCheck() {
        let fingerprints = Set(stormReleases().flatMap(\.fingerprints))
        var identities: [Fingerprint: Set<IdentityKey>] = [:]
        var mismatches = 0
        for booking in facts.bookings where fingerprints.contains(booking.fingerprint) {
            identities[booking.fingerprint, default: []].insert(booking.identityKey)
            if facts.mismatchedAppointments.contains(booking.appointmentId) { mismatches += 1 }
        }
        #expect(identities.values.allSatisfy { $0.count >= 10 }, "\(identities.values.map(\.count))")
        #expect(mismatches > 0)
        // Genuine applicants book for themselves: one identity per fingerprint.
        var genuine: [Fingerprint: Set<IdentityKey>] = [:]
        for booking in facts.bookings where !fingerprints.contains(booking.fingerprint) {
            genuine[booking.fingerprint, default: []].insert(booking.identityKey)
        }
        #expect(genuine.values.allSatisfy { $0.count == 1 })
    }

    @Test func resoldSlotsAreCancelledAndRebookedWithinSeconds() {
        let cancellations = facts.events.compactMap { entry -> AppointmentCancelledByApplicant? in
            if case .appointmentCancelledByApplicant(let c) = entry.event { c } else { nil }
        }
        let bookingsBySlot = Dictionary(grouping: facts.bookings, by: \.slotId)
        let rebookedQuickly = cancellations.filter { cancellation in
            (bookingsBySlot[cancellation.slotId] ?? []).contains {
                $0.identityKey != cancellation.identityKey && $0.occurredAt > cancellation.occurredAt
                    && $0.occurredAt.timeIntervalSince(cancellation.occurredAt) <= 5
            }
        }
        #expect(rebookedQuickly.count >= 10)
    }

    @Test func genuineApplicantsRejectedAtStormsAreOnRecordPerFingerprintAndMinute() {
        #expect(SharedRuns.twoYears.summary.rejectedBookingAttempts > 0)
        var keys = Set<String>()
        for entry in facts.events {
            guard case .bookingAttemptsRejected(let rejected) = entry.event else { continue }
            #expect(rejected.minute.timeIntervalSince1970.truncatingRemainder(dividingBy: 60) == 0)
            #expect(rejected.occurredAt >= rejected.minute.addingTimeInterval(60))
            #expect(keys.insert("\(rejected.fingerprint)@\(rejected.minute)").inserted, "one event per fingerprint and minute")
        }
        #expect(keys.count > 50)
    }

    @Test func theNextReleaseIsPlannedForTheDemo() throws {
        let release = try #require(SharedRuns.twoYears.summary.nextRelease)
        #expect(release.time >= utc("2026-01-01T00:00:00Z"))
        #expect(!release.publications.isEmpty)
        #expect(!release.botFingerprints.isEmpty)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let shifted = release.shifted(to: now)
        #expect(shifted.publications.allSatisfy { $0.occurredAt == now && $0.start > now })
        let appends = try shifted.publicationAppends()
        #expect(appends.count == release.publications.count)
    }
}
