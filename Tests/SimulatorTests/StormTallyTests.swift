import Domain
import Foundation
import Testing
@testable import Simulator

@Suite struct StormTallyTests {
    let a = StormSlot(site: .grenoble, slotId: UUID(), motif: .filing, capacity: 2)
    let b = StormSlot(site: .vienne, slotId: UUID(), motif: .filing, capacity: 1)
    let c = StormSlot(site: .grenoble, slotId: UUID(), motif: .biometrics, capacity: 1)

    /// The answers arrive interleaved from many threads; the figures come from each answer, not
    /// from which one was logged last.
    @Test func figuresComeFromTheAnswersWhateverTheirOrder() {
        var tally = StormTally(slots: [a, b, c], botFingerprints: 2, applicants: 3)
        tally.record(.booked, seconds: 0.01, slot: a, identity: "bot-1", bot: true)
        tally.record(.booked, seconds: 0.02, slot: b, identity: "bot-2", bot: true)
        tally.record(.booked, seconds: 0.30, slot: a, identity: "alice", bot: false)
        tally.record(.booked, seconds: 0.31, slot: c, identity: "bot-3", bot: true)  // logged right after Alice's
        tally.record(.refused(rule: "slot.capacityExceeded"), seconds: 0.50, slot: b, identity: "bob", bot: false)
        tally.record(.refused(rule: "slot.capacityExceeded"), seconds: 0.70, slot: a, identity: "bob", bot: false)
        #expect(tally.attempts == 6 && tally.botPlaces == 3 && tally.genuinePlaces == 1 && tally.genuineApplicantsWithAPlace == 1)
        #expect(tally.overbookedSlots.isEmpty && tally.identitiesWithTwoAppointments == 0)
        #expect(tally.summary == "4 places in 3 slots; 2 bot fingerprints took 3 of them within 0.31 s, genuine applicants took 1 (1 of 3 applicants got a place); "
            + "6 attempts, refused by rule: slot.capacityExceeded 2; no slot overbooked, no identity given two appointments for one motif")
        #expect(tally.perSecond().map { [$0.second, $0.bots, $0.genuine] } == [[0, 3, 1], [1, 0, 0]])
    }

    /// Neither claim of the verdict is printed unless the answers bear it out.
    @Test func overbookingAndTwoAppointmentsForOneMotifAreReported() {
        var tally = StormTally(slots: [a, b, c], botFingerprints: 1, applicants: 1)
        tally.record(.booked, seconds: 0.1, slot: b, identity: "bot-1", bot: true)
        tally.record(.booked, seconds: 0.2, slot: b, identity: "bot-2", bot: true)
        #expect(tally.overbookedSlots == [b.slotId])
        #expect(tally.summary.hasSuffix("OVERBOOKED: 1 slots were given more bookings than places"), "\(tally.summary)")

        var twice = StormTally(slots: [a, b, c], botFingerprints: 1, applicants: 1)
        twice.record(.booked, seconds: 0.3, slot: a, identity: "carol", bot: false)
        twice.record(.booked, seconds: 0.4, slot: b, identity: "carol", bot: false)  // filing again
        twice.record(.booked, seconds: 0.5, slot: c, identity: "dave", bot: false)
        twice.record(.booked, seconds: 0.6, slot: a, identity: "dave", bot: false)   // another motif: allowed
        #expect(twice.overbookedSlots.isEmpty && twice.identitiesWithTwoAppointments == 1)
        #expect(twice.genuinePlaces == 4 && twice.genuineApplicantsWithAPlace == 2)
        #expect(twice.summary.hasSuffix("TWO APPOINTMENTS: 1 identities were given two appointments for one motif"), "\(twice.summary)")
        #expect(!twice.summary.contains("no identity given two"))
    }

    @Test func anApplicantStopsAtTheFirstPlaceTheServerGrantsThem() {
        var asked: [UUID] = [], pauses = 0
        let answers: [UUID: StormAnswer] = [a.slotId: .refused(rule: "slot.capacityExceeded"), b.slotId: .booked, c.slotId: .booked]
        let attempts = StormTally.tryInTurn([a, b, c], book: { asked.append($0.slotId); return answers[$0.slotId]! }, pause: { pauses += 1 })
        #expect(attempts == 2 && asked == [a.slotId, b.slotId] && pauses == 1)
    }
}
