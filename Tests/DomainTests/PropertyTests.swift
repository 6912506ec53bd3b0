import Foundation
import PropertyBased
import Synchronization
import Testing
import Domain

/// A small prefecture driven by random commands through the decision functions.
/// Commands that a rule refuses are simply dropped, as the server would refuse them.
private struct World {
    var journal = MemoryJournal()
    var now = Sample.releaseTime
    var nextAppointment = 0xA000
    let publications: [SlotPublished] = [
        Sample.publication(slot: 1, site: .grenoble, motif: .filing, start: Sample.releaseTime.addingTimeInterval(2 * 86_400), capacity: 1),
        Sample.publication(slot: 2, site: .vienne, motif: .filing, start: Sample.releaseTime.addingTimeInterval(3 * 86_400), capacity: 2),
        Sample.publication(slot: 3, site: .laTourDuPin, motif: .biometrics, start: Sample.releaseTime.addingTimeInterval(2 * 86_400 + 3600), capacity: 2),
    ]
    let applicants = (1...4).map(Sample.identity)

    init() throws {
        for publication in publications {
            try journal.append(try Decide.publish(publication, onto: SlotState(site: publication.site, slotId: publication.slotId)))
        }
    }

    func slot(_ index: Int) -> SlotState { journal.slot(publications[index].site, publications[index].slotId) }
    func slot(of appointment: ApplicantState.Appointment) -> SlotState { journal.slot(appointment.site, appointment.slotId) }

    /// Decodes one integer into a command and plays it; returns whether an append happened.
    mutating func perform(_ code: Int) throws -> Bool {
        let applicant = journal.applicant(applicants[(code / 10) % 4])
        let slotIndex = (code / 40) % 3
        let pick = (code / 120) % 3
        let appointments = applicant.appointments.values.sorted { $0.appointmentId.uuidString < $1.appointmentId.uuidString }
        let appointment = appointments.isEmpty ? nil : appointments[pick % appointments.count]
        let plan: PlannedAppend?
        do {
            switch code % 10 {
            case 0, 1:
                nextAppointment += 1
                plan = try Decide.book(Sample.uuid(nextAppointment), in: slot(slotIndex), for: applicant, from: Sample.fingerprint(code % 3), at: now)
            case 2:
                plan = try appointment.map { try Decide.cancelByApplicant($0.appointmentId, of: applicant, in: slot(of: $0), at: now) }
            case 3:
                plan = try appointment.map { try Decide.cancelByService($0.appointmentId, of: applicant, in: slot(of: $0), because: .fraud, at: now) }
            case 4:
                plan = try appointment.map { try Decide.reinstate($0.appointmentId, of: applicant, in: slot(of: $0), at: now) }
            case 5:
                plan = try appointment.map { try Decide.reschedule($0.appointmentId, of: applicant, from: slot(of: $0), to: slot(slotIndex), at: now) }
            case 6:
                let presented = pick == 0 ? Sample.identity(99) : applicant.identityKey
                plan = try appointment.map { try Decide.checkIn($0.appointmentId, of: applicant, presenting: presented, at: now) }
            case 7:
                plan = try appointment.map { try Decide.recordNoShow($0.appointmentId, of: applicant, at: now) }
            case 8:
                now = now.addingTimeInterval(Double((code / 360) % 20 + 1) * 3600)
                plan = nil
            default:
                plan = try Decide.withdraw(slot(slotIndex), because: .staffShortage, at: now)
            }
        } catch let rejection as Rejection {
            _ = rejection
            return false
        }
        guard let plan else { return false }
        try journal.append(plan)
        return true
    }

    /// The invariants that must hold after every append.
    func checkInvariants() {
        for index in publications.indices {
            let slot = slot(index)
            #expect(slot.holders.count <= publications[index].capacity, "slot \(index) over capacity")
            let notCancelled = applicants.flatMap { journal.applicant($0).appointments.values }
                .filter { $0.slotId == slot.slotId && !$0.status.isCancelled }
                .map(\.appointmentId)
            #expect(slot.holders == Set(notCancelled), "slot \(index) and applicant streams disagree")
        }
        for identity in applicants {
            let state = journal.applicant(identity)
            for motif in Motif.allCases {
                #expect(state.appointments.values.filter { $0.motif == motif && $0.isActive(at: now) }.count <= 1)
            }
            for appointment in state.appointments.values where appointment.mismatchRecorded {
                guard case .attended = appointment.status else {
                    Issue.record("a mismatch recorded for appointment \(appointment.appointmentId) that nobody attended")
                    continue
                }
            }
        }
    }
}

