import Foundation
import Testing
@testable import Journal
#if canImport(Glibc)
import Glibc
#endif

/// One generated NDJSON line and what it should become in the journal.
struct GeneratedLine {
    var stream: String
    var type: String
    var id: UUID
    var data: String
    var metadata: String?

    var ndjson: String {
        var s = #"{"stream":"\#(stream)","type":"\#(type)","id":"\#(id.uuidString.lowercased())","data":\#(data)"#
        if let metadata { s += #","metadata":\#(metadata)"# }
        return s + "}"
    }
}

func writeLines(_ lines: [String], to path: String) throws {
    try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
}

/// `registre import` and `registre replay` between them, and the import's line checks.
@Suite(.serialized) struct ImportAndReplayTests {
    /// Lines over several streams with ids, metadata on most, and data that exercises the JSON
    /// bytes: non-ASCII text, emoji, escapes, nesting, whitespace that must be kept as sent.
    static func generatedLines(_ count: Int) -> [GeneratedLine] {
        let names = ["Zoë Ÿilmaz", "Ngozi Okonkwo-Adébáyọ̀", "李小龍", "Łucja Żółć", "Ахмед", "🚀 rocket"]
        return (0..<count).map { i in
            let stream = ["dossier-\(i % 7)", "slot-grenoble:\(i % 3)", "applicant-a+b=\(i % 5)"][i % 3]
            let data = i % 4 == 0
                ? #"{ "i" : \#(i), "name" : "\#(names[i % names.count])", "note": "quote \" backslash \\ tab \t é \u00e9 \ud83d\ude80", "tags": ["a", {"b": null}], "ok": true }"#
                : #"{"i":\#(i),"name":"\#(names[i % names.count])","amount":\#(Double(i) * 1.5e3),"nested":{"deep":[1,2,[3]]}}"#
            let metadata: String? = i % 5 == 0 ? nil : #"{"source":"e2e","correlation":"c-\#(i / 10)","who":"\#(names[(i + 1) % names.count])"}"#
            return GeneratedLine(stream: stream, type: ["DossierOpened", "Appointment.Booked", "note_added"][i % 3], id: UUID(), data: data, metadata: metadata)
        }
    }

    /// A replay line without its `recordedAt`, which a second journal cannot share with the first.
    static func withoutRecordedAt(_ line: Substring) -> String {
        line.replacingOccurrences(of: #","recordedAt":"[^"]*""#, with: "", options: .regularExpression)
    }

    @Test func importThenReplayThenReimportKeepsStreamsVersionsIdsTypesDataAndMetadataBytes() throws {
        let scratch = ScratchDirectory("roundtrip")
        let lines = Self.generatedLines(2500)
        let input = scratch.file("in.ndjson")
        try writeLines(lines.map(\.ndjson), to: input)

        let first = try registre(["import", "--journal", scratch.file("one"), "--batch", "100", input])
        #expect(first.exited(0), "\(first)")
        #expect(first.out.contains("imported 2500 events"), "\(first.out)")

        // The first journal holds the lines exactly, in order.
        let one = try allEvents(scratch.file("one"))
        #expect(one.count == lines.count)
        var versions: [String: UInt64] = [:]
        for (line, e) in zip(lines, one) {
            let version = versions[line.stream].map { $0 + 1 } ?? 0
            versions[line.stream] = version
            #expect(e.stream == line.stream && e.id == line.id && e.type == line.type && e.version == version,
                    "position \(e.position): \(e.stream) v\(e.version) \(e.id) \(e.type)")
            #expect(e.data == Array(line.data.utf8), "position \(e.position): data bytes changed: \(String(decoding: e.data, as: UTF8.self))")
            #expect(e.metadata == Array((line.metadata ?? "{}").utf8), "position \(e.position): metadata bytes changed")
        }

        let replayOne = try registre(["replay", "--journal", scratch.file("one")])
        #expect(replayOne.exited(0) && replayOne.stderr.isEmpty, "\(replayOne)")
        let replayed = scratch.file("replayed.ndjson")
        try replayOne.stdout.write(to: URL(fileURLWithPath: replayed))
        let replayLines = completeLines(replayOne.stdout)
        #expect(replayLines.count == lines.count)
        #expect(replayLines.allSatisfy { jsonObject(Array($0.utf8)) != nil }, "a replay line is not JSON")

        let second = try registre(["import", "--journal", scratch.file("two"), replayed])
        #expect(second.exited(0), "\(second)")
        let two = try allEvents(scratch.file("two"))
        #expect(two.count == one.count)
        for (a, b) in zip(one, two) {
            // Append boundaries (endsAppend) follow the batch size, which differs here on purpose.
            #expect(a.position == b.position && a.stream == b.stream && a.version == b.version && a.id == b.id
                    && a.type == b.type && a.data == b.data && a.metadata == b.metadata,
                    "position \(a.position) differs after the round trip: \(b)")
        }

