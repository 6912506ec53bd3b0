import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `registre project --checkpoint FILE`: whatever is at FILE, or at FILE.partial where the new
/// checkpoint is written, is refused by what it is, never waited on nor written through.
@Suite(.serialized) struct ProjectCheckpointFileTests {
    private func project(_ journal: String, out: String, checkpoint: String) throws -> Outcome {
        // A FIFO opened without O_NONBLOCK blocks for ever: the timeout turns that into a failure.
        try registre(["project", "--journal", journal, "--out", out, "--checkpoint", checkpoint], timeout: 20)
    }

    private func fileType(_ path: String) -> mode_t? {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & S_IFMT : nil
    }

    @Test func aFIFOOrADirectoryGivenAsTheCheckpointIsRefusedAtOnceByWhatItIs() throws {
        let scratch = ScratchDirectory("checkpoint-fifo")
        let journal = scratch.file("j")
        try writeJournal(journal, count: 30)
        let fifo = scratch.file("pipe.ckpt")
        #expect(mkfifo(fifo, 0o600) == 0)
        let directory = scratch.file("directory.ckpt")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        for (path, what) in [(fifo, "a FIFO"), (directory, "a directory")] {
            let outcome = try project(journal, out: scratch.file("tables"), checkpoint: path)
            #expect(outcome.exited(2), "\(outcome)")
            #expect(outcome.err.contains("the checkpoint cannot be used: \(path) cannot be opened: it is \(what), not a regular file"), "\(outcome)")
            #expect(!FileManager.default.fileExists(atPath: scratch.file("tables")), "nothing is written")
        }
        #expect(fileType(fifo) == S_IFIFO && fileType(directory) == S_IFDIR, "both are left as they were")
    }

    @Test func aFIFOALinkOrASecondNameAtThePartialPathIsRefusedAndNothingIsWrittenThroughIt() throws {
        let scratch = ScratchDirectory("checkpoint-partial")
        let journal = scratch.file("j")
        try writeJournal(journal, count: 30)
        let checkpoint = scratch.file("t.ckpt")
        let partial = checkpoint + ".partial"
        let victim = scratch.file("victim")
        try "precious".write(toFile: victim, atomically: false, encoding: .utf8)
        let cases: [(prepare: () -> Int32, expected: String)] = [
            ({ mkfifo(partial, 0o600) }, "it is a FIFO, not a regular file"),
            ({ symlink(victim, partial) }, "it is a symbolic link, not a regular file"),
            ({ link(victim, partial) }, "it has 2 names (hard links)"),
        ]
        for (prepare, expected) in cases {
            #expect(prepare() == 0)
            let outcome = try project(journal, out: scratch.file("tables"), checkpoint: checkpoint)
            #expect(outcome.exited(1), "\(outcome)")
            #expect(outcome.err.contains("cannot write \(partial): \(expected)"), "\(outcome)")
            #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious", "nothing written through \(partial)")
            #expect(!FileManager.default.fileExists(atPath: checkpoint))
            #expect(unlink(partial) == 0)
        }
        // With the way clear, the same run saves its checkpoint.
        let clear = try project(journal, out: scratch.file("tables"), checkpoint: checkpoint)
        #expect(clear.exited(0), "\(clear)")
        #expect(fileType(checkpoint) == S_IFREG && fileType(partial) == nil)
    }
}
