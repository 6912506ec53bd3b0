import Foundation
import Testing
@testable import Journal
#if canImport(Glibc)
import Glibc
#endif

/// Writes `count` events in-process with small segments, so several are sealed.
func writeJournal(_ directory: String, count: Int, segmentSize: Int = 4000, perAppend: Int = 10) throws {
    let journal = try Journal.open(directory: directory, options: quietOptions(segmentSize: segmentSize))
    defer { journal.close() }
    var i = 0
    while i < count {
        let n = min(perAppend, count - i)
        _ = try journal.appendAndWait(AppendRequest(events: (0..<n).map { k in
            ProposedEvent(stream: "s-\((i + k) % 7)", type: "Happened", id: UUID(), data: Array(#"{"i":\#(i + k),"pad":"\#(String(repeating: "x", count: (i + k) % 40))"}"#.utf8))
        }))
        i += n
    }
}

@Suite(.serialized) struct VerifyCommandTests {
    @Test func verifyExitsZeroOnACleanJournal() throws {
        let scratch = ScratchDirectory("verify-clean")
        try writeJournal(scratch.path, count: 300)
        #expect(segmentFiles(in: scratch.path).count > 2)
        let outcome = try registre(["verify", "--journal", scratch.path])
        #expect(outcome.exited(0), "\(outcome)")
        #expect(outcome.out.contains("300 events") && outcome.out.contains("verified: no damage"), "\(outcome.out)")
    }

    @Test func verifyExitsOneAndNamesTheFileAndByteOfAFlippedByteInASealedSegment() throws {
        let scratch = ScratchDirectory("verify-flip")
        try writeJournal(scratch.path, count: 300)
        let sealed = JournalFormat.segmentName(firstPosition: 0)
        #expect(segmentFiles(in: scratch.path).count > 2 && segmentFiles(in: scratch.path).first == sealed)
        // A byte inside the stored payload of the segment's first frame.
        let frameOffset = JournalFormat.segmentHeaderSize
        let path = scratch.file(sealed)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[frameOffset + JournalFormat.frameHeaderSize + 3] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: path))

        let outcome = try registre(["verify", "--journal", scratch.path])
        #expect(outcome.exited(1), "\(outcome)")
        let damage = outcome.out.split(separator: "\n").filter { $0.hasPrefix("DAMAGE:") }
        #expect(damage.contains { $0.contains(sealed) && $0.contains("byte \(frameOffset)") && $0.contains("badChecksum") },
                "no finding names \(sealed) at byte \(frameOffset): \(outcome.out)")
        #expect(outcome.out.contains("NOT VERIFIED"))
    }

    /// Counts and limits that cannot be met are refused by name before any connection is made
    /// (no server listens on the socket given).
    @Test(arguments: [(["tail", "--count", "0"], "--count"), (["tail", "--count", "-5"], "--count"), (["read", "--limit", "0"], "--limit")])
    func clientCommandsRefuseCountsBelowOne(arguments: [String], option: String) throws {
        let outcome = try registre(arguments + ["--socket", "/tmp/registre-no-such-server.sock"])
        #expect(outcome.exited(64), "\(arguments): \(outcome)")
        #expect(outcome.err.contains(option), "\(arguments): \(outcome.err)")
    }

    /// A negative or out-of-range number is refused before anything runs, naming the option and
    /// the value, instead of being clamped, ignored or left to trap.
    @Test(arguments: [
        (["audit", "--journal", "/tmp/registre-no-such-journal", "--unsigned", "--maximum-findings=-5"], "--maximum-findings must be 0 or more, not -5"),
        // An unknown workload too, so that without the check the command stops at that one and
        // runs no benchmark.
        (["bench", "--compression-level=-3", "--workloads", "W0"], "--compression-level must be between 0 and 19, not -3"),
        (["bench", "--compression-level", "40", "--workloads", "W0"], "--compression-level must be between 0 and 19, not 40"),
        (["crash-writer", "--journal", "JOURNAL", "--tasks=-1"], "--tasks must be at least 1, not -1"),
        (["crash-writer", "--journal", "JOURNAL", "--appends=-2"], "--appends must be at least 1, not -2"),
        (["append", "--socket", "/tmp/registre-no-such-server.sock", "--file", "-", "--batch", "0"], "--batch must be from 1 to 10000, not 0"),
        // Memory grows with the scale: 10,000 was accepted and died of memory.
        (["simulate", "--journal", "JOURNAL", "--scale", "10000"], "--scale must be greater than 0 and at most 100"),
    ])
    func numericOptionsOutOfRangeAreRefusedByNameAndValue(arguments: [String], message: String) throws {
        let scratch = ScratchDirectory("numeric-option")
        let outcome = try registre(arguments.map { $0 == "JOURNAL" ? scratch.file("j") : $0 }, timeout: 60)
        #expect(outcome.exited(64), "\(arguments): \(outcome)")
        #expect(outcome.err.contains(message), "\(arguments): \(outcome.err)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("j")), "\(arguments) opened a journal")
    }

    @Test func verifyExitsTwoWhenTheJournalCannotBeRead() throws {
        let scratch = ScratchDirectory("verify-missing")
        let missing = scratch.file("no-such-journal")
        let outcome = try registre(["verify", "--journal", missing])
        #expect(outcome.exited(2), "\(outcome)")
        #expect(outcome.err.contains(missing), "stderr does not name the directory: \(outcome.err)")
        let empty = try registre(["verify", "--journal", scratch.path])
        #expect(empty.exited(2), "a directory without segments: \(empty)")
    }
}

