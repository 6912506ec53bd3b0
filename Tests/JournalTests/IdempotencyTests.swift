import Foundation
import Testing
@testable import Journal

@Suite struct IdempotencyTests {
    let dir = TemporaryDirectory()

    @Test func aRetriedAppendReturnsTheOriginalResultAndWritesNothing() throws {
        let j = try Journal.open(directory: dir.path, options: testOptions())
        defer { j.close() }
        try j.append([event("x")])
        let ids = [UUID(), UUID()]
        let append = [event("slot-1", id: ids[0]), event("applicant-1", id: ids[1])]
        let first = try j.append(append, expecting: ["slot-1": .noStream, "applicant-1": .noStream])
        let retry = try j.append(append, expecting: ["slot-1": .noStream, "applicant-1": .noStream])
        #expect(!first.wasAlreadyCommitted && retry.wasAlreadyCommitted)
        #expect(retry.firstPosition == first.firstPosition && retry.lastPosition == first.lastPosition && retry.versions == first.versions)
        #expect(j.endPosition == 3)
    }

    @Test func idempotencySurvivesAReopenAndSealedSegments() throws {
        let ids = (0..<3).map { _ in UUID() }
        let append = ids.enumerated().map { event("stream-\($0.offset)", id: $0.element) }
        let first: AppendResult
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 1_000))
            first = try j.append(append)
            try fill(j, count: 100)
            j.close()
        }
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 1_000))
        defer { j.close() }
        #expect(j.segmentCount > 2)
        let retry = try j.append(append)
        #expect(retry.wasAlreadyCommitted)
        #expect(retry.firstPosition == first.firstPosition && retry.versions == first.versions)
        #expect(j.endPosition == 103)
    }

    @Test func aPartialOverlapIsAnErrorThatSaysSo() throws {
        let j = try Journal.open(directory: dir.path, options: testOptions())
        defer { j.close() }
        let committed = UUID(), fresh = UUID()
        try j.append([event("a", id: committed)])
        #expect(throws: JournalError.partialDuplicate(committed: [committed], new: [fresh])) {
            try j.append([event("a", id: committed), event("a", id: fresh)])
        }
        #expect(j.endPosition == 1)
    }

    @Test func reusingAnIdInAnotherStreamIsNotARetry() throws {
        let j = try Journal.open(directory: dir.path, options: testOptions())
        defer { j.close() }
        let id = UUID()
        try j.append([event("a", id: id)])
        #expect(throws: JournalError.idempotencyMismatch(eventID: id, committedStream: "a", requestedStream: "b")) {
            try j.append([event("b", id: id)])
        }
    }

    @Test func aDuplicateIdInsideOneAppendIsRefused() throws {
        let j = try Journal.open(directory: dir.path, options: testOptions())
        defer { j.close() }
        let id = UUID()
        #expect(throws: JournalError.duplicateEventInAppend(id)) { try j.append([event("a", id: id), event("b", id: id)]) }
    }

    @Test func concurrentRetriesOfOneAppendCommitItOnce() async throws {
        let j = try Journal.open(directory: dir.path, options: testOptions())
        defer { j.close() }
        let id = UUID()
        let results = try await withThrowingTaskGroup(of: AppendResult.self) { group in
            for _ in 0..<20 { group.addTask { try await j.append(AppendRequest(events: [event("once", id: id)])) } }
            var out: [AppendResult] = []
            for try await r in group { out.append(r) }
            return out
        }
        #expect(results.filter { !$0.wasAlreadyCommitted }.count == 1)
        #expect(Set(results.map(\.firstPosition)) == [0])
        #expect(j.endPosition == 1)
    }
}
