import Foundation
import Journal
import Testing
@testable import Projections

/// The `registre` binary built beside the tests (`swift build --build-tests` puts both in
/// `.build/<configuration>/`); `REGISTRE_BINARY` overrides it.
enum RegistreBinary {
    static let path: String = {
        if let explicit = ProcessInfo.processInfo.environment["REGISTRE_BINARY"] { return explicit }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("registre").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/registre").path
    }()

    struct Run {
        var status: Int32
        var out: String
        var err: String
    }

    /// Runs the binary to completion; its output goes through files so that it never blocks on a pipe.
    static func run(_ arguments: [String], in dir: String) throws -> Run {
        let outPath = dir + "/stdout-\(UUID().uuidString.prefix(8))", errPath = dir + "/stderr-\(UUID().uuidString.prefix(8))"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { unlink(outPath); unlink(errPath) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try process.run()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, out: try String(contentsOfFile: outPath, encoding: .utf8),
                   err: try String(contentsOfFile: errPath, encoding: .utf8))
    }
}

/// Every file of a directory with its bytes.
func filesIn(_ dir: String) throws -> [String: Data] {
    var out: [String: Data] = [:]
    for name in try FileManager.default.contentsOfDirectory(atPath: dir) {
        out[name] = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
    }
    return out
}