/// Folds every stream again from events decoded from their encoded bytes.
private func foldDecoded(_ journal: MemoryJournal) throws -> [String: [DomainEvent]] {
    var decoded: [String: [DomainEvent]] = [:]
    for (stream, events) in journal.streams {
        decoded[stream] = try events.map { try DomainEvent.decode(type: $0.typeName, data: $0.encodedData(), eventIndex: 0) }
    }
    return decoded
}

@Suite("Properties")
struct PropertyTests {
    @Test("random appointment commands never break an invariant, and replaying their events rebuilds the same state")
    func appointmentCommands() async {
        let appendedInAllRuns = Mutex(0)
        await propertyCheck(count: 120, input: Gen.int(in: 0...1_000_000).array(of: 1...80)) { codes in
            var world = try World()
            world.checkInvariants()
            var appended = 0
            for code in codes where try world.perform(code) {
                appended += 1
                world.checkInvariants()
            }
            appendedInAllRuns.withLock { [appended] in $0 += appended }
            let (checker, violations) = world.journal.replay()
            #expect(violations == [])
            let decoded = try foldDecoded(world.journal)
            #expect(decoded == world.journal.streams, "events changed through encoding")
            for publication in world.publications {
                #expect(checker.slot(site: publication.site, slotId: publication.slotId) == world.journal.slot(publication.site, publication.slotId))
            }
            for identity in world.applicants where world.journal.streams[StreamName.applicant(identity).description] != nil {
                #expect(checker.applicant(identity) == world.journal.applicant(identity))
            }
        }
        // The invariants were checked after commands that did append, not only on refusals.
        #expect(appendedInAllRuns.withLock { $0 } > 0)
    }

    @Test("random dossier steps follow the lifecycle, keep the first completion date, and replay without violation")
    func dossierSteps() async {
        let id = Sample.uuid(0xD1)
        await propertyCheck(count: 150, input: Gen.int(in: 0...1_000_000).array(of: 1...40)) { codes in
            var journal = MemoryJournal()
            var now = Sample.releaseTime
            try journal.append(try Decide.submit(DossierState(dossierId: id), for: Sample.identity(1), category: .student, kind: .first, channel: .online, at: .grenoble, on: now))
            var firstCompletion: Date?
            var sawAvailable = false
            var consultation = 0xC000
            for code in codes {
                now = now.addingTimeInterval(Double(code % 50) * 86_400 / 7)
                let before = journal.dossier(id)
                let step: DossierStep = switch (code / 50) % 14 {
                case 0: .requestDocuments(["proof-of-address"], dueBy: now.addingTimeInterval(30 * 86_400))
                case 1: .receiveDocuments(["proof-of-address"])
                case 2: .declareComplete
                case 3: .issueProvisionalPermit(.receipt, validFrom: now, validUntil: now.addingTimeInterval(90 * 86_400))
                case 4: .captureBiometrics(at: .grenoble, appointmentId: nil)
                case 5: .requestConsultation(Sample.uuid(consultation + 1), from: .labour)
                case 6: .answerConsultation(Sample.uuid(consultation), outcome: .favourable)
                case 7: .decide(code % 3 == 0 ? .refused : .granted)
                case 8: .orderProduction
                case 9: .makeAvailable(at: .grenoble)
                case 10: .handOver(at: .grenoble, appointmentId: nil)
                case 11: code % 5 == 0 ? .withdraw : .declareComplete
                case 12: .closeForNoFollowUp
                default: .reachImplicitRejectionDeadline
                }
                guard let plan = try? Decide.advance(before, by: step, at: now) else { continue }
                try journal.append(plan)
                if case .requestConsultation = step { consultation += 1 }
                let after = journal.dossier(id)
                #expect(before.status?.isOpen == true, "a closed dossier moved")
                if let firstCompletion { #expect(after.completedAt == firstCompletion) }
                firstCompletion = after.completedAt
                if after.status == .available { sawAvailable = true }
                if after.status == .handedOver { #expect(sawAvailable) }
                if after.status == .available { #expect(before.status == .inProduction) }
                if after.status == .inProduction { #expect(before.status == .granted) }
                if after.status == .granted || after.status == .refused { #expect(before.status == .underReview) }
            }
            let (checker, violations) = journal.replay()
            #expect(violations == [])
            #expect(checker.dossier(id) == journal.dossier(id))
            #expect(try foldDecoded(journal) == journal.streams)
        }
    }
}
