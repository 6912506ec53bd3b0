import Foundation
import Testing
@testable import Journal

/// How import lines are grouped into appends, and that no expectation makes the grouping trap.
struct ImportBatcherTests {
    @Test func linesOfOneStreamWithFollowingVersionsShareAnAppendAndAGapStartsANewOne() throws {
        var batcher = ImportBatcher(maximumEvents: 10)
        #expect(batcher.add(try parse(#"{"stream":"s","type":"T","expectedVersion":"noStream","data":{}}"#)))
        #expect(batcher.add(try parse(#"{"stream":"s","type":"T","expectedVersion":0,"data":{}}"#)))
        #expect(!batcher.add(try parse(#"{"stream":"s","type":"T","expectedVersion":5,"data":{}}"#)), "version 5 does not follow version 1")
        #expect(batcher.events.count == 2)
        #expect(batcher.expectations == ["s": .noStream])
    }

    @Test func theLargestExpectedVersionIsKeptForTheJournalToRefuseWithoutTrapping() throws {
        let journalDirectory = NSTemporaryDirectory() + "registre-batcher-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: journalDirectory) }
        var batcher = ImportBatcher(maximumEvents: 10)
        #expect(batcher.add(try parse(#"{"stream":"s","type":"T","expectedVersion":18446744073709551615,"data":{}}"#)))
        // The next version cannot be predicted past the largest: a later line with an exact
        // expectation starts a new append instead of overflowing.
        #expect(!batcher.add(try parse(#"{"stream":"s","type":"T","expectedVersion":0,"data":{}}"#)))
        #expect(batcher.add(try parse(#"{"stream":"s","type":"T","data":{}}"#)))
        #expect(batcher.expectations == ["s": .exact(.max)])

        let journal = try Journal.open(directory: journalDirectory)
        defer { journal.close() }
        #expect(throws: JournalError.self) { try journal.appendAndWait(batcher.request) }
        #expect(journal.endPosition == 0)
    }

    private func parse(_ text: String) throws -> ImportLine {
        try Array(text.utf8).withUnsafeBytes { try ImportLine(parsing: $0) }
    }
}
