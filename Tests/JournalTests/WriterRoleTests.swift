import Foundation
import Synchronization
import Testing
@testable import Journal

/// A blocking `appendAndWait` commits on the caller's thread when nothing is queued or being
/// written, and otherwise hands its append to the writer thread: either way one batch is written
/// at a time and no append overtakes one queued before it from the same thread.
@Suite struct WriterRoleTests {
    /// `close()` while a blocking append holds the writer's role on its caller's thread, with
    /// appends queued behind it: the writer thread, asleep because the role is taken, is woken
    /// when the role is given back, drains the queue, and only then does `close()` return; an
    /// append made after `close()` began is refused as closed.
    @Test func closingWhileACallerHoldsTheRoleDrainsTheQueuedAppendsFirst() throws {
        let dir = TemporaryDirectory("writer-role-close")
        let reached = DispatchSemaphore(value: 0), proceed = DispatchSemaphore(value: 0)
        let holding = Mutex(true)
        var options = testOptions()
        options.onCommit = { _ in
            // The first commit is the blocking append's, on its caller's thread: hold the role there.
            guard holding.withLock({ let first = $0; $0 = false; return first }) else { return }
            reached.signal()
            _ = proceed.wait(timeout: .now() + 30)
        }
        let journal = try Journal.open(directory: dir.path, options: options)
        let holder = Mutex<Result<AppendResult, any Error>?>(nil)
        let holderDone = DispatchSemaphore(value: 0)
        Thread {
            holder.withLock { $0 = Result { try journal.appendAndWait(AppendRequest(events: [event("held")])) } }
            holderDone.signal()
        }.start()
        #expect(reached.wait(timeout: .now() + 30) == .success, "the blocking append never committed")

        let queued = Mutex<[Result<AppendResult, JournalError>]>([])
        let queuedDone = DispatchSemaphore(value: 0)
        for k in 0..<5 {
            try journal.enqueueAppend(AppendRequest(events: [event("queued", data: #"{"k":\#(k)}"#)])) { result in
                queued.withLock { $0.append(result) }
                queuedDone.signal()
            }
        }
        let closed = DispatchSemaphore(value: 0)
        Thread { journal.close(); closed.signal() }.start()
        usleep(100_000)
        #expect(closed.wait(timeout: .now()) == .timedOut, "close() returned while the role was held and appends were queued")
        let late = Mutex<Result<AppendResult, JournalError>?>(nil)
        try journal.enqueueAppend(AppendRequest(events: [event("late")])) { result in late.withLock { $0 = result } }

        proceed.signal()
        #expect(holderDone.wait(timeout: .now() + 30) == .success)
        #expect(closed.wait(timeout: .now() + 30) == .success, "close() never returned")
        for _ in 0..<5 { #expect(queuedDone.wait(timeout: .now() + 5) == .success) }
        #expect((try? holder.withLock { $0 }?.get()) != nil, "the blocking append failed")
        let results = queued.withLock { $0 }
        #expect(results.count == 5 && results.allSatisfy { (try? $0.get()) != nil }, "\(results)")
        #expect(late.withLock { $0 }.map { if case .failure(.closed) = $0 { true } else { false } } == true, "\(String(describing: late.withLock { $0 }))")

        let reopened = try Journal.open(directory: dir.path, options: testOptions())
        defer { reopened.close() }
        #expect(try reopened.readAll(from: 0, limit: 100).map(\.stream) == ["held"] + Array(repeating: "queued", count: 5))
    }

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
