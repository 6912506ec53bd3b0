import Domain
import Foundation
import Journal

/// Writes a realistic history through the decision functions, for the rebuild benchmark: weekly
/// releases of slots raced for by applicants and a few bots, cancellations and reinstatements,
/// visits at the counter (some by someone else), and dossiers along every path of their lifecycle.
///
/// Each decision is one append, as a server would make it; every event passes the catalogue's
/// validation. Deterministic for a seed.
public struct HistoryGenerator {
    private var rng: Generator
    private var counter: UInt64 = 0
    private var clock: Date
    private let bots: [Fingerprint]

    public init(seed: UInt64 = 2024) {
        rng = Generator(state: seed)
        clock = Date(timeIntervalSince1970: 1_704_186_000) // 2024-01-02T09:00:00Z
        var botRng = Generator(state: seed ^ 0xB07)
        bots = (0..<4).map { _ in Fingerprint(Hash256(hex: botRng.hex64())!) }
    }

    /// Appends rounds of history to `journal` until it holds at least `events` more events.
    /// `progress` is called with the number of events written so far.
    public mutating func write(events target: Int, to journal: Journal, progress: (Int) -> Void = { _ in }) throws {
        var written = 0
        while written < target {
            // Each decision is its own append; queued without waiting, so the writer packs them
            // into frames as it would for a busy server. One round is waited for at a time.
            let outcome = RoundOutcome()
            let plans = try round()
            for (n, plan) in plans.enumerated() {
                let isLast = n == plans.count - 1
                try journal.enqueueAppend(AppendRequest(events: plan.envelopes.map {
                    ProposedEvent(stream: $0.stream, type: $0.type, data: $0.data)
                })) { result in outcome.record(result, isLast: isLast) }
            }
            written += try outcome.wait()
            progress(written)
        }
    }

    /// Counts a round's committed events and keeps its first error; `wait` returns once the last
    /// append of the round (committed after all the others) is done.
    private final class RoundOutcome: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private let lock = NSLock()
        private var events = 0
        private var error: JournalError?

        func record(_ result: Result<AppendResult, JournalError>, isLast: Bool) {
            lock.lock()
            switch result {
            case .success(let r): events += Int(r.lastPosition - r.firstPosition + 1)
            case .failure(let e): if error == nil { error = e }
            }
            lock.unlock()
            if isLast { done.signal() }
        }

