import Foundation
import Testing
import Domain

/// The rule a decision broke, or `nil` when it succeeded.
func rejection(_ body: () throws -> PlannedAppend) -> RuleName? {
    do {
        _ = try body()
        return nil
    } catch let rejection as Rejection {
        return rejection.rule
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

/// A journal holding one published slot (capacity 2 unless told) and helpers to act on it.
private struct Desk {
    var journal = MemoryJournal()
    let publication: SlotPublished
    var now = Sample.releaseTime

    init(capacity: Int = 2, motif: Motif = .filing, slot: Int = 1) throws {
        publication = Sample.publication(slot: slot, motif: motif, capacity: capacity)
        try journal.append(try Decide.publish(publication, onto: SlotState(site: .grenoble, slotId: publication.slotId)))
    }

    var slot: SlotState { journal.slot(.grenoble, publication.slotId) }
    func applicant(_ n: Int) -> ApplicantState { journal.applicant(Sample.identity(n)) }

    @discardableResult
    mutating func book(_ appointment: Int, for applicant: Int, in slot: SlotState? = nil) throws -> PlannedAppend {
        let plan = try Decide.book(Sample.uuid(appointment), in: slot ?? self.slot, for: self.applicant(applicant), from: Sample.fingerprint(1), at: now)
        try journal.append(plan)
        return plan
    }
}

@Suite("Slot and appointment rules")
struct AppointmentRuleTests {
    @Test("booking writes the same event to the slot and applicant streams, each guarded by its version")
    func bookingIsOneMultiStreamAppend() throws {
        var desk = try Desk()
        let plan = try desk.book(0xA1, for: 1)
        let slotStream = desk.slot.stream.description, applicantStream = desk.applicant(1).stream.description
        #expect(plan.events.map(\.stream) == [slotStream, applicantStream])
        #expect(plan.events[0].event == plan.events[1].event)
        #expect(plan.expectedVersions == [slotStream: .exact(0), applicantStream: .noStream])
        #expect(validateAppend(plan.envelopes) == [])
    }

    @Test("two racing bookings of the last place cannot both succeed")
    func racingBookings() throws {
        var desk = try Desk(capacity: 1)
        let seen = desk.slot
        let first = try Decide.book(Sample.uuid(0xA1), in: seen, for: desk.applicant(1), from: Sample.fingerprint(1), at: desk.now)
        let second = try Decide.book(Sample.uuid(0xA2), in: seen, for: desk.applicant(2), from: Sample.fingerprint(2), at: desk.now)
        try desk.journal.append(first)
        #expect(throws: MemoryJournal.AppendError.wrongExpectedVersion(seen.stream.description)) { try desk.journal.append(second) }
        #expect(rejection { try Decide.book(Sample.uuid(0xA2), in: desk.slot, for: desk.applicant(2), from: Sample.fingerprint(2), at: desk.now) } == .slotCapacityExceeded)
    }

    @Test("a slot is never booked beyond its capacity")
    func capacity() throws {
        var desk = try Desk(capacity: 2)
        try desk.book(0xA1, for: 1)
        try desk.book(0xA2, for: 2)
        #expect(desk.slot.freePlaces == 0)
        #expect(rejection { try Decide.book(Sample.uuid(0xA3), in: desk.slot, for: desk.applicant(3), from: Sample.fingerprint(1), at: desk.now) } == .slotCapacityExceeded)
    }

    @Test("an unpublished slot cannot be booked")
    func unpublished() throws {
        let desk = try Desk()
        let unknown = SlotState(site: .vienne, slotId: Sample.uuid(99))
        #expect(rejection { try Decide.book(Sample.uuid(0xA1), in: unknown, for: desk.applicant(1), from: Sample.fingerprint(1), at: desk.now) } == .slotNotPublished)
    }

    @Test("a slot is published once")
    func publishedOnce() throws {
        let desk = try Desk()
        #expect(rejection { try Decide.publish(desk.publication, onto: desk.slot) } == .slotAlreadyPublished)
    }

    @Test("a withdrawn slot cannot be booked, and a slot with bookings cannot be withdrawn")
    func withdrawal() throws {
        var desk = try Desk()
        try desk.book(0xA1, for: 1)
        #expect(rejection { try Decide.withdraw(desk.slot, because: .staffShortage, at: desk.now) } == .slotHasActiveBookings)
        try desk.journal.append(try Decide.cancelByService(Sample.uuid(0xA1), of: desk.applicant(1), in: desk.slot, because: .slotWithdrawn, at: desk.now))
        try desk.journal.append(try Decide.withdraw(desk.slot, because: .staffShortage, at: desk.now))
        #expect(desk.slot.isWithdrawn)
        #expect(rejection { try Decide.book(Sample.uuid(0xA2), in: desk.slot, for: desk.applicant(2), from: Sample.fingerprint(1), at: desk.now) } == .slotWithdrawn)
        #expect(rejection { try Decide.withdraw(desk.slot, because: .other, at: desk.now) } == .slotWithdrawn)
    }

    @Test("a slot can be booked only before its start")
    func bookingBeforeStart() throws {
        var desk = try Desk()
        desk.now = Sample.slotStart.addingTimeInterval(-1)
        try desk.book(0xA1, for: 1)
        desk.now = Sample.slotStart
        #expect(rejection { try Decide.book(Sample.uuid(0xA2), in: desk.slot, for: desk.applicant(2), from: Sample.fingerprint(1), at: desk.now) } == .slotAlreadyStarted)
    }

    @Test("an identity holds at most one active appointment per motif")
    func oneActivePerMotif() throws {
        var desk = try Desk(capacity: 5)
        try desk.book(0xA1, for: 1)
        #expect(rejection { try Decide.book(Sample.uuid(0xA2), in: desk.slot, for: desk.applicant(1), from: Sample.fingerprint(2), at: desk.now) } == .oneActiveAppointmentPerMotif)

        // Another motif is fine.
        var other = try Desk(capacity: 5, motif: .biometrics, slot: 2)
        other.journal = desk.journal
        try other.journal.append(try Decide.publish(other.publication, onto: SlotState(site: .grenoble, slotId: other.publication.slotId)))
        _ = try Decide.book(Sample.uuid(0xA3), in: other.slot, for: other.applicant(1), from: Sample.fingerprint(1), at: desk.now)
    }

    @Test("a past or cancelled appointment is no longer active")
    func activeMeansBookedAndNotPast() throws {
        var desk = try Desk(capacity: 5)
        try desk.book(0xA1, for: 1)
        let applicant = desk.applicant(1)
        #expect(applicant.activeAppointment(for: .filing, at: desk.now)?.appointmentId == Sample.uuid(0xA1))
        #expect(applicant.activeAppointment(for: .filing, at: Sample.slotStart) == nil)
        try desk.journal.append(try Decide.cancelByApplicant(Sample.uuid(0xA1), of: applicant, in: desk.slot, at: desk.now))
        #expect(desk.applicant(1).activeAppointment(for: .filing, at: desk.now) == nil)
        try desk.book(0xA2, for: 1)
    }

    @Test("a cancellation frees the place at once")
    func cancellationFreesThePlace() throws {
        var desk = try Desk(capacity: 1)
        try desk.book(0xA1, for: 1)
        try desk.journal.append(try Decide.cancelByApplicant(Sample.uuid(0xA1), of: desk.applicant(1), in: desk.slot, at: desk.now))
        #expect(desk.slot.freePlaces == 1)
        try desk.book(0xA2, for: 2)
    }

    @Test("an applicant may cancel only until the cut-off; the service any time, with a reason")
    func cancellationCutOff() throws {
        var desk = try Desk()
        try desk.book(0xA1, for: 1)
        let cutOff = Sample.slotStart.addingTimeInterval(-24 * 3600)
        _ = try Decide.cancelByApplicant(Sample.uuid(0xA1), of: desk.applicant(1), in: desk.slot, at: cutOff)
        #expect(rejection { try Decide.cancelByApplicant(Sample.uuid(0xA1), of: desk.applicant(1), in: desk.slot, at: cutOff.addingTimeInterval(1)) } == .cancellationCutOffPassed)
        let shortCutOff = RuleParameters(applicantCancellationCutOff: 3600)
        _ = try Decide.cancelByApplicant(Sample.uuid(0xA1), of: desk.applicant(1), in: desk.slot, at: cutOff.addingTimeInterval(1), rules: shortCutOff)
        let plan = try Decide.cancelByService(Sample.uuid(0xA1), of: desk.applicant(1), in: desk.slot, because: .fraud, at: Sample.slotStart.addingTimeInterval(600))
        guard case .appointmentCancelledByService(let cancellation) = plan.events[0].event else { Issue.record("wrong event"); return }
        #expect(cancellation.reason == .fraud)
    }

    @Test("only a booked appointment can be cancelled")
    func cancellingTwice() throws {
        var desk = try Desk()
        try desk.book(0xA1, for: 1)
        try desk.journal.append(try Decide.cancelByApplicant(Sample.uuid(0xA1), of: desk.applicant(1), in: desk.slot, at: desk.now))
        #expect(rejection { try Decide.cancelByService(Sample.uuid(0xA1), of: desk.applicant(1), in: desk.slot, because: .fraud, at: desk.now) } == .appointmentNotActive)
        #expect(rejection { try Decide.cancelByApplicant(Sample.uuid(0xBB), of: desk.applicant(1), in: desk.slot, at: desk.now) } == .appointmentUnknown)
    }

    @Test("reinstatement needs a cancelled appointment and a free place in a slot not withdrawn nor started")
    func reinstatement() throws {
        var desk = try Desk(capacity: 1)
        try desk.book(0xA1, for: 1)
        #expect(rejection { try Decide.reinstate(Sample.uuid(0xA1), of: desk.applicant(1), in: desk.slot, at: desk.now) } == .appointmentNotCancelled)
        try desk.journal.append(try Decide.cancelByApplicant(Sample.uuid(0xA1), of: desk.applicant(1), in: desk.slot, at: desk.now))
        try desk.book(0xA2, for: 2)
        #expect(rejection { try Decide.reinstate(Sample.uuid(0xA1), of: desk.applicant(1), in: desk.slot, at: desk.now) } == .slotCapacityExceeded)
        try desk.journal.append(try Decide.cancelByApplicant(Sample.uuid(0xA2), of: desk.applicant(2), in: desk.slot, at: desk.now))
        #expect(rejection { try Decide.reinstate(Sample.uuid(0xA1), of: desk.applicant(1), in: desk.slot, at: Sample.slotStart) } == .slotAlreadyStarted)
        try desk.journal.append(try Decide.reinstate(Sample.uuid(0xA1), of: desk.applicant(1), in: desk.slot, at: desk.now))
        #expect(desk.slot.holders == [Sample.uuid(0xA1)])
        #expect(desk.applicant(1).appointments[Sample.uuid(0xA1)]?.status == .booked)
    }

    @Test("a cancellation by the service is final: a booking cancelled for fraud does not come back", arguments: [ServiceCancellationReason.fraud, .duplicate, .slotWithdrawn])
    func serviceCancellationsAreNotReinstated(reason: ServiceCancellationReason) throws {
        var desk = try Desk(capacity: 1)
        try desk.book(0xA1, for: 1)
        try desk.journal.append(try Decide.cancelByService(Sample.uuid(0xA1), of: desk.applicant(1), in: desk.slot, because: reason, at: desk.now))
        #expect(desk.slot.holders.isEmpty, "the place is free")
        #expect(rejection { try Decide.reinstate(Sample.uuid(0xA1), of: desk.applicant(1), in: desk.slot, at: desk.now) } == .serviceCancellationIsFinal)
    }

    @Test("reinstatement still respects one active appointment per motif")
    func reinstatementAndDuplicates() throws {
        var desk = try Desk(capacity: 3)
        try desk.book(0xA1, for: 1)
        try desk.journal.append(try Decide.cancelByApplicant(Sample.uuid(0xA1), of: desk.applicant(1), in: desk.slot, at: desk.now))
        try desk.book(0xA2, for: 1)
        #expect(rejection { try Decide.reinstate(Sample.uuid(0xA1), of: desk.applicant(1), in: desk.slot, at: desk.now) } == .oneActiveAppointmentPerMotif)
    }

    @Test("a reschedule moves the place between slots of the same motif")
    func reschedule() throws {
        var desk = try Desk(capacity: 1)
        try desk.book(0xA1, for: 1)
        let laterStart = Sample.slotStart.addingTimeInterval(2 * 86_400)
        let target = Sample.publication(slot: 2, start: laterStart, capacity: 1)
        try desk.journal.append(try Decide.publish(target, onto: SlotState(site: .grenoble, slotId: target.slotId)))
        let targetSlot = desk.journal.slot(.grenoble, target.slotId)
        let plan = try Decide.reschedule(Sample.uuid(0xA1), of: desk.applicant(1), from: desk.slot, to: targetSlot, at: desk.now)
        #expect(plan.events.count == 3)
        try desk.journal.append(plan)
        #expect(desk.slot.holders.isEmpty)
        #expect(desk.journal.slot(.grenoble, target.slotId).holders == [Sample.uuid(0xA1)])
        #expect(desk.applicant(1).appointments[Sample.uuid(0xA1)]?.start == laterStart)

        #expect(rejection { try Decide.reschedule(Sample.uuid(0xA1), of: desk.applicant(1), from: desk.journal.slot(.grenoble, target.slotId), to: desk.journal.slot(.grenoble, target.slotId), at: desk.now) } == .rescheduleToSameSlot)
        let otherMotif = Sample.publication(slot: 3, motif: .handover, start: laterStart)
        try desk.journal.append(try Decide.publish(otherMotif, onto: SlotState(site: .grenoble, slotId: otherMotif.slotId)))
        #expect(rejection { try Decide.reschedule(Sample.uuid(0xA1), of: desk.applicant(1), from: desk.journal.slot(.grenoble, target.slotId), to: desk.journal.slot(.grenoble, otherMotif.slotId), at: desk.now) } == .rescheduleChangesMotif)
        #expect(rejection { try Decide.reschedule(Sample.uuid(0xA1), of: desk.applicant(1), from: desk.journal.slot(.grenoble, target.slotId), to: desk.slot, at: laterStart.addingTimeInterval(-3600)) } == .cancellationCutOffPassed)
    }

    @Test("attendance and no-show are recorded only after the start")
    func attendanceAfterStart() throws {
        var desk = try Desk()
        try desk.book(0xA1, for: 1)
        #expect(rejection { try Decide.checkIn(Sample.uuid(0xA1), of: desk.applicant(1), presenting: Sample.identity(1), at: Sample.slotStart.addingTimeInterval(-60)) } == .appointmentNotStartedYet)
        #expect(rejection { try Decide.recordNoShow(Sample.uuid(0xA1), of: desk.applicant(1), at: Sample.slotStart.addingTimeInterval(-60)) } == .appointmentNotStartedYet)
        let plan = try Decide.checkIn(Sample.uuid(0xA1), of: desk.applicant(1), presenting: Sample.identity(1), at: Sample.slotStart)
        #expect(plan.events.map(\.event.typeName) == ["AppointmentAttended"])
        try desk.journal.append(plan)
        #expect(desk.applicant(1).appointments[Sample.uuid(0xA1)]?.wasGenuinelyUsed == true)
        #expect(rejection { try Decide.recordNoShow(Sample.uuid(0xA1), of: desk.applicant(1), at: Sample.slotStart) } == .appointmentNotActive)
    }

    @Test("a mismatched identity at the counter produces the mismatch event, and the place is not genuinely used")
    func identityMismatch() throws {
        var desk = try Desk()
        try desk.book(0xA1, for: 1)
        let plan = try Decide.checkIn(Sample.uuid(0xA1), of: desk.applicant(1), presenting: Sample.identity(66), at: Sample.slotStart.addingTimeInterval(120))
        #expect(plan.events.map(\.event.typeName) == ["AppointmentAttended", "IdentityMismatchAtCounter"])
        guard case .identityMismatchAtCounter(let mismatch) = plan.events[1].event else { Issue.record("no mismatch"); return }
        #expect(mismatch.presentedIdentityKey == Sample.identity(66))
        try desk.journal.append(plan)
        let appointment = desk.applicant(1).appointments[Sample.uuid(0xA1)]
        #expect(appointment?.status == .attended(identityMatched: false))
        #expect(appointment?.mismatchRecorded == true)
        #expect(appointment?.wasGenuinelyUsed == false)
        #expect(desk.journal.replay().violations == [])
    }

    @Test("a slot sold to several people: every impostor at the counter is recorded, and the holder is still checked in")
    func severalPeopleAtTheCounter() throws {
        var desk = try Desk()
        try desk.book(0xA1, for: 1)
        let at = Sample.slotStart.addingTimeInterval(120)
        try desk.journal.append(try Decide.checkIn(Sample.uuid(0xA1), of: desk.applicant(1), presenting: Sample.identity(66), at: at))
        let second = try Decide.checkIn(Sample.uuid(0xA1), of: desk.applicant(1), presenting: Sample.identity(67), at: at.addingTimeInterval(60))
        #expect(second.events.map(\.event.typeName) == ["IdentityMismatchAtCounter"], "the second buyer is evidence too")
        try desk.journal.append(second)
        let holder = try Decide.checkIn(Sample.uuid(0xA1), of: desk.applicant(1), presenting: Sample.identity(1), at: at.addingTimeInterval(120))
        #expect(holder.events.map(\.event.typeName) == ["AppointmentAttended"])
        try desk.journal.append(holder)
        let appointment = desk.applicant(1).appointments[Sample.uuid(0xA1)]
        #expect(appointment?.wasGenuinelyUsed == true)
        #expect(rejection { try Decide.checkIn(Sample.uuid(0xA1), of: desk.applicant(1), presenting: Sample.identity(1), at: at.addingTimeInterval(180)) } == .appointmentNotActive,
                "the holder is checked in once")
        let third = try Decide.checkIn(Sample.uuid(0xA1), of: desk.applicant(1), presenting: Sample.identity(68), at: at.addingTimeInterval(240))
        #expect(third.events.map(\.event.typeName) == ["IdentityMismatchAtCounter"], "and an impostor after the holder as well")
        try desk.journal.append(third)
        #expect(desk.journal.replay().violations == [])
    }

    @Test("an attendance whose identity check failed is refused without its mismatch event in the same append")
    func failedCheckWithoutItsEvidence() throws {
        var desk = try Desk()
        try desk.book(0xA1, for: 1)
        let plan = try Decide.checkIn(Sample.uuid(0xA1), of: desk.applicant(1), presenting: Sample.identity(66), at: Sample.slotStart.addingTimeInterval(120))
        #expect(validateAppend(plan.envelopes) == [], "the check-in command's own append passes")
        let alone = validateAppend(Array(plan.envelopes.prefix(1)))
        #expect(alone.map(\.rule) == ["evidence.mismatchMissing"], "\(alone)")
        #expect(alone.first?.eventIndex == 0)
        let matched = try Decide.checkIn(Sample.uuid(0xA1), of: desk.applicant(1), presenting: Sample.identity(1), at: Sample.slotStart.addingTimeInterval(120))
        #expect(validateAppend(matched.envelopes) == [], "a matched identity needs no mismatch event")
    }

    @Test("a mismatch event without a failed identity check breaks a rule")
    func mismatchWithoutFailedCheck() throws {
        var desk = try Desk()
        try desk.book(0xA1, for: 1)
        let mismatch = DomainEvent.identityMismatchAtCounter(IdentityMismatchAtCounter(
            appointmentId: Sample.uuid(0xA1), identityKey: Sample.identity(1), site: .grenoble, slotId: Sample.uuid(1), occurredAt: Sample.slotStart))
        #expect(throws: Rejection.self) { try desk.applicant(1).check(mismatch) }
        do { try desk.applicant(1).check(mismatch) } catch { #expect(error.rule == .mismatchWithoutFailedCheck) }
    }

    @Test("the server refuses business times too far from its clock, either way")
    func businessClock() throws {
        let clock = BusinessClock(maximumSkew: 120)
        let now = Sample.releaseTime
        try clock.check(occurredAt: now.addingTimeInterval(-120), serverNow: now)
        try clock.check(occurredAt: now.addingTimeInterval(120), serverNow: now)
        let late = #expect(throws: Rejection.self) { try clock.check(occurredAt: now.addingTimeInterval(-121), serverNow: now) }
        #expect(late?.rule == .businessTimeTooFarFromServerClock)
        #expect(late?.message == "occurredAt 2024-09-03T08:57:59Z is 121 s behind the server clock (2024-09-03T09:00:00Z); at most 120 s are accepted")
        #expect(throws: Rejection.self) { try clock.check(occurredAt: now.addingTimeInterval(3600), serverNow: now) }
    }

    @Test("time rules use business time, so an imported history from 2024 replays cleanly today")
    func businessTimeNotRecordingTime() throws {
        var desk = try Desk()
        try desk.book(0xA1, for: 1)
        try desk.journal.append(try Decide.checkIn(Sample.uuid(0xA1), of: desk.applicant(1), presenting: Sample.identity(1), at: Sample.slotStart.addingTimeInterval(300)))
        #expect(desk.journal.replay().violations == [])
    }

    @Test("evidence is recorded in its fingerprint stream without a version guard")
    func evidence() throws {
        let flagged = Sample.everyEvent.first { $0.typeName == "BookingFlagged" }!
        let plan = try Decide.recordEvidence(flagged)
        #expect(plan.expectedVersions == [StreamName.fingerprint(Sample.fingerprint(1)).description: .any])
        #expect(rejection { try Decide.recordEvidence(Sample.everyEvent[0]) } == .wrongStream)
    }
}
