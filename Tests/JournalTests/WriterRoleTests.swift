import Foundation
import Synchronization
import Testing
@testable import Journal

/// A blocking `appendAndWait` commits on the caller's thread when nothing is queued or being
/// written, and otherwise hands its append to the writer thread: either way one batch is written
/// at a time and no append overtakes one queued before it from the same thread.
@Suite struct WriterRoleTests {
    /// An append's completion runs on the writer thread; closing the journal there would wait for
    /// that thread to stop. It stops the process with a message instead of hanging it.
    @Test func closingInsideACompletionOnTheWriterThreadStopsWithAMessageInsteadOfHanging() async {
        await #expect(processExitsWith: .failure) {
            let dir = NSTemporaryDirectory() + "registre-close-in-completion-\(UUID().uuidString.prefix(8))"
            let journal = try Journal.open(directory: dir, options: testOptions(segmentSize: 1 << 20))
            let done = DispatchSemaphore(value: 0)
            try journal.enqueueAppend(AppendRequest(events: [event("s", data: "{}")])) { _ in
                journal.close()
                done.signal()
            }
            // Had close() waited for its own thread, the child would hang here: give up and exit
            // successfully, which fails the test.
            _ = done.wait(timeout: .now() + 10)
            exit(0)
        }
    }

    @Test func appendsQueuedAndWaitedForFromManyThreadsCommitInEachThreadsOrder() throws {
        let dir = TemporaryDirectory("writer-role")
        // Small segments, so seals happen on callers' threads and on the writer thread alike.
        let journal = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 8 << 10))
        let threads = 6, appends = 300
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let stream = "thread-\(t)"
            var last: DispatchSemaphore? = nil
            for i in 0..<appends {
                // Each append expects the version its predecessor from this thread made: one
                // that overtook a queued predecessor would find the stream a version short.
                let request = AppendRequest(events: [event(stream, data: #"{"i":\#(i)}"#)],
                                            expectedVersions: [stream: i == 0 ? .noStream : .exact(UInt64(i - 1))])
                do {
                    if i % 3 == 2 {
                        _ = try journal.appendAndWait(request)
                    } else {
                        let done = DispatchSemaphore(value: 0)
                        try journal.enqueueAppend(request) { result in
                            if case .failure(let error) = result { failures.withLock { $0.append("\(stream) #\(i): \(error)") } }
                            done.signal()
                        }
                        last = done
                    }
                } catch {
                    failures.withLock { $0.append("\(stream) #\(i): \(error)") }
                }
            }
            last?.wait()
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0.prefix(5) })")
        journal.close()

        let reopened = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 8 << 10))
        defer { reopened.close() }
        #expect(reopened.endPosition == UInt64(threads * appends), "every append committed, positions gapless")
        #expect(dir.segmentFiles().count > 2, "seals happened during the run")
        for t in 0..<threads {
            let events = try reopened.readStream("thread-\(t)")
            #expect(events.map { String(decoding: $0.data, as: UTF8.self) } == (0..<appends).map { #"{"i":\#($0)}"# })
        }
        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.isClean, "\(report.findings.prefix(3))")
    }
}
