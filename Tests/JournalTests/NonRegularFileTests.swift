import Foundation
import Glibc
import Testing
@testable import Journal

/// A FIFO, a device or a directory where a segment or an index should be: opening one must be an
/// error naming it, at once, never an open(2) or a read that waits for a writer for ever.
@Suite struct NonRegularFileTests {
    let dir = TemporaryDirectory("fifo")

    /// Two sealed segments and the open one, closed.
    private func writeJournal() throws -> [UUID] {
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000))
        try fill(j, count: 60)
        let ids = try j.readAll(limit: 1_000).map(\.id)
        j.close()
        #expect(dir.segmentFiles().count >= 3)
        return ids
    }

    private func replaceWithFIFO(_ path: String) throws {
        try FileManager.default.removeItem(atPath: path)
        #expect(mkfifo(path, 0o644) == 0)
    }

    private func isFIFORefused(_ outcome: Result<Void, any Error>?, path: String) -> Bool {
        guard case .failure(JournalError.notAJournal(let named, let reason))? = outcome else { return false }
        return named == path && reason == "it is a FIFO, not a regular file"
    }

    @Test(arguments: ["sealed", "open"])
    func aFIFOInPlaceOfASegmentIsRefusedByNameByTheWriterTheReaderAndTheVerifier(segment: String) throws {
        _ = try writeJournal()
        let names = dir.segmentFiles()
        let fifo = dir.file(segment == "sealed" ? names[1] : names.last!)
        try replaceWithFIFO(fifo)

        let opened = finishes(unblocking: [fifo]) { try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000)).close() }
        #expect(isFIFORefused(opened, path: fifo), "writer open: \(String(describing: opened))")
        let read = finishes(unblocking: [fifo]) { _ = try JournalReader(directory: dir.path).read() }
        #expect(isFIFORefused(read, path: fifo), "reader: \(String(describing: read))")
        let verified = finishes(unblocking: [fifo]) { _ = try JournalVerifier.verify(directory: dir.path) }
        #expect(isFIFORefused(verified, path: fifo), "verifier: \(String(describing: verified))")
        // Nothing was created or written over it.
        var st = stat()
        #expect(lstat(fifo, &st) == 0 && st.st_mode & S_IFMT == S_IFIFO)
    }

    /// An index is rebuildable: the verifier reports the FIFO, a reader reads without it, and the
    /// writer rebuilds the index in its place while opening, as for any unsound index.
    @Test func aFIFOInPlaceOfAnIndexIsReportedAndRebuiltInsteadOfBlocking() throws {
        let ids = try writeJournal()
        let sealed = dir.segmentFiles()[0]
        let indexName = "index/" + sealed.replacingOccurrences(of: ".seg", with: ".idx")
        let fifo = dir.file(indexName)
        try replaceWithFIFO(fifo)

        var report: VerificationReport? = nil
        let verified = finishes(unblocking: [fifo]) { report = try JournalVerifier.verify(directory: dir.path) }
        #expect(throws: Never.self) { try verified?.get() }
        #expect(report?.findings.contains { $0.file == indexName && $0.kind == .badIndex && $0.detail.contains("it is a FIFO, not a regular file") } == true,
                "\(String(describing: report?.findings))")

        var read: [UUID] = []
        // From position 5, the reader would look the position up in the segment's index.
        let reading = finishes(unblocking: [fifo]) { read = try JournalReader(directory: dir.path).read(from: 5).map(\.id) }
        #expect(throws: Never.self) { try reading?.get() }
        #expect(read == Array(ids[5...]))

        var rebuilt: [String] = []
        let opened = finishes(unblocking: [fifo]) {
            let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000))
            rebuilt = j.recovery.rebuiltIndexes
            j.close()
        }
        #expect(throws: Never.self) { try opened?.get() }
        #expect(rebuilt == [sealed])
        var st = stat()
        #expect(lstat(fifo, &st) == 0 && st.st_mode & S_IFMT == S_IFREG)
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
    }

    @Test func aDirectoryOrADeviceIsRefusedByNameAndADirectoryOpenedAsOneIsNot() throws {
        #expect {
            try FileDescriptor.open(dir.path, flags: O_RDONLY)
        } throws: { error in
            error as? JournalError == .notAJournal(path: dir.path, reason: "it is a directory, not a regular file")
        }
        #expect {
            try FileDescriptor.open("/dev/zero", flags: O_RDONLY)
        } throws: { error in
            error as? JournalError == .notAJournal(path: "/dev/zero", reason: "it is a character device, not a regular file")
        }
        #expect(throws: Never.self) { try FileDescriptor.syncDirectory(dir.path) }
        // A regular file is opened without O_NONBLOCK left on it.
        let file = try FileDescriptor.open(dir.file("plain"), flags: O_RDWR | O_CREAT)
        #expect(fcntl(file.fd, F_GETFL) & O_NONBLOCK == 0)
    }
}

/// Runs `body` on a thread of its own and waits for it at most `seconds`. A body still running by
/// then is blocked opening or reading one of `fifos`: opening each for writing and closing it
/// releases it, so a regression fails this test instead of hanging the whole run. Nil on a timeout.
func finishes(within seconds: Double = 10, unblocking fifos: [String], _ body: @escaping () throws -> Void) -> Result<Void, any Error>? {
    final class Outcome: @unchecked Sendable {
        var result: Result<Void, any Error>?
        let body: () throws -> Void
        init(_ body: @escaping () throws -> Void) { self.body = body }
    }
    let outcome = Outcome(body)
    let done = DispatchSemaphore(value: 0)
    Thread {
        outcome.result = Result { try outcome.body() }
        done.signal()
    }.start()
    if done.wait(timeout: .now() + seconds) == .success { return outcome.result }
    Issue.record("still blocked after \(seconds) s")
    repeat {
        for fifo in fifos {
            let fd = Glibc.open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }
    } while done.wait(timeout: .now() + 0.1) == .timedOut
    return nil
}
