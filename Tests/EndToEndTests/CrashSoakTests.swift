import Foundation
import Testing
@testable import Journal
#if canImport(Glibc)
import Glibc
#endif

/// A writer process appending from several tasks is SIGKILLed at random moments, many times, on
/// the same journal. `make soak` runs it with REGISTRE_SOAK_COUNT=200 (`--filter Soak`).
///
/// After every kill the whole journal is read and verified again, so one journal is kept for an
/// epoch of `epochLength` kills (the run in `make test` is one epoch) and then replaced by a new
/// one: a long soak then costs time in proportion to its count instead of its square (60 kills
/// on one journal took close to an hour in a debug build).
@Suite(.serialized) struct CrashSoakTests {
    static var iterations: Int {
        ProcessInfo.processInfo.environment["REGISTRE_SOAK_COUNT"].flatMap(Int.init) ?? 12
    }

    static let epochLength = 12

    @Test func everyAcknowledgedAppendSurvivesRepeatedSIGKILLAndNoAppendIsHalfVisible() throws {
        let scratch = ScratchDirectory("crash")
        var dir = scratch.file("journal-0")
        var acked: [UUID: (ack: CrashAck, part: Int)] = [:]
        var truncations = 0
        var rng = SystemRandomNumberGenerator()
        var clock = PhaseClock()
        var previous: [CrashEvent] = []
        var keptAppends = 0
        var mostSegments = 0

        for iteration in 0..<Self.iterations {
            if iteration > 0, iteration % Self.epochLength == 0 {
                // A new journal for the next epoch; this one was verified after its last kill.
                keptAppends += acked.count / 3
                mostSegments = max(mostSegments, segmentFiles(in: dir).count)
                try FileManager.default.removeItem(atPath: dir)
                dir = scratch.file("journal-\(iteration / Self.epochLength)")
                acked = [:]
                previous = []
            }
            let runMillis = UInt32.random(in: 50...400, using: &rng)
            let writer = try Child(["crash-writer", "--journal", dir, "--tasks", "4", "--segment-size", "20000"])
            usleep(runMillis * 1000)
            writer.signal(SIGKILL)
            let outcome = writer.wait(timeout: 30)
            let context = "iteration \(iteration) (killed after \(runMillis) ms)"
            guard outcome.signaled, outcome.status == SIGKILL else {
                Issue.record("\(context): the writer was not killed by SIGKILL: \(outcome)")
                return
            }
            let (acks, junk) = CrashAck.parse(outcome.stdout)
            #expect(junk.isEmpty, "\(context): \(junk.prefix(3))")
            for ack in acks {
                for (k, id) in ack.ids.enumerated() { acked[id] = (ack, k) }
            }
            // The crashed journal as the kill left it: only a torn tail (a note), never damage.
            if !segmentFiles(in: dir).isEmpty {
                let before = try JournalVerifier.verify(directory: dir)
                #expect(before.isClean, "\(context): verifying the crashed journal before recovery: \(before.findings.prefix(3))")
            }

            clock.lap("kill+verify crashed")
            // Restart: recovery truncates a torn tail.
            let journal = try Journal.open(directory: dir, options: quietOptions(segmentSize: 20000))
            truncations += journal.recovery.truncations.count
            clock.lap("open")
            let all = try allEvents(dir)
            clock.lap("read all")
            let byID = Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            var missing: [String] = []
            func check(_ id: UUID, _ ack: CrashAck, _ part: Int, _ found: RecordedEvent?, via: String) {
                guard let e = found else { missing.append("\(id) (group \(ack.group) part \(part)) is gone (\(via))"); return }
                let c = CrashEvent(e)
                if e.position != ack.firstPosition + UInt64(part) || c?.group != ack.group || c?.part != part || c?.task == nil {
                    missing.append("\(via): \(id) should be part \(part) of group \(ack.group) at position \(ack.firstPosition + UInt64(part)), found \(e.stream) at \(e.position): \(String(decoding: e.data, as: UTF8.self).prefix(120))")
                }
            }
            // Every acknowledged event, ever, through a full read...
            for (id, (ack, part)) in acked where missing.count < 5 { check(id, ack, part, byID[id], via: "JournalReader") }
            // ...and through the id index: this run's acks and a sample of the older ones.
            let older = acked.keys.shuffled(using: &rng).prefix(100)
            for (id, ack, part) in acks.flatMap({ a in a.ids.enumerated().map { (id: $1, ack: a, part: $0) } }) + older.map({ ($0, acked[$0]!.ack, acked[$0]!.part) })
            where missing.count < 10 {
                check(id, ack, part, try journal.event(id: id), via: "Journal.event(id:)")
            }
            #expect(missing.isEmpty, "\(context): acknowledged events lost or altered: \(missing)")

            #expect(UInt64(all.count) == journal.endPosition, "\(context): the reader sees \(all.count) events, the journal \(journal.endPosition)")
            clock.lap("event(id:)")
            let parsed = all.compactMap(CrashEvent.init)
            #expect(parsed.count == all.count, "\(context): \(all.count - parsed.count) events do not carry the writer's data")
            // Earlier iterations checked their events: those must be unchanged, and the rest whole.
            let problems = problemsExtending(previous, with: parsed) + problemsInCrashJournal(parsed.dropFirst(previous.count), from: UInt64(previous.count))
            previous = parsed
            #expect(problems.isEmpty, "\(context): \(problems)")
            journal.close()
            clock.lap("atomicity")

            let report = try JournalVerifier.verify(directory: dir)
            #expect(report.isClean, "\(context): \(report.findings.prefix(3))")
            #expect(report.eventCount == UInt64(all.count))
            clock.lap("verify")
            let cli = try registre(["verify", "--journal", dir], timeout: 60)
            clock.lap("registre verify")
            #expect(cli.exited(0) && cli.out.contains("verified: no damage"), "\(context): registre verify: \(cli)")
            if !problems.isEmpty || !missing.isEmpty || !report.isClean { return }
        }
        // Make sure the loop exercised what it claims: acks, and seals (several segments).
        keptAppends += acked.count / 3
        mostSegments = max(mostSegments, segmentFiles(in: dir).count)
        #expect(keptAppends > 0, "no append was ever acknowledged")
        #expect(mostSegments > 1, "no segment was ever sealed")
        let epochs = (Self.iterations + Self.epochLength - 1) / Self.epochLength
        print("crash soak: \(Self.iterations) kills on \(epochs) journal\(epochs == 1 ? "" : "s"), \(keptAppends) acknowledged appends kept, \(truncations) torn tails truncated, up to \(mostSegments) segments a journal; seconds per phase: \(clock)")
    }
}

/// Where the soak's time goes, printed with its summary.
struct PhaseClock: CustomStringConvertible {
    private var last = Date()
    private var totals: [(String, Double)] = []

    mutating func lap(_ phase: String) {
        let now = Date()
        if let k = totals.firstIndex(where: { $0.0 == phase }) { totals[k].1 += now.timeIntervalSince(last) } else { totals.append((phase, now.timeIntervalSince(last))) }
        last = now
    }

    var description: String { totals.map { "\($0.0) \(String(format: "%.1f", $0.1))" }.joined(separator: ", ") }
}
