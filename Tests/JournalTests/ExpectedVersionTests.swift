import Foundation
import Testing
@testable import Journal

@Suite struct ExpectedVersionTests {
    let dir = TemporaryDirectory()

    private func journalWithStreamAtVersion1() throws -> Journal {
        let j = try Journal.open(directory: dir.path, options: testOptions())
        try j.append([event("existing"), event("existing")])
        return j
    }

    @Test func versionsStayExactWhenTheWritersCacheIsEmptiedAndRefilledAcrossSegments() throws {
        // A cache of two streams over a small segment size: most lookups miss the cache and are
        // answered by the open segment or by a sealed index, some after the cache was emptied.
        var options = testOptions(segmentSize: 4096)
        options.writerCachedStreams = 2
        let j = try Journal.open(directory: dir.path, options: options)
        defer { j.close() }
        var model: [String: UInt64] = [:]
        for round in 0..<40 {
            let stream = "s\((round * 7) % 9)"
            let expected: ExpectedVersion = model[stream].map { .exact($0) } ?? .noStream
            let result = try j.append([event(stream), event(stream)], expecting: [stream: expected])
            let last = model[stream].map { $0 + 2 } ?? 1
            #expect(result.versions[stream] == last)
            model[stream] = last
            // A stale expectation is still refused after the cache forgot the stream.
            #expect(throws: JournalError.wrongExpectedVersion([VersionConflict(stream: stream, expected: .exact(last - 1), actual: last)])) {
                try j.append([event(stream)], expecting: [stream: .exact(last - 1)])
            }
        }
        #expect(j.segmentCount > 1)
        for (stream, last) in model { #expect(j.lastVersion(of: stream) == last) }
    }

    @Test func anyAcceptsNewAndExistingStreams() throws {
        let j = try journalWithStreamAtVersion1()
        defer { j.close() }
        #expect(try j.append([event("existing")], expecting: ["existing": .any]).versions["existing"] == 2)
        #expect(try j.append([event("fresh")], expecting: ["fresh": .any]).versions["fresh"] == 0)
    }

    @Test func noStreamAcceptsOnlyAbsentStreams() throws {
        let j = try journalWithStreamAtVersion1()
        defer { j.close() }
        #expect(try j.append([event("fresh")], expecting: ["fresh": .noStream]).versions["fresh"] == 0)
        #expect(throws: JournalError.wrongExpectedVersion([VersionConflict(stream: "existing", expected: .noStream, actual: 1)])) {
            try j.append([event("existing")], expecting: ["existing": .noStream])
        }
    }

    @Test func streamExistsAcceptsOnlyExistingStreams() throws {
        let j = try journalWithStreamAtVersion1()
        defer { j.close() }
        #expect(try j.append([event("existing")], expecting: ["existing": .streamExists]).versions["existing"] == 2)
        #expect(throws: JournalError.wrongExpectedVersion([VersionConflict(stream: "fresh", expected: .streamExists, actual: nil)])) {
            try j.append([event("fresh")], expecting: ["fresh": .streamExists])
        }
    }

    @Test func exactAcceptsOnlyTheCurrentVersion() throws {
        let j = try journalWithStreamAtVersion1()
        defer { j.close() }
        #expect(throws: JournalError.wrongExpectedVersion([VersionConflict(stream: "existing", expected: .exact(0), actual: 1)])) {
            try j.append([event("existing")], expecting: ["existing": .exact(0)])
        }
        #expect(throws: JournalError.wrongExpectedVersion([VersionConflict(stream: "fresh", expected: .exact(0), actual: nil)])) {
            try j.append([event("fresh")], expecting: ["fresh": .exact(0)])
        }
        #expect(try j.append([event("existing")], expecting: ["existing": .exact(1)]).versions["existing"] == 2)
    }

    @Test func aConflictOnOneStreamWritesNothingToAnyStream() throws {
        let j = try journalWithStreamAtVersion1()
        defer { j.close() }
        let before = j.endPosition
        #expect(throws: JournalError.wrongExpectedVersion([VersionConflict(stream: "existing", expected: .exact(7), actual: 1)])) {
            try j.append([event("slot"), event("existing"), event("applicant")],
                         expecting: ["slot": .noStream, "existing": .exact(7), "applicant": .noStream])
        }
        #expect(j.endPosition == before)
        #expect(j.lastVersion(of: "slot") == nil && j.lastVersion(of: "applicant") == nil)
    }

    @Test func everyConflictingStreamIsReported() throws {
        let j = try journalWithStreamAtVersion1()
        defer { j.close() }
        #expect(throws: JournalError.wrongExpectedVersion([
            VersionConflict(stream: "existing", expected: .noStream, actual: 1),
            VersionConflict(stream: "fresh", expected: .streamExists, actual: nil),
        ])) {
            try j.append([event("existing"), event("fresh")], expecting: ["existing": .noStream, "fresh": .streamExists])
        }
    }

    @Test func racingAppendsWithTheSameExpectationLetExactlyOneThrough() async throws {
        let j = try Journal.open(directory: dir.path, options: testOptions())
        defer { j.close() }
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<32 {
                group.addTask {
                    (try? await j.append(AppendRequest(events: [event("last-place")], expectedVersions: ["last-place": .noStream]))) != nil
                }
            }
            var wins = 0
            for await won in group where won { wins += 1 }
            return wins
        }
        #expect(outcomes == 1)
        #expect(j.lastVersion(of: "last-place") == 0)
    }

    @Test func anExpectationForAStreamTheAppendDoesNotWriteIsRefused() throws {
        let j = try journalWithStreamAtVersion1()
        defer { j.close() }
        #expect(throws: JournalError.expectationForUnwrittenStream("other")) {
            try j.append([event("existing")], expecting: ["other": .any])
        }
    }
}