        func wait() throws -> Int {
            done.wait()
            lock.lock()
            defer { lock.unlock() }
            if let error { throw error }
            return events
        }
    }

    /// One week: a release of slots and everything that follows it, and a batch of dossiers.
    mutating func round() throws -> [PlannedAppend] {
        var plans: [PlannedAppend] = []
        var slots: [UUID: SlotState] = [:]
        var applicants: [IdentityKey: ApplicantState] = [:]
        var dossiers: [UUID: DossierState] = [:]
        func record(_ plan: PlannedAppend) {
            plans.append(plan)
            for planned in plan.events {
                switch StreamName(parsing: planned.stream)! {
                case .slot(_, let id): slots[id]!.apply(planned.event)
                case .applicant(let key): applicants[key, default: ApplicantState(identityKey: key)].apply(planned.event)
                case .dossier(let id): dossiers[id, default: DossierState(dossierId: id)].apply(planned.event)
                case .fingerprint: break
                }
            }
        }
        let release = clock
        clock = clock.addingTimeInterval(7 * 86_400)
        let releaseId = uuid()
        let site = Site.allCases[rng.below(3)]
        var published: [SlotPublished] = []
        for n in 0..<40 {
            let slot = SlotPublished(slotId: uuid(), site: site, motif: Motif.allCases[rng.below(4)], category: Domain.Category.allCases[rng.below(6)],
                                     start: release.addingTimeInterval(Double(7 * 86_400 + rng.below(21) * 86_400 + n * 900)), durationMinutes: 15,
                                     counter: "guichet \(1 + rng.below(8))", capacity: 1 + rng.below(3), releaseId: releaseId, occurredAt: release)
            slots[slot.slotId] = SlotState(site: site, slotId: slot.slotId)
            record(try Decide.publish(slot, onto: slots[slot.slotId]!))
            published.append(slot)
        }
        var booked: [(appointment: UUID, identity: IdentityKey, slot: SlotPublished, bot: Bool)] = []
        for slot in published {
            for _ in 0..<slot.capacity where rng.below(10) < 9 {
                let bot = rng.below(10) < 3
                let identity = IdentityKey(Hash256(hex: rng.hex64())!)
                let fingerprint = bot ? bots[rng.below(bots.count)] : Fingerprint(Hash256(hex: rng.hex64())!)
                let at = release.addingTimeInterval(bot ? Double(1 + rng.below(20)) : Double(30 + rng.below(3600)))
                let appointment = uuid()
                record(try Decide.book(appointment, in: slots[slot.slotId]!, for: ApplicantState(identityKey: identity), from: fingerprint, at: at))
                booked.append((appointment, identity, slot, bot))
            }
        }
        for entry in booked {
            let roll = rng.below(100)
            if roll < (entry.bot ? 25 : 6) {
                record(try Decide.cancelByApplicant(entry.appointment, of: applicants[entry.identity]!, in: slots[entry.slot.slotId]!, at: release.addingTimeInterval(7200)))
                if rng.below(3) == 0 {
                    record(try Decide.reinstate(entry.appointment, of: applicants[entry.identity]!, in: slots[entry.slot.slotId]!, at: release.addingTimeInterval(9000)))
                } else {
                    continue
                }
            }
            let visit = entry.slot.start.addingTimeInterval(120)
            if rng.below(100) < 7 {
                record(try Decide.recordNoShow(entry.appointment, of: applicants[entry.identity]!, at: visit))
            } else {
                let someoneElse = entry.bot && rng.below(100) < 15
                let presented = someoneElse ? IdentityKey(Hash256(hex: rng.hex64())!) : entry.identity
                record(try Decide.checkIn(entry.appointment, of: applicants[entry.identity]!, presenting: presented, at: visit))
            }
        }
        for bot in bots where rng.below(2) == 0 {
            let minute = Date(timeIntervalSince1970: (release.timeIntervalSince1970 / 60).rounded(.down) * 60)
            record(try Decide.recordEvidence(.bookingAttemptsRejected(BookingAttemptsRejected(
                fingerprint: bot, minute: minute, rule: .slotCapacityExceeded, count: 20 + rng.below(400), occurredAt: release.addingTimeInterval(60)))))
        }
        for _ in 0..<60 { try dossierLife(start: release.addingTimeInterval(Double(rng.below(7 * 86_400))), state: { dossiers[$0] ?? DossierState(dossierId: $0) }, record: record) }
        return plans
    }

    private mutating func dossierLife(start: Date, state: (UUID) -> DossierState, record: (PlannedAppend) -> Void) throws {
        let id = uuid()
        let category = Domain.Category.allCases[rng.below(6)]
        var at = start
        func step(_ s: DossierStep, after days: Double) throws {
            at = at.addingTimeInterval(days * 86_400)
            record(try Decide.advance(state(id), by: s, at: at))
        }
        record(try Decide.submit(state(id), for: IdentityKey(Hash256(hex: rng.hex64())!), category: category, kind: DossierKind.allCases[rng.below(3)],
                                 channel: FilingChannel.allCases[rng.below(3)], at: Site.allCases[rng.below(3)], on: at))
        let path = rng.below(100)
        if path < 20 {
            try step(.requestDocuments(["proof-of-address"], dueBy: at.addingTimeInterval(30 * 86_400)), after: 3)
            if path < 4 { try step(.closeForNoFollowUp, after: 40); return }
            try step(.receiveDocuments(["proof-of-address"]), after: 10)
        }
        if path >= 96 { try step(.withdraw, after: 5); return }
        try step(.declareComplete, after: 2)
        try step(.issueProvisionalPermit(.receipt, validFrom: at, validUntil: at.addingTimeInterval(90 * 86_400)), after: 1)
        try step(.captureBiometrics(at: .grenoble, appointmentId: nil), after: Double(5 + rng.below(20)))
        let months: Double = switch category { case .worker: 2.5; case .student: 3.5; case .family: 7.5; default: 4 }
        if rng.below(3) == 0 {
            let consultation = uuid()
            try step(.requestConsultation(consultation, from: .labour), after: 5)
            try step(.answerConsultation(consultation, outcome: .favourable), after: 15)
        }
        if months > 4, let completed = state(id).completedAt {
            let due = UTCTime.adding(months: 4, to: completed).addingTimeInterval(86_400)
            try step(.reachImplicitRejectionDeadline, after: max(0, due.timeIntervalSince(at) / 86_400))
        }
        try step(.decide(rng.below(10) == 0 ? .refused : .granted), after: Double(rng.below(30)))
        guard state(id).status == .granted else { return }
        try step(.orderProduction, after: 3)
        try step(.makeAvailable(at: .grenoble), after: months * 30 - 60)
        try step(.handOver(at: .grenoble, appointmentId: nil), after: Double(3 + rng.below(20)))
    }

    private mutating func uuid() -> UUID {
        counter += 1
        let a = rng.next(), b = counter
        return UUID(uuid: (UInt8(truncatingIfNeeded: a), UInt8(truncatingIfNeeded: a >> 8), UInt8(truncatingIfNeeded: a >> 16), UInt8(truncatingIfNeeded: a >> 24),
                           UInt8(truncatingIfNeeded: a >> 32), UInt8(truncatingIfNeeded: a >> 40), 0x40 | UInt8(truncatingIfNeeded: a >> 48) & 0x0F, UInt8(truncatingIfNeeded: a >> 56),
                           0x80 | UInt8(truncatingIfNeeded: b >> 56) & 0x3F, UInt8(truncatingIfNeeded: b >> 48), UInt8(truncatingIfNeeded: b >> 40), UInt8(truncatingIfNeeded: b >> 32),
                           UInt8(truncatingIfNeeded: b >> 24), UInt8(truncatingIfNeeded: b >> 16), UInt8(truncatingIfNeeded: b >> 8), UInt8(truncatingIfNeeded: b)))
    }

    /// SplitMix64: small, fast and seedable.
    struct Generator {
        var state: UInt64

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

        mutating func hex64() -> String {
            let digits = Array("0123456789abcdef".utf8)
            var out = [UInt8]()
            out.reserveCapacity(64)
            for _ in 0..<4 {
                var word = next()
                for _ in 0..<16 {
                    out.append(digits[Int(word & 0xF)])
                    word >>= 4
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}

/// What `rebuildBenchmark` measured.
public struct RebuildMeasurement: Sendable {
    public var events: UInt64
    public var seconds: Double
    /// CPU time of the folding thread: on a shared machine, wall time also counts other work.
    public var cpuSeconds: Double
    public var eventsPerSecond: Double { Double(events) / max(seconds, 1e-9) }
    /// Slots, releases, appointments, dossiers and fingerprints held at the end.
    public var entities: Int
    /// Growth of resident memory over the fold, from /proc/self/status (0 where unavailable).
    public var residentBytesGrowth: Int
    public var bytesPerEntity: Double { Double(residentBytesGrowth) / Double(max(entities, 1)) }
}

extension ProjectionRebuild {
    /// Folds all four projections over `journal` from zero on the calling thread, writing
    /// nothing, and reports the rate: the figure `registre bench --workloads rebuild` prints.
    public static func rebuildBenchmark(journal: String) throws(ProjectionError) -> RebuildMeasurement {
        let before = residentBytes()
        let cpuBefore = threadCPUSeconds()
        var set = ProjectionSet()
        let report = try fold(journal: journal, into: &set)
        let cpu = threadCPUSeconds() - cpuBefore
        let after = residentBytes()
        return RebuildMeasurement(events: report.events, seconds: report.seconds, cpuSeconds: cpu, entities: set.entityCount,
                                  residentBytesGrowth: max(0, after - before))
    }

    static func threadCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    static func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) else { return 0 }
        return kb * 1024
    }
}

#if canImport(Glibc)
import Glibc
#endif
