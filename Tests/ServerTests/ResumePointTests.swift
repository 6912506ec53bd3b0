import Foundation
import Journal
import Synchronization
import Testing
@testable import Server

/// The server's only append in flight is committed on its own event loop; while another append
/// is in flight, appends go to the writer thread so that they share its group commit.
@Suite struct ResumePointTests {
    final class Harness: @unchecked Sendable {
        let directory = NSTemporaryDirectory() + "registre-resume-\(UUID().uuidString.prefix(8))"
        let journal: Journal
        let appends = AppendsInFlight()
        var resume: ResumePoint { ResumePoint(appends: appends) { $0() } }

        init() throws {
            var options = JournalOptions()
            options.log = { _ in }
            journal = try Journal.open(directory: directory, options: options)
        }

        deinit {
            journal.close()
            try? FileManager.default.removeItem(atPath: directory)
        }

        func request(_ stream: String) -> AppendRequest {
            AppendRequest(events: [ProposedEvent(stream: stream, type: "Happened", data: Array(#"{"n":1}"#.utf8))])
        }

        /// Appends through the resume point and waits; whether the answer came on this thread.
        func appendAndWait(_ stream: String) throws -> (onCaller: Bool, result: AppendResult) {
            let caller = pthread_self()
            let answer = Mutex<(Bool, Result<AppendResult, JournalError>)?>(nil)
            let done = DispatchSemaphore(value: 0)
            resume.append(request(stream), to: journal) { result in
                answer.withLock { $0 = (pthread_equal(pthread_self(), caller) != 0, result) }
                done.signal()
            }
            done.wait()
            let (onCaller, result) = answer.withLock { $0 }!
            return (onCaller, try result.get())
        }
    }

    @Test func theOnlyAppendInFlightCommitsOnTheCallingThread() throws {
        let h = try Harness()
        let answer = try h.appendAndWait("alone")
        #expect(answer.onCaller)
        #expect(answer.result.lastPosition == 0)
        #expect(h.appends.current == 0, "counted out once answered")
    }

    @Test func anAppendBesideAnotherInFlightGoesToTheWriterThread() throws {
        let h = try Harness()
        // Another connection's append, between queueing and answer.
        _ = h.appends.begin()
        let answer = try h.appendAndWait("beside")
        #expect(!answer.onCaller)
        #expect(answer.result.lastPosition == 0)
        h.appends.end()
        #expect(h.appends.current == 0)
    }

    @Test func anAppendRefusedBeforeQueueingIsCountedOut() throws {
        let h = try Harness()
        let answered = Mutex<JournalError?>(nil)
        let tooLong = String(repeating: "s", count: 10_000)
        h.resume.append(h.request(tooLong), to: h.journal) { result in
            if case .failure(let error) = result { answered.withLock { $0 = error } }
        }
        #expect(answered.withLock { $0 } != nil, "refused at once")
        #expect(h.appends.current == 0)
        #expect(h.journal.endPosition == 0)
    }
}