@Suite(.serialized) struct ReplayAndDemoTests {
    @Test func replayStopsQuietlyWithStatusZeroWhenItsReaderClosesThePipe() throws {
        let scratch = ScratchDirectory("replay-pipe")
        // About 5 MB of NDJSON, several times replay's 1 MiB output buffer.
        try writeJournal(scratch.path, count: 40_000, segmentSize: 64 << 20, perAppend: 1000)
        let replay = try Child(["replay", "--journal", scratch.path], captureOutput: false)
        let reader = replay.outputPipe.fileHandleForReading
        var head = Data()
        while !head.contains(0x0A) {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            head.append(chunk)
        }
        try reader.close()  // `| head -1`
        let outcome = replay.wait(timeout: 60)
        #expect(outcome.exited(0), "\(outcome)")
        #expect(outcome.stderr.isEmpty, "replay wrote to stderr after the pipe closed: \(outcome.err)")
        let first = head.split(separator: 0x0A).first.flatMap { jsonObject($0) }
        #expect((first?["position"] as? NSNumber)?.intValue == 0, "first line: \(String(decoding: head.prefix(300), as: UTF8.self))")
    }

    @Test func replayThroughAShellPipeIntoHeadPrintsOneLineAndNoError() throws {
        let scratch = ScratchDirectory("replay-head")
        try writeJournal(scratch.path, count: 40_000, segmentSize: 64 << 20, perAppend: 1000)
        let outcome = try shell(#""$0" replay --journal "$1" | head -1"#, [RegistreBinary.path, scratch.path], timeout: 60)
        #expect(outcome.exited(0), "\(outcome)")
        #expect(outcome.stderr.isEmpty, "\(outcome.err)")
        #expect(completeLines(outcome.stdout).count == 1 && jsonObject(Array(outcome.out.utf8.dropLast())) != nil, "\(outcome.out.prefix(500))")
    }

    /// The demo at a twentieth of the Isère volume, with its own profile and seed: every step
    /// runs, and the report tells the story with figures, which are read back and checked.
    @Test func aShortenedDemoRunsEveryStepAndItsReportHoldsTheStory() throws {
        let scratch = ScratchDirectory("demo")
        let outcome = try registre(["demo", "--scale", "0.05", "--applicants", "8", "--directory", scratch.path], timeout: 300)
        #expect(outcome.exited(0), "\(outcome)")
        let out = outcome.out
        for heading in ["== Appointments per month", "== Delay from complete file to permit available", "== Slot releases",
                        "== Live bot storm through the socket", "== Most suspicious client fingerprints", "== Audit"] {
            #expect(out.contains(heading), "missing \(heading)")
        }
        let report = DemoOutput(out)

        // The simulation: nothing the domain refused.
        #expect(out.contains(" 0 decisions refused by the domain"), "\(out.prefix(1500))")

        // Appointments per month: the simulated months only, not the live release dated now.
        let months = report.section("Appointments per month").compactMap { $0.firstMatch(of: /^  (\d{4}-\d{2}) +\d/).map { String($0.1) } }
        #expect(months.count >= 20 && months.allSatisfy { $0 >= "2024-01" && $0 <= "2025-12" }, "\(months)")

        // Delays of the first year's dossiers, followed to the end of the second: the press
        // release's 7.5 months (228 days) for family cases and 3.5 (106 days) for students.
        let delays = report.section("Delay from complete file to permit available")
        #expect(delays.first == "  dossiers completed 2024-01 to 2024-12, followed until 2025-12-31", "\(delays)")
        for (category, target) in [("family", 228.0), ("student", 106.0)] {
            let row = delays.lazy.compactMap { $0.firstMatch(of: /^  (\w+) +(\d+) +(\d+) +(\d+) +(\d+) {3}\S/) }.first { $0.1 == category }
            guard let row, let count = Int(row.2), let median = Double(row.3), let open = Int(row.5) else { Issue.record("no \(category) row in \(delays)"); continue }
            #expect(count > 100, "\(category): \(count) dossiers")
            #expect(abs(median - target) / target < 0.15, "\(category): median \(median) days, press release \(target)")
            // The cohort had time to finish: a history that ended while most family files were
            // still running (124 of 180 in one simulated year) kept only the fast ones.
            #expect(open * 20 <= count, "\(category): \(open) dossiers still open beside \(count) with a permit")
        }
        #expect(out.contains("2.5 months"), "the press release's figures stand beside the delays")

        // The live storm: the bots took most of the release, genuine applicants few places, and
        // the server kept every rule.
        let storm = try #require(report.section("Live bot storm through the socket").first)
        let figures = try #require(storm.firstMatch(of: /(\d+) places in \d+ slots; \d+ bot fingerprints took (\d+) of them within [\d.]+ s, genuine applicants took (\d+) \((\d+) of (\d+) applicants got a place\)/), "\(storm)")
        let places = Int(figures.1)!, bots = Int(figures.2)!, genuine = Int(figures.3)!, applicants = Int(figures.4)!
        #expect(places > 0 && bots * 2 > places && genuine * 4 <= places, "\(storm)")
        #expect(applicants == genuine && Int(figures.5) == 8, "each applicant stops at their first place: \(storm)")
        #expect(storm.hasSuffix("no slot overbooked, no identity given two appointments for one motif"), "\(storm)")

        // At least one fingerprint flagged, with a rule and evidence.
        let suspects = report.section("Most suspicious client fingerprints")
        #expect(suspects.contains { $0.contains("…  score ") }, "\(suspects)")
        #expect(suspects.contains { $0.hasPrefix("      ") && $0.contains("observed, threshold") && $0.contains("(evidence: ") }, "\(suspects)")

        #expect(report.section("Audit").first?.hasPrefix("  CLEAN: ") == true, "the audit of a simulated history must be clean: \(report.section("Audit"))")

        let html = try String(contentsOfFile: scratch.path + "/report.html", encoding: .utf8)
        #expect(html.contains("<svg"), "charts are inline SVG")
        #expect(html.contains("Audit verdict") && html.contains("Abuse ranking") && html.contains("bookings per second"))
        #expect(!html.contains("http://") && !html.contains("https://") && !html.contains("src="), "the report loads nothing from the network")
    }
}

/// The demo's terminal report, by section (`== Title` up to the next one).
struct DemoOutput {
    let lines: [String]
    init(_ text: String) { lines = text.components(separatedBy: "\n") }

