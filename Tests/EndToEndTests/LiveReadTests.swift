import Foundation
import Testing
@testable import Journal
#if canImport(Glibc)
import Glibc
#endif

/// Reading while another process writes: `registre replay`, `JournalReader` and `registre verify`
/// against a journal that a live `crash-writer` (small segments, so it seals often) appends to.
@Suite(.serialized) struct LiveReadTests {
    @Test func readersOfALiveJournalSeeGrowingPrefixesOfWholeAppendsAndVerifyPasses() throws {
        let scratch = ScratchDirectory("live")
        let dir = scratch.file("journal")
        let writer = try Child(["crash-writer", "--journal", dir, "--tasks", "4", "--segment-size", "20000"])
        defer { _ = writer.killAndReap() }
        #expect(eventually(timeout: 20) { !segmentFiles(in: dir).isEmpty }, "the writer never created a segment")

        var longest: [CrashEvent] = []
        var sizesSeen: Set<Int> = []
        var replays = 0, reads = 0, verifies = 0
        var failures = 0
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline, failures == 0 {
            // A replay process.
            let replay = try registre(["replay", "--journal", dir], timeout: 60)
            replays += 1
            if !replay.exited(0) || !replay.stderr.isEmpty {
                Issue.record("replay of the live journal: \(replay)")
                failures += 1
            }
            let lines = completeLines(replay.stdout)
            #expect(replay.stdout.isEmpty || replay.stdout.last == 0x0A, "replay output ends mid-line")
            let fromReplay = lines.compactMap { CrashEvent(replayLine: $0) }
            #expect(fromReplay.count == lines.count, "\(lines.count - fromReplay.count) replay lines do not parse")
            for problem in problemsInCrashJournal(fromReplay) + problemsExtending(longest, with: fromReplay) {
                Issue.record("replay snapshot of \(fromReplay.count) events: \(problem)")
                failures += 1
            }
            if fromReplay.count > longest.count { longest = fromReplay }
            sizesSeen.insert(fromReplay.count)

            // An in-process reader.
            do {
                let read = try JournalReader(directory: dir).read()
                reads += 1
                let events = read.compactMap(CrashEvent.init)
                #expect(events.count == read.count, "\(read.count - events.count) events read in-process do not carry the writer's data")
                for problem in problemsInCrashJournal(events) + problemsExtending(longest, with: events) {
                    Issue.record("in-process snapshot of \(events.count) events: \(problem)")
                    failures += 1
                }
                if events.count > longest.count { longest = events }
                sizesSeen.insert(events.count)
            } catch {
                Issue.record("JournalReader on the live journal threw: \(error)")
                failures += 1
            }

            // Verification of the live journal: an in-progress tail is only a note.
            if replays % 2 == 0 {
                let verify = try registre(["verify", "--journal", dir], timeout: 60)
                verifies += 1
                if !verify.exited(0) {
                    Issue.record("registre verify on the live journal: \(verify)")
                    failures += 1
                }
            }
        }
        #expect(writer.process.isRunning, "the writer stopped by itself: \(writer.wait(timeout: 1))")
        writer.signal(SIGKILL)
        let outcome = writer.wait(timeout: 30)
        let (acks, junk) = CrashAck.parse(outcome.stdout)
        #expect(junk.isEmpty, "\(junk.prefix(3))")

        // After the writer is gone, the reader (which does not recover) still sees every ack.
        let final = try JournalReader(directory: dir).read().compactMap(CrashEvent.init)
        #expect(problemsInCrashJournal(final).isEmpty, "\(problemsInCrashJournal(final))")
        #expect(problemsExtending(longest, with: final).isEmpty, "\(problemsExtending(longest, with: final))")
        let byID = Dictionary(final.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var lost: [String] = []
        for ack in acks {
            for (k, id) in ack.ids.enumerated() where byID[id]?.position != ack.firstPosition + UInt64(k) || byID[id]?.group != ack.group {
                lost.append("\(id) of group \(ack.group)")
            }
        }
        #expect(lost.isEmpty, "acknowledged events missing after the writer died: \(lost.prefix(5))")
        // The loop must have watched the journal grow and seal, or it proved nothing.
        #expect(sizesSeen.count >= 3, "snapshots of only \(sizesSeen.count) sizes: \(sizesSeen.sorted())")
        #expect(segmentFiles(in: dir).count > 1, "no seal happened while reading")
        print("live reads: \(replays) replays, \(reads) in-process reads, \(verifies) verifies, \(acks.count) acks, \(segmentFiles(in: dir).count) segments")
    }
}
