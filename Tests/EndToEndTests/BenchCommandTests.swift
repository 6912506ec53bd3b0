import Foundation
import Testing

/// `registre bench` run for real, small: every socket workload answers, and a directory the user
/// names keeps what it held before.
@Suite("bench command")
struct BenchCommandTests {
    private func bench(_ arguments: [String], environment: String = "") throws -> Outcome {
        try shell(environment + #" "$0" bench "$@""#, [RegistreBinary.path] + arguments, timeout: 300)
    }

    private func rows(_ outcome: Outcome) -> [[String: Any]] {
        completeLines(outcome.stdout).compactMap { jsonObject(Array($0.utf8)) }
    }

    private func row(_ rows: [[String: Any]], _ workload: String, _ system: String) throws -> [String: Any] {
        try #require(rows.first { $0["workload"] as? String == workload && $0["system"] as? String == system },
                     "no \(workload) row for \(system) in \(rows)")
    }

    @Test func socketWorkloadsRunOnTheSimulatedMixAndLeaveTheNamedDirectoryAsItWas() throws {
        let scratch = ScratchDirectory("bench-socket")
        let directory = scratch.file("mine")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data("keep me\n".utf8).write(to: URL(fileURLWithPath: directory + "/notes.txt"))

        let outcome = try bench(["--workloads", "W1,W2,W4", "--count", "2000", "--directory", directory],
                                environment: "REGISTRE_BENCH_W2_SECONDS=1 REGISTRE_BENCH_W4_ATTEMPTS=12000")
        #expect(outcome.exited(0), "\(outcome)")
        let rows = rows(outcome)
        // The simulated mix holds ids of version 8 (commands' events): the socket copies must pass.
        #expect(try row(rows, "W1", "registre")["events"] as? Int == 2000)
        #expect(try row(rows, "W1", "registre-socket")["events"] as? Int == 2000)
        #expect(try row(rows, "W2", "raw-groupcommit")["events"] as? Int ?? 0 > 0)
        let w2 = try row(rows, "W2", "registre-socket")
        #expect(w2["events"] as? Int ?? 0 > 0)
        #expect((w2["notes"] as? String ?? "").contains("; 0 failures;"), "\(w2)")
        // 12,000 random attempts leave a slot untried with odds of about 1 in a million.
        let w4 = try row(rows, "W4", "registre-socket")
        #expect((w4["notes"] as? String ?? "").hasPrefix("bookings 500 (must be 500)"), "\(w4)")

        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["notes.txt"])
        #expect(FileManager.default.contents(atPath: directory + "/notes.txt") == Data("keep me\n".utf8))
    }

    @Test func refusesToStartOverAnEntryItWouldWriteAndLeavesItAlone() throws {
        let scratch = ScratchDirectory("bench-taken")
        let directory = scratch.file("mine")
        try FileManager.default.createDirectory(atPath: directory + "/w1", withIntermediateDirectories: true)
        try Data("precious".utf8).write(to: URL(fileURLWithPath: directory + "/w1/file"))

        let outcome = try bench(["--workloads", "W1", "--count", "200", "--directory", directory])
        #expect(!outcome.exited(0))
        #expect(outcome.err.contains("already holds w1"), "\(outcome)")
        #expect(FileManager.default.contents(atPath: directory + "/w1/file") == Data("precious".utf8))
    }

    @Test func refusesCountsBelowOneAndUnusableTuningVariablesByName() throws {
        let negative = try bench(["--workloads", "rebuild", "--rebuild-events=-5"])
        #expect(negative.exited(64), "\(negative)")
        #expect(negative.err.contains("--rebuild-events must be at least 1, not -5"), "\(negative)")

        let scratch = ScratchDirectory("bench-tuning")
        let seconds = try bench(["--workloads", "W2", "--count", "200", "--directory", scratch.file("d")],
                                environment: "REGISTRE_BENCH_W2_SECONDS=-1")
        #expect(!seconds.exited(0))
        #expect(seconds.err.contains("REGISTRE_BENCH_W2_SECONDS=-1"), "\(seconds)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("d")), "a directory the run made is removed")
    }
}