    /// The lines of the first section whose title starts with `title`, heading excluded.
    func section(_ title: String) -> [String] {
        guard let start = lines.firstIndex(where: { $0.hasPrefix("== " + title) }) else { return [] }
        let rest = lines[(start + 1)...]
        return Array(rest.prefix { !$0.hasPrefix("== ") && !$0.isEmpty })
    }
}

/// The state a SIGKILL leaves when it lands inside a seal, between creating the next segment
/// (open with O_CREAT|O_TRUNC) and writing its header: a sealed segment with its index, and an
/// empty or partly written next segment. The random kills of the soak test hit this window only
/// rarely, so it is made here on purpose.
@Suite(.serialized) struct CrashMidSealTests {
    /// Writes until a seal has just happened, closes, and cuts the new segment to `keep` bytes.
    private func journalKilledMidSeal(_ directory: String, keep: Int) throws -> (events: Int, newSegment: String) {
        let journal = try Journal.open(directory: directory, options: quietOptions(segmentSize: 3000))
        var i = 0
        while journal.segmentCount < 3 {
            _ = try journal.appendAndWait(AppendRequest(events: [ProposedEvent(stream: "s-\(i % 3)", type: "T", id: UUID(), data: Array(#"{"i":\#(i)}"#.utf8))]))
            i += 1
            // The writer seals after acknowledging: when this frame filled the segment, wait for
            // the seal, so that no further append lands in the new segment.
            let sealDue = journal.lock.withLock { journal.openEnd >= 3000 }
            if sealDue { #expect(eventually(timeout: 10) { journal.lock.withLock { journal.openEnd } < 3000 }, "the seal did not happen") }
        }
        let end = journal.endPosition
        journal.close()
        let newSegment = JournalFormat.segmentName(firstPosition: end)
        #expect(segmentFiles(in: directory).last == newSegment)
        #expect(truncate(directory + "/" + newSegment, off_t(keep)) == 0)
        return (Int(end), newSegment)
    }

    @Test(arguments: [0, 40])
    func aSegmentWhoseHeaderWasNeverWrittenIsATornTailForVerifyReadersAndRecovery(keep: Int) throws {
        let scratch = ScratchDirectory("midseal")
        let (count, newSegment) = try journalKilledMidSeal(scratch.path, keep: keep)

        let report = try JournalVerifier.verify(directory: scratch.path)
        #expect(report.isClean, "verify calls an unfinished segment header damage: \(report.findings)")
        let cli = try registre(["verify", "--journal", scratch.path])
        #expect(cli.exited(0), "\(cli)")

        #expect(throws: Never.self, "a reader of the crashed journal") { _ = try JournalReader(directory: scratch.path).read() }
        let replay = try registre(["replay", "--journal", scratch.path])
        #expect(replay.exited(0) && completeLines(replay.stdout).count == count, "\(replay)")

        let journal = try Journal.open(directory: scratch.path, options: quietOptions(segmentSize: 3000))
        #expect(journal.recovery.truncations.map(\.file) == [newSegment])
        #expect(journal.endPosition == UInt64(count))
        #expect(try journal.appendAndWait(AppendRequest(events: [ProposedEvent(stream: "after", type: "T", data: Array("{}".utf8))])).firstPosition == UInt64(count))
        journal.close()
        #expect(try JournalVerifier.verify(directory: scratch.path).isClean)
    }
}
