import Audit
import Domain
import ArgumentParser
import Foundation
import Journal

/// The `audit` workload of `registre bench`: a journal of valid history, signed as the server
/// signs it, audited in full (frames, chain, Merkle, checkpoints, ids and the domain rules).
extension BenchCommand {
    func auditWorkload(directory: String, events target: Int) throws -> [BenchRow] {
        let signer = CheckpointSigner()
        // Kept beside the journal, so a kept run (`--keep`) can be audited again by hand.
        guard FileManager.default.createFile(atPath: directory + ".key", contents: Data(signer.fileContents.utf8), attributes: [.posixPermissions: 0o600]),
              FileManager.default.createFile(atPath: directory + ".pub", contents: Data(signer.publicKey.fileContents.utf8))
        else { throw ValidationError("cannot write the audit workload's keys beside \(directory)") }
        var options = JournalOptions()
        options.durability = .relaxed
        options.compressionLevel = compressionLevel
        options.checkpointSigner = signer
        options.checkpointEvery = 100_000
        let journal = try Journal.open(directory: directory, options: options)
        var history = ValidHistory()
        let bar = ProgressBar("audit: writing", total: UInt64(target))
        while journal.endPosition < UInt64(target) {
            var batch: [ProposedEvent] = []
            for _ in 0..<8 { batch += try history.nextSlot() }
            _ = try journal.appendAndWait(AppendRequest(events: batch))
            bar.update(journal.endPosition)
        }
        bar.finish()
        journal.close()

        var rows: [BenchRow] = []
        for rules in [true, false] {
            var audit = AuditOptions()
            audit.publicKey = signer.publicKey
            audit.checkRules = rules
            let progress = ProgressBar(rules ? "audit" : "audit without rules")
            let report = try Auditor.audit(directory: directory, options: audit) { done, _ in progress.update(done, unit: "bytes") }
            progress.finish()
            rows.append(BenchRow(
                workload: "audit", system: rules ? "registre" : "registre-integrity-only", events: Int(report.events), seconds: report.seconds,
                notes: "\(rules ? "CRC, zstd, chain, Merkle, \(report.checkpointsVerified) signed checkpoints, unique ids, and the domain rules on \(audit.ruleShards) shard thread(s)" : "the same without the domain rules"); \(report.findingTotal) findings"))
        }
        return rows
    }
}

/// A valid history built through the domain's decisions, one slot at a time: publication, three
/// bookings (one cancelled and reinstated), three visits, one evidence event, and a dossier from
/// submission to hand-over. About 25 events a slot, each slot independent of the others, so
/// memory stays flat however long it runs.
struct ValidHistory {
    private var slot = 0
    private static let release = UTCTime.parse("2024-09-03T09:00:00Z")!

    private static func hash(_ kind: UInt64, _ n: Int) -> Hash256 {
        var rng = SplitMix64(seed: kind &* 0x1_0000_0001 &+ UInt64(n))
        return Hash256(hex: rng.hex(64))!
    }

    private static func uuid(_ kind: UInt64, _ n: Int) -> UUID {
        var rng = SplitMix64(seed: kind &* 0x9E37_79B9 &+ UInt64(n))
        return rng.uuid()
    }

    mutating func nextSlot() throws -> [ProposedEvent] {
        slot += 1
        let n = slot
        var out: [ProposedEvent] = []
        var slotState = SlotState(site: Site.allCases[n % 3], slotId: Self.uuid(1, n))
        var applicants: [IdentityKey: ApplicantState] = [:]
        var dossier = DossierState(dossierId: Self.uuid(2, n))
        var next = 0
        func record(_ plan: PlannedAppend) {
            for planned in plan.events {
                next += 1
                out.append(ProposedEvent(stream: planned.stream, type: planned.event.typeName, id: Self.uuid(3, n * 64 + next), data: planned.event.encodedData()))
                switch StreamName(parsing: planned.stream)! {
                case .slot: slotState.apply(planned.event)
                case .applicant(let key): applicants[key, default: ApplicantState(identityKey: key)].apply(planned.event)
                case .dossier: dossier.apply(planned.event)
                case .fingerprint: break
                }
            }
        }
        let release = Self.release.addingTimeInterval(Double(n / 500) * 3600)
        let start = release.addingTimeInterval(Double(7 * 86_400 + (n % 5000) * 60))
        record(try Decide.publish(SlotPublished(slotId: slotState.slotId, site: slotState.site, motif: .filing, category: Category.allCases[n % 6],
                                                start: start, durationMinutes: 20, counter: "guichet \(1 + n % 9)", capacity: 3,
                                                releaseId: Self.uuid(4, n / 500), occurredAt: release), onto: slotState))
        var identity = IdentityKey(Self.hash(5, n * 4))
        for place in 0..<3 {
            identity = IdentityKey(Self.hash(5, n * 4 + place))
            let appointment = Self.uuid(6, n * 4 + place)
            record(try Decide.book(appointment, in: slotState, for: applicants[identity] ?? ApplicantState(identityKey: identity),
                                   from: Fingerprint(Self.hash(7, n % 400 + place)), at: release.addingTimeInterval(Double(place))))
            if place == 2 {
                record(try Decide.cancelByApplicant(appointment, of: applicants[identity]!, in: slotState, at: release.addingTimeInterval(3600)))
                record(try Decide.reinstate(appointment, of: applicants[identity]!, in: slotState, at: release.addingTimeInterval(7200)))
            }
            record(try Decide.checkIn(appointment, of: applicants[identity]!, presenting: identity, at: start.addingTimeInterval(60)))
        }
        record(try Decide.recordEvidence(.rateLimitTriggered(RateLimitTriggered(
            fingerprint: Fingerprint(Self.hash(7, n % 400)), windowSeconds: 60, limit: 30, observed: 31 + n % 500, occurredAt: release))))
        record(try Decide.submit(dossier, for: identity, category: .student, kind: .first, channel: .online, at: .grenoble, on: release))
        let steps: [DossierStep] = [.declareComplete, .captureBiometrics(at: .grenoble, appointmentId: nil), .decide(.granted), .orderProduction,
                                    .makeAvailable(at: .grenoble), .handOver(at: .grenoble, appointmentId: nil)]
        for (k, step) in steps.enumerated() {
            record(try Decide.advance(dossier, by: step, at: release.addingTimeInterval(Double(k + 1) * 86_400)))
        }
        return out
    }
}
