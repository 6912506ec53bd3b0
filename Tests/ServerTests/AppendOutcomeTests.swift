import Journal
import Testing
@testable import Server

/// The wire form of append outcomes, built by hand for speed, against the journal's own words.
@Suite struct AppendOutcomeTests {
    static let conflicts: [VersionConflict] = [
        VersionConflict(stream: "slot-a", expected: .exact(0), actual: 1),
        VersionConflict(stream: "slot-b", expected: .exact(12), actual: nil),
        VersionConflict(stream: "applicant-x", expected: .noStream, actual: 0),
        VersionConflict(stream: "applicant-y", expected: .streamExists, actual: nil),
        VersionConflict(stream: "odd", expected: .any, actual: 3),
        VersionConflict(stream: "quote\"d", expected: .exact(UInt64.max), actual: UInt64.max - 1),
    ]

    @Test(arguments: conflicts)
    func messageIsTheJournalsDescription(_ conflict: VersionConflict) {
        #expect(AppendOutcome.describe(conflict) == conflict.description)
    }

    @Test func conflictBodyNamesEveryStreamWithItsVersions() throws {
        let r = AppendOutcome.conflict([Self.conflicts[1], Self.conflicts[0]])
        #expect(r.status == .conflict)
        let text = String(decoding: r.body, as: UTF8.self)
        #expect(text == #"{"error":"wrongExpectedVersion","message":"stream 'slot-b' was expected at version 12 but does not exist; stream 'slot-a' was expected at version 0 but is at version 1","streams":{"slot-a":{"expected":0,"actual":1},"slot-b":{"expected":12,"actual":null}}}"#)
    }

    @Test(arguments: [0, 7, 10, 99, 1_000, 123_456_789, Int.max, -1, -42, Int.min])
    func integersAreWrittenAsDecimal(_ value: Int) {
        var b = JSONBuilder()
        b.field("n", value)
        #expect(String(decoding: b.finished(), as: UTF8.self) == #"{"n":\#(value)}"#)
    }

    @Test func largestUnsignedVersion() {
        var b = JSONBuilder()
        b.field("v", UInt64.max)
        b.field("z", UInt8(0))
        #expect(String(decoding: b.finished(), as: UTF8.self) == #"{"v":18446744073709551615,"z":0}"#)
    }
}