@Suite("registre project, resumed from a checkpoint (the real binary)")
struct ProjectCommandTests {
    @Test("runs that stop at checkpoints and resume give byte-identical tables to a rebuild from zero, in json, csv and sqlite",
          arguments: ["json", "csv", "sqlite"])
    func resumedRunsMatchRebuild(format: String) throws {
        let dir = TemporaryDirectory("project-resume-\(format)")
        let journal = dir.path + "/journal"
        let events = try combinedHistory().write(to: journal)
        let zero = try RegistreBinary.run(["project", "--journal", journal, "--out", dir.path + "/zero", "--format", format], in: dir.path)
        #expect(zero.status == 0, "\(zero.err)")
        let reference = try filesIn(dir.path + "/zero")
        #expect(reference.count == (format == "sqlite" ? 1 : ProjectionTables.all.count + 1))

        // Three runs share one checkpoint: to a cut inside an append, to a later cut, then to the end.
        let checkpoint = dir.path + "/state.ckpt"
        let inside = try #require(events.firstIndex { !$0.endsAppend }) + 1
        let cuts = [inside, events.count / 2]
        for (k, cut) in cuts.enumerated() {
            let run = try RegistreBinary.run(["project", "--journal", journal, "--out", dir.path + "/cut\(k)", "--format", format,
                                              "--until-position", String(cut), "--checkpoint", checkpoint], in: dir.path)
            #expect(run.status == 0, "\(run.err)")
            #expect(run.out.contains("checkpoint at position \(cut) saved"), "\(run.out)")
            #expect(k == 0 || run.out.contains("resumed from the checkpoint at \(cuts[k - 1])"), "\(run.out)")
            // An intermediate run equals a rebuild from zero to the same position.
            let direct = try RegistreBinary.run(["project", "--journal", journal, "--out", dir.path + "/direct\(k)", "--format", format,
                                                 "--until-position", String(cut)], in: dir.path)
            #expect(direct.status == 0, "\(direct.err)")
            #expect(try filesIn(dir.path + "/cut\(k)") == (try filesIn(dir.path + "/direct\(k)")), "cut at \(cut)")
        }
        let last = try RegistreBinary.run(["project", "--journal", journal, "--out", dir.path + "/resumed", "--format", format,
                                           "--checkpoint", checkpoint], in: dir.path)
        #expect(last.status == 0, "\(last.err)")
        #expect(last.out.contains("folded \(events.count - cuts[1]) events (positions \(cuts[1])..<\(events.count), resumed from the checkpoint at \(cuts[1]))"), "\(last.out)")
        let resumed = try filesIn(dir.path + "/resumed")
        #expect(resumed.keys.sorted() == reference.keys.sorted())
        for (name, bytes) in reference { #expect(resumed[name] == bytes, "\(name) differs") }
        // Nothing new: a run at the end folds nothing and still writes the same tables.
        let again = try RegistreBinary.run(["project", "--journal", journal, "--out", dir.path + "/again", "--format", format,
                                            "--checkpoint", checkpoint], in: dir.path)
        #expect(again.status == 0 && again.out.contains("folded 0 events"), "\(again.out)\(again.err)")
        #expect(try filesIn(dir.path + "/again") == reference)
    }

    @Test("a checkpoint from another journal, a damaged one and one ahead of the journal are refused, and nothing is written")
    func badCheckpointsAreRefused() throws {
        let dir = TemporaryDirectory("project-refuse")
        let journal = dir.path + "/journal", other = dir.path + "/other", short = dir.path + "/short"
        let history = try combinedHistory()
        let events = try history.write(to: journal)
        try history.write(to: other)
        let shorter = History()
        shorter.plans = Array(history.plans.prefix(3))
        let shortEvents = try shorter.write(to: short)
        let checkpoint = dir.path + "/state.ckpt"
        let cut = events.count / 2
        let first = try RegistreBinary.run(["project", "--journal", journal, "--out", dir.path + "/first", "--until-position", String(cut),
                                            "--checkpoint", checkpoint], in: dir.path)
        #expect(first.status == 0, "\(first.err)")
        let saved = try Data(contentsOf: URL(fileURLWithPath: checkpoint))

        func refused(_ journalPath: String, _ expected: String, extra: [String] = []) throws {
            let out = dir.path + "/refused-\(UUID().uuidString.prefix(6))"
            let run = try RegistreBinary.run(["project", "--journal", journalPath, "--out", out, "--checkpoint", checkpoint] + extra, in: dir.path)
            #expect(run.status == 2, "\(run.out)\(run.err)")
            #expect(run.err.contains(expected), "\(run.err)")
            #expect(!FileManager.default.fileExists(atPath: out), "no output for a refused checkpoint")
        }
        // The same decisions written again have other event ids: another journal.
        try refused(other, "was taken on another journal")
        #expect(shortEvents.count < cut)
        try refused(short, "the checkpoint is ahead of the journal")
        try refused(journal, "past the requested position 3", extra: ["--until-position", "3"])
        // The pinned clock commits the first appends in the first seconds of 2024-09-01.
        try refused(journal, "after the requested --as-of time", extra: ["--as-of", "2024-09-01T00:00:02Z"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: checkpoint)) == saved, "a refused run keeps the checkpoint")

        // One flipped byte in the state, then a truncated file, then something else entirely.
        var flipped = saved
        flipped[saved.count / 2] ^= 0x01
        try flipped.write(to: URL(fileURLWithPath: checkpoint))
        try refused(journal, "is damaged or not a checkpoint of `registre project`: checksum mismatch")
        try saved.prefix(saved.count - 10).write(to: URL(fileURLWithPath: checkpoint))
        try refused(journal, "is damaged or not a checkpoint")
        try Data("{\"position\": 3}".utf8).write(to: URL(fileURLWithPath: checkpoint))
        try refused(journal, "is damaged or not a checkpoint")
        // Section lengths near 2^64 in an intact-looking trailer: refused, not an overflow trap.
        for (field, value) in [(8, UInt64.max - 15), (0, UInt64.max / 8), (8, UInt64(saved.count))] {
            var crafted = saved
            let at = saved.count - CheckpointFile.trailerSize + field
            crafted.replaceSubrange(at..<(at + 8), with: withUnsafeBytes(of: value.littleEndian) { Data($0) })
            try crafted.write(to: URL(fileURLWithPath: checkpoint))
            try refused(journal, "its sections do not add up to its size")
        }
    }
}
