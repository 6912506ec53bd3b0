import Foundation
import Testing
import Domain

/// A realistic journal built through the decision functions: releases of slots booked out,
/// some cancellations and re-bookings, visits at the counter, and dossiers along their lifecycle.
private func realisticJournal(slots slotCount: Int) throws -> [(stream: String, type: String, data: [UInt8])] {
    var entries: [(stream: String, type: String, data: [UInt8])] = []
    var slots: [UUID: SlotState] = [:]
    var applicants: [IdentityKey: ApplicantState] = [:]
    var dossiers: [UUID: DossierState] = [:]
    func record(_ plan: PlannedAppend) {
        for planned in plan.events {
            entries.append((planned.stream, planned.event.typeName, planned.event.encodedData()))
            switch StreamName(parsing: planned.stream)! {
            case .slot(_, let id): slots[id]!.apply(planned.event)
            case .applicant(let key): applicants[key, default: ApplicantState(identityKey: key)].apply(planned.event)
            case .dossier(let id): dossiers[id, default: DossierState(dossierId: id)].apply(planned.event)
            case .fingerprint: break
            }
        }
    }
    let release = Sample.releaseTime
    var identity = 0
    for n in 0..<slotCount {
        let publication = Sample.publication(slot: n + 1, site: Site.allCases[n % 3], motif: Motif.allCases[n % 4],
                                             category: Category.allCases[n % 6], start: release.addingTimeInterval(Double(7 * 86_400 + n * 60)), capacity: 4)
        slots[publication.slotId] = SlotState(site: publication.site, slotId: publication.slotId)
        record(try Decide.publish(publication, onto: slots[publication.slotId]!))
        for place in 0..<4 {
            identity += 1
            let key = Sample.identity(identity)
            let appointment = Sample.uuid(0x1000_0000 + n * 8 + place)
            record(try Decide.book(appointment, in: slots[publication.slotId]!, for: applicants[key] ?? ApplicantState(identityKey: key),
                                   from: Sample.fingerprint(place), at: release.addingTimeInterval(Double(place))))
            if place == 3 {
                record(try Decide.cancelByApplicant(appointment, of: applicants[key]!, in: slots[publication.slotId]!, at: release.addingTimeInterval(3600)))
                record(try Decide.reinstate(appointment, of: applicants[key]!, in: slots[publication.slotId]!, at: release.addingTimeInterval(7200)))
            }
            record(try Decide.checkIn(appointment, of: applicants[key]!, presenting: place == 2 ? Sample.identity(0) : key, at: publication.start.addingTimeInterval(60)))
        }
        let dossier = DossierState(dossierId: Sample.uuid(0x2000_0000 + n))
        dossiers[dossier.dossierId] = dossier
        record(try Decide.submit(dossier, for: Sample.identity(identity), category: .student, kind: .first, channel: .online, at: .grenoble, on: release))
        for (index, step) in [DossierStep.declareComplete, .captureBiometrics(at: .grenoble, appointmentId: nil), .decide(.granted), .orderProduction, .makeAvailable(at: .grenoble), .handOver(at: .grenoble, appointmentId: nil)].enumerated() {
            record(try Decide.advance(dossiers[dossier.dossierId]!, by: step, at: release.addingTimeInterval(Double(index + 1) * 86_400)))
        }
    }
    return entries
}

@Suite("Replay checker speed")
struct RuleCheckerSpeedTests {
    /// Prints the replay rate. Run with `swift test -c release --filter RuleCheckerSpeed` for the
    /// figure that counts; a debug build is several times slower.
    @Test("a realistic journal built by the decisions replays without violation, and the rate is printed")
    func replayRate() throws {
        let entries = try realisticJournal(slots: 4_000)
        var best = Duration.seconds(1_000)
        for _ in 0..<3 {
            var checker = RuleChecker()
            var violations: [RuleViolation] = []
            let clock = ContinuousClock()
            let elapsed = clock.measure {
                for (position, entry) in entries.enumerated() {
                    violations += checker.check(stream: entry.stream, type: entry.type, data: entry.data, position: UInt64(position))
                }
            }
            #expect(violations == [])
            #expect(checker.eventsChecked == entries.count)
            best = min(best, elapsed)
        }
        let seconds = Double(best.components.seconds) + Double(best.components.attoseconds) / 1e18
        print("RuleChecker: \(entries.count) events in \(String(format: "%.3f", seconds)) s = \(Int(Double(entries.count) / seconds)) events/s on one core")
    }
}
