import Foundation
import Testing
@testable import Journal

/// With a gather window, the writer holds a frame open for the appends it expects, never longer
/// than the window, and a journal with a window loses nothing and reorders nothing.
@Suite struct CommitGatheringTests {
    private func item(_ n: Int) throws -> PreparedAppend {
        try PreparedAppend(AppendRequest(events: [event("s-\(n)")], expectedVersions: [:]), limits: JournalLimits())
    }

    @Test func takingWaitsForTheExpectedCountAndNoLonger() throws {
        let queue = AppendQueue()
        queue.enqueue(try item(0)) { _ in }
        let late = try [item(1), item(2)]
        Thread.detachNewThread {
            usleep(20_000)
            for a in late { queue.enqueue(a) { _ in } }
        }
        let started = Date()
        let batch = queue.take(maximumBytes: 1 << 20, gathering: (count: 3, deadline: Date().addingTimeInterval(10)))
        #expect(batch?.count == 3, "the two later appends joined the frame")
        #expect(Date().timeIntervalSince(started) < 5, "it stopped waiting once three were there, long before the deadline")
    }

    @Test func takingStopsAtTheDeadlineWithWhatCame() throws {
        let queue = AppendQueue()
        queue.enqueue(try item(0)) { _ in }
        let started = Date()
        let batch = queue.take(maximumBytes: 1 << 20, gathering: (count: 16, deadline: Date().addingTimeInterval(0.05)))
        #expect(batch?.count == 1)
        #expect(Date().timeIntervalSince(started) >= 0.045)
    }

    @Test func takingWithoutGatheringNeverWaitsOnceWorkIsThere() throws {
        let queue = AppendQueue()
        queue.enqueue(try item(0)) { _ in }
        #expect(queue.take(maximumBytes: 1 << 20)?.count == 1)
        queue.close()
        #expect(queue.take(maximumBytes: 1 << 20, gathering: (count: 4, deadline: Date().addingTimeInterval(10))) == nil)
    }

    @Test func manyAppendersWithAGatherWindowKeepEveryAppendInOrderPerStream() throws {
        let dir = TemporaryDirectory("gather")
        var options = testOptions()
        options.commitGatherWindow = .microseconds(500)
        let j = try Journal.open(directory: dir.path, options: options)
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for k in 0..<40 {
                _ = try? j.append([event("t-\(t)", data: #"{"k":\#(k)}"#)], expecting: ["t-\(t)": k == 0 ? .noStream : .exact(UInt64(k - 1))])
            }
        }
        #expect(j.endPosition == 320)
        for t in 0..<8 {
            let datas = try j.readStream("t-\(t)", from: 0, limit: 100).map { String(decoding: $0.data, as: UTF8.self) }
            #expect(datas == (0..<40).map { #"{"k":\#($0)}"# })
        }
        j.close()
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
    }
}