        let replayTwo = try registre(["replay", "--journal", scratch.file("two")])
        #expect(replayTwo.exited(0) && replayTwo.stderr.isEmpty, "\(replayTwo)")
        let a = replayLines.map(Self.withoutRecordedAt), b = completeLines(replayTwo.stdout).map(Self.withoutRecordedAt)
        #expect(a.count == b.count)
        if let k = a.indices.first(where: { $0 < b.count && a[$0] != b[$0] }) {
            Issue.record("replays differ at line \(k + 1):\n\(a[k])\n\(b[k])")
        }
        // The comparison above must not be vacuous: recordedAt was really there and removed.
        #expect(replayLines.first?.contains(#""recordedAt":""#) == true && a.first?.contains("recordedAt") == false)
    }

    /// A bad line that would start a new batch stops the import after the complete batch before
    /// it: that batch is not the bad line's, and is written as it would have been.
    @Test func aBadLineOpeningANewBatchKeepsTheCompleteBatchBeforeIt() throws {
        let scratch = ScratchDirectory("badfirst")
        let good = Self.generatedLines(40)
        var text = good.map(\.ndjson)
        text[30] = #"{"stream":"s-1","type":"T","data":{"a":1},"colour":"blue"}"#
        let input = scratch.file("in.ndjson")
        try writeLines(text, to: input)
        let outcome = try registre(["import", "--journal", scratch.file("j"), "--batch", "10", input])
        #expect(outcome.exited(1), "\(outcome)")
        #expect(outcome.err.contains("stopped at line 31: lines 1–30 are in the journal and nothing after them") && outcome.err.contains("from line 31"),
                "\(outcome.err)")
        #expect(try allEvents(scratch.file("j")).map(\.id) == good.prefix(30).map(\.id))
    }

    @Test func aBadLineStopsTheImportBeforeItsBatchAndEveryBadLineIsReportedByNumber() throws {
        let scratch = ScratchDirectory("badlines")
        let good = Self.generatedLines(100)
        var text = good.map(\.ndjson)
        let bad: [Int: String] = [
            25: #"{"stream":"s-1","type":"T","data":{"a":1}"#,                                        // malformed: unclosed object
            37: #"{"type":"T","data":{"a":1}}"#,                                                       // missing stream
            48: #"{"stream":"s-1","type":"T","data":{"a":1},"colour":"blue"}"#,                        // unknown field
            59: #"{"stream":"s-1","type":"T","id":"not-a-uuid-at-all","data":{"a":1}}"#,                // bad UUID
        ]
        for (line, content) in bad { text[line - 1] = content }
        let input = scratch.file("in.ndjson")
        try writeLines(text, to: input)

        let outcome = try registre(["import", "--journal", scratch.file("j"), "--batch", "10", input])
        #expect(outcome.exited(1), "\(outcome)")
        let reported = Set(outcome.err.matches(of: /line (\d+):/).compactMap { Int($0.1) })
        #expect(reported == Set(bad.keys), "lines reported on stderr: \(reported.sorted()), expected \(bad.keys.sorted())\n\(outcome.err)")
        for (line, _) in bad {
            let message = outcome.err.split(separator: "\n").first { $0.contains("line \(line):") } ?? ""
            #expect(message.count > "registre: line \(line): ".count + 5, "line \(line) is reported without a reason: \(message)")
        }
        #expect(outcome.err.contains("line 48:") && outcome.err.contains("colour"), "the unknown field is not named")
        #expect(outcome.err.contains("stopped at line 25: lines 1–20 are in the journal and nothing after them") && outcome.err.contains("from line 21"),
                "the stop says which lines went in and where to resume: \(outcome.err)")

        // Lines 1–20 are two whole batches before the bad line's batch (21–30): only they went in.
        let events = try allEvents(scratch.file("j"))
        #expect(events.map(\.id) == good.prefix(20).map(\.id), "the journal holds \(events.count) events")
    }

    /// Stream ids, types and sizes are checked as each line is read: with blank lines between the
    /// events, a bad stream on line 9 is named as line 9, not as the first line of its batch, and
    /// every such line is reported, also before a later line of another kind of problem.
    @Test func badStreamsTypesAndSizesAreReportedByTheirOwnLineNumberAndNothingOfTheirBatchIsWritten() throws {
        let scratch = ScratchDirectory("badnames")
        let good = Self.generatedLines(12)
        // Events on odd lines, blank lines (one of them a CRLF file's "\r") on even ones.
        var text: [String] = []
        for (k, line) in good.enumerated() { text += [line.ndjson, k == 1 ? "\r" : ""] }
        let oversize = String(repeating: "x", count: (1 << 20) + 10)
        let bad: [Int: (String, String)] = [
            9: (#"{"stream":"slot grenoble","type":"T","data":{"a":1}}"#, "invalid stream id 'slot grenoble'"),
            13: (#"{"stream":"s-1","type":"Note/Added","data":{"a":1}}"#, "invalid event type 'Note/Added'"),
            15: (#"{"stream":"s-1","type":"T","data":{"pad":"\#(oversize)"}}"#, "over the limit of 1048576"),
            17: (#"{"stream":"","type":"T","data":{"a":1}}"#, "invalid stream id '': it is empty"),
            19: (#"{"stream":"s-1","type":"T","data":{"a":1},"colour":"blue"}"#, "unknown field 'colour'"),
        ]
        for (line, (content, _)) in bad { text[line - 1] = content }
        let input = scratch.file("in.ndjson")
        try writeLines(text, to: input)

        let outcome = try registre(["import", "--journal", scratch.file("j"), "--batch", "3", input])
        #expect(outcome.exited(1), "\(outcome)")
        let reported = outcome.err.matches(of: /line (\d+):/).compactMap { Int($0.1) }
        #expect(Set(reported) == Set(bad.keys), "lines reported: \(reported), expected \(bad.keys.sorted())\n\(outcome.err)")
        for (line, (_, reason)) in bad {
            let message = outcome.err.split(separator: "\n").first { $0.contains("line \(line):") } ?? ""
            #expect(message.contains(reason), "line \(line) is not reported as \(reason): \(message)")
        }
        #expect(!outcome.err.contains("batch starting here"), "\(outcome.err)")
        // Lines 1, 3, 5 are the first batch, written before line 9 was read; the second batch
        // (lines 7, 9, 11) holds the bad line and nothing of it is written.
        #expect(outcome.err.contains("stopped at line 9: lines 1–5 are in the journal and nothing after them") && outcome.err.contains("from line 6"),
                "\(outcome.err)")
        #expect(try allEvents(scratch.file("j")).map(\.id) == good.prefix(3).map(\.id))
    }

    /// What only the journal can refuse (an id twice in one batch, an expectation the journal
    /// does not meet) names the line it is about, not the first line of the batch.
    @Test func aBatchTheJournalRefusesIsReportedAtTheLineItIsAbout() throws {
        let scratch = ScratchDirectory("refusedline")
        let good = Self.generatedLines(6)
        var text: [String] = []
        for line in good { text += [line.ndjson, ""] }
        // Line 9 repeats line 7's id in the same batch (lines 7, 9, 11).
        text[8] = GeneratedLine(stream: "s-dup", type: "T", id: good[3].id, data: #"{"a":1}"#).ndjson
        let input = scratch.file("dup.ndjson")
        try writeLines(text, to: input)
        let duplicate = try registre(["import", "--journal", scratch.file("j"), "--batch", "3", input])
        #expect(duplicate.exited(1), "\(duplicate)")
        #expect(duplicate.err.contains("line 9: event id \(good[3].id.uuidString.lowercased()) is already on line 7"), "\(duplicate.err)")
        #expect(duplicate.err.contains("lines 1–5 are in the journal"), "\(duplicate.err)")
        #expect(try allEvents(scratch.file("j")).count == 3)

        // Line 11 expects a stream the journal does not hold to be at version 4.
        text = good.flatMap { [$0.ndjson, ""] }
        text[10] = #"{"stream":"s-new","type":"T","expectedVersion":4,"data":{}}"#
        try writeLines(text, to: input)
        let conflict = try registre(["import", "--journal", scratch.file("k"), "--batch", "3", input])
        #expect(conflict.exited(1), "\(conflict)")
        #expect(conflict.err.contains("line 11: stream 's-new' was expected at version 4 but does not exist"), "\(conflict.err)")
        #expect(try allEvents(scratch.file("k")).count == 3)
    }

    @Test func importUnderAFileSizeLimitFailsWithNoSpaceKeepsWholeBatchesAndResumesWhenRerun() throws {
        let scratch = ScratchDirectory("diskfull")
        // Random hex data, so compression cannot make the 1.3 MB of NDJSON fit in the limit.
        var rng = SystemRandomNumberGenerator()
        let lines: [GeneratedLine] = (0..<4000).map { i in
            let blob = (0..<25).map { _ in String(format: "%016llx", rng.next() as UInt64) }.joined()
            return GeneratedLine(stream: "load-\(i % 13)", type: "Loaded", id: UUID(), data: #"{"i":\#(i),"blob":"\#(blob)"}"#, metadata: nil)
        }
        let input = scratch.file("in.ndjson")
        try writeLines(lines.map(\.ndjson), to: input)
        let journal = scratch.file("j")
        // dash and bash (in sh mode) count `ulimit -f` in 512-byte blocks: 400 blocks = 200 KiB.
        let limitBytes = 400 * 512
        let limited = try shell(#"ulimit -f 400 || exit 99; exec "$0" import --journal "$1" --batch 100 "$2""#, [RegistreBinary.path, journal, input])
        #expect(!(limited.signaled && limited.status == SIGXFSZ), "import was killed by SIGXFSZ instead of reporting a full disk: \(limited)")
        #expect(limited.exited(1), "\(limited)")
        #expect(limited.err.lowercased().contains("no space"), "stderr does not say the disk is full: \(limited.err)")

        let segments = segmentFiles(in: journal)
        #expect(!segments.isEmpty)
        for s in segments { #expect(fileSize(journal + "/" + s) <= limitBytes, "\(s) is larger than the file-size limit") }
        let report = try JournalVerifier.verify(directory: journal)
        #expect(report.isClean && report.notes.isEmpty, "\(report.findings) \(report.notes)")
        let partial = try allEvents(journal)
        #expect(partial.count > 0 && partial.count < lines.count, "the limit should stop the import part way, it kept \(partial.count)")
        #expect(partial.count % 100 == 0, "\(partial.count) events is not a whole number of 100-event batches")
        #expect(partial.map(\.id) == lines.prefix(partial.count).map(\.id))

        // Without the limit the same import completes, skipping what is already there.
        let rerun = try registre(["import", "--journal", journal, "--batch", "100", input])
        #expect(rerun.exited(0), "\(rerun)")
        #expect(rerun.out.contains("\(partial.count) already there, skipped"), "\(rerun.out)")
        let full = try allEvents(journal)
        #expect(full.map(\.id) == lines.map(\.id))
        let verify = try registre(["verify", "--journal", journal])
        #expect(verify.exited(0), "\(verify)")
    }
}
