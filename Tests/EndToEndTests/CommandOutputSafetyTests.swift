import Foundation
import Testing
@testable import Journal

/// Commands that read a journal never write into it or over a file that is there, whatever path
/// leads there; and commands that take a directory or a file refuse the wrong kind by name.
@Suite(.serialized) struct CommandOutputSafetyTests {
    private func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    @Test func receiptOutRefusesAnExistingFileAndAnyPathIntoTheJournal() throws {
        let history = try SignedHistory.get()
        let scratch = ScratchDirectory("receipt-out")
        let journal = try history.copy(into: scratch)
        let segment = journal + "/" + (try #require(segmentFiles(in: journal).first))
        let before = try #require(bytes(segment))
        let id = try #require(allEvents(journal).first { $0.type == "AppointmentBooked" }).id.uuidString.lowercased()
        try FileManager.default.createSymbolicLink(atPath: scratch.file("link"), withDestinationPath: journal)
        // A link into a directory inside the journal, then `..`: the kernel climbs from the
        // link's target, so this names a file in the journal itself.
        try FileManager.default.createDirectory(atPath: scratch.file("other"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: scratch.file("other/lnk"), withDestinationPath: journal + "/index")

        for target in [scratch.file("other/lnk") + "/../00000000000000000005.ckpt", segment, scratch.file("link") + "/" + (segment as NSString).lastPathComponent, journal + "/new-file.json",
                       scratch.file("link") + "/../" + (journal as NSString).lastPathComponent + "/x.json"] {
            let outcome = try registre(["receipt", "--journal", journal, "--event", id, "--out", target])
            #expect(outcome.exited(64), "\(target): \(outcome)")
            #expect(outcome.err.contains("is inside the journal directory"), "\(outcome)")
        }
        #expect(bytes(segment) == before, "the segment is untouched")
        #expect(!FileManager.default.fileExists(atPath: journal + "/new-file.json"))
        #expect(!FileManager.default.fileExists(atPath: journal + "/00000000000000000005.ckpt"))

        let existing = scratch.file("precious.json")
        try Data("keep".utf8).write(to: URL(fileURLWithPath: existing))
        let overwrite = try registre(["receipt", "--journal", journal, "--event", id, "--out", existing])
        #expect(overwrite.exited(2), "\(overwrite)")
        #expect(overwrite.err.contains("already exists"), "\(overwrite)")
        #expect(bytes(existing) == Data("keep".utf8))

        let fresh = try registre(["receipt", "--journal", journal, "--event", id, "--out", scratch.file("receipt.json")])
        #expect(fresh.exited(0), "\(fresh)")
        let verified = try registre(["verify-receipt", scratch.file("receipt.json"), "--public-key", history.publicKey])
        #expect(verified.exited(0), "\(verified)")
    }

    @Test func verifyConsistencyOutRefusesAPathIntoTheJournal() throws {
        let scratch = ScratchDirectory("consistency-out")
        try writeJournal(scratch.file("j"), count: 30)
        let outcome = try registre(["verify-consistency", "--journal", scratch.file("j"), "--old", "a.ckpt", "--new", "b.ckpt",
                                    "--public-key", "k.pub", "--out", scratch.file("j") + "/00000000000000000000.seg"])
        #expect(outcome.exited(64), "\(outcome)")
        #expect(outcome.err.contains("--out"), "\(outcome)")
        #expect(try allEvents(scratch.file("j")).count == 30)
    }

    @Test func projectRefusesACheckpointOrOutputAnywhereUnderTheJournalEvenThroughALink() throws {
        let scratch = ScratchDirectory("project-paths")
        let journal = scratch.file("j")
        try writeJournal(journal, count: 30)
        try FileManager.default.createSymbolicLink(atPath: scratch.file("link"), withDestinationPath: journal)
        let before = try FileManager.default.subpathsOfDirectory(atPath: journal).sorted()
        let cases: [[String]] = [
            ["--out", scratch.file("tables"), "--checkpoint", journal + "/checkpoints/00000000000000099999.ckpt"],
            ["--out", scratch.file("tables"), "--checkpoint", scratch.file("link") + "/00000000000000005000.seg"],
            ["--out", scratch.file("link"), "--format", "csv"],
            ["--out", scratch.file("link") + "/tables"],
        ]
        for extra in cases {
            let outcome = try registre(["project", "--journal", journal] + extra)
            #expect(outcome.exited(64), "\(extra): \(outcome)")
            #expect(outcome.err.contains("is inside the journal directory"), "\(outcome)")
        }
        #expect(try FileManager.default.subpathsOfDirectory(atPath: journal).sorted() == before, "nothing was written into the journal")
        #expect(!FileManager.default.fileExists(atPath: journal + "/checkpoints/00000000000000099999.ckpt"))
        #expect(!FileManager.default.fileExists(atPath: journal + "/00000000000000005000.seg"))
    }

    @Test func demoRefusesADirectoryThatIsNotEmptyAndLeavesItAlone() throws {
        let scratch = ScratchDirectory("demo-dir")
        try writeJournal(scratch.file("journal"), count: 20)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: scratch.file("demo.key")))
        let outcome = try registre(["demo", "--scale", "0.05", "--directory", scratch.path])
        #expect(outcome.exited(64), "\(outcome)")
        #expect(outcome.err.contains("is not empty"), "\(outcome)")
        #expect(try allEvents(scratch.file("journal")).count == 20)
        #expect(bytes(scratch.file("demo.key")) == Data("mine".utf8))
    }

    @Test func importRefusesADirectoryAsItsInputBeforeCreatingTheJournal() throws {
        let scratch = ScratchDirectory("import-dir")
        try FileManager.default.createDirectory(atPath: scratch.file("input"), withIntermediateDirectories: true)
        let outcome = try registre(["import", "--journal", scratch.file("j"), scratch.file("input")])
        #expect(outcome.exited(64), "\(outcome)")
        #expect(outcome.err.contains("is a directory"), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("j")))
    }

    @Test func importOfTheLargestExpectedVersionIsRefusedAsALineNotATrapAndSaysWhereToResume() throws {
        let scratch = ScratchDirectory("import-max-version")
        let lines = (1...3).map { #"{"stream":"s-\#($0)","type":"T","data":{"i":\#($0)}}"# }
            + [#"{"stream":"s-9","type":"T","expectedVersion":18446744073709551615,"data":{}}"#,
               #"{"stream":"s-9","type":"T","data":{}}"#]
        try writeLines(lines, to: scratch.file("in.ndjson"))
        let outcome = try registre(["import", "--journal", scratch.file("j"), "--batch", "1", scratch.file("in.ndjson")])
        #expect(outcome.exited(1), "\(outcome)")
        #expect(outcome.err.contains("line 4:"), "\(outcome)")
        #expect(outcome.err.contains("lines 1–3 are in the journal") && outcome.err.contains("from line 4"), "\(outcome)")
        #expect(outcome.out.contains("imported 3 events"), "the summary is printed: \(outcome)")
        #expect(try allEvents(scratch.file("j")).count == 3)
    }

    @Test func importRefusesALineLongerThanAnyEventByNumberWithoutHoldingItAll() throws {
        let scratch = ScratchDirectory("import-long-line")
        let input = scratch.file("in.ndjson")
        var text = Data((#"{"stream":"s","type":"T","data":{}}"# + "\n").utf8)
        text.append(Data(repeating: UInt8(ascii: "x"), count: LineReaderLimit.bytes + (2 << 20)))
        try text.write(to: URL(fileURLWithPath: input))
        let outcome = try registre(["import", "--journal", scratch.file("j"), input])
        #expect(outcome.exited(1), "\(outcome)")
        #expect(outcome.err.contains("line 2:") && outcome.err.contains("longer than 16 MiB"), "\(outcome)")
        #expect(outcome.err.contains("no line was imported"), "line 1 was in the batch the stop left unwritten: \(outcome)")
    }

    /// Control characters of an import line reach stderr as escapes: an escape sequence in a
    /// stream id does not drive the terminal, and a newline in one does not start a line.
    @Test func controlCharactersOfTheInputAreEscapedInErrorMessages() throws {
        let scratch = ScratchDirectory("import-control")
        let lines = [#"{"stream":"a\u001b[31mRED","type":"T","data":{}}"#,
                     #"{"stream":"b\nregistre: all good\u0007\u007f\u009b","type":"T","data":{}}"#]
        try writeLines(lines, to: scratch.file("in.ndjson"))
        let outcome = try registre(["import", "--journal", scratch.file("j"), scratch.file("in.ndjson")])
        #expect(outcome.exited(1), "\(outcome)")
        let bytes = Array(outcome.stderr)
        #expect(bytes.last == 0x0A)
        #expect(!bytes.contains { ($0 < 0x20 && $0 != 0x0A) || $0 == 0x7F }, "a control character reached stderr: \(outcome.err.debugDescription)")
        #expect(!outcome.err.unicodeScalars.contains { (0x80...0x9F).contains($0.value) }, "a C1 control reached stderr: \(outcome.err.debugDescription)")
        // Every line is one of the command's own: the two bad lines and the stop.
        let errorLines = outcome.err.split(separator: "\n")
        #expect(errorLines.count == 3 && errorLines.allSatisfy { $0.hasPrefix("registre: ") }, "\(outcome.err.debugDescription)")
        #expect(outcome.err.contains(#"line 1: invalid stream id 'a\u{1B}[31mRED'"#), "\(outcome.err.debugDescription)")
        #expect(outcome.err.contains(#"'b\u{0A}registre: all good\u{07}\u{7F}\u{9B}'"#), "\(outcome.err.debugDescription)")
    }
}

/// `LineReader.maximumLineBytes` of the CLI (16 MiB), which the tests cannot import.
enum LineReaderLimit { static let bytes = 16 << 20 }

/// Files a command is handed may be FIFOs: they are refused by name, never waited on.
@Suite(.serialized) struct HandedFileTests {
    @Test func aFIFOGivenAsAReceiptAProofOrAnAccessFileIsRefusedAtOnce() throws {
        let scratch = ScratchDirectory("handed-fifo")
        let fifo = scratch.file("pipe")
        #expect(mkfifo(fifo, 0o600) == 0)
        let keys = try registre(["keygen", "--out", scratch.file("k")])
        #expect(keys.exited(0), "\(keys)")

        let receipt = try registre(["verify-receipt", fifo, "--public-key", scratch.file("k.pub")], timeout: 20)
        #expect(receipt.exited(2), "\(receipt)")
        #expect(receipt.err.contains("not a regular file"), "\(receipt)")
        let proof = try registre(["verify-consistency", "--proof", fifo, "--public-key", scratch.file("k.pub")], timeout: 20)
        #expect(proof.exited(2), "\(proof)")

        try writeJournal(scratch.file("j"), count: 5)
        let serve = try registre(["serve", "--journal", scratch.file("j"), "--socket", scratch.file("s.sock"), "--access", fifo], timeout: 20)
        #expect(!serve.timedOut && !serve.exited(0), "\(serve)")
        #expect(serve.err.contains("access file"), "\(serve)")
    }
}

/// Import batches stay bounded whatever the input holds.
@Suite(.serialized) struct ImportBatchBoundTests {
    private func appendSizes(_ journal: String) throws -> [Int] {
        var sizes: [Int] = [], current = 0
        for e in try allEvents(journal) {
            current += 1
            if e.endsAppend { sizes.append(current); current = 0 }
        }
        return sizes
    }

    @Test func copiesThatNeverMeetTheirTwinsHoldABatchOpenOnlyAFewEventsPastBatch() throws {
        let scratch = ScratchDirectory("import-twins")
        // Bookings in applicants' streams only (a replay of applicant streams): no twin ever comes.
        let lines = (0..<300).map { #"{"stream":"applicant-\#($0)","type":"AppointmentBooked","data":{"i":\#($0)}}"# }
        try writeLines(lines, to: scratch.file("in.ndjson"))
        let outcome = try registre(["import", "--journal", scratch.file("j"), "--batch", "100", scratch.file("in.ndjson")])
        #expect(outcome.exited(0), "\(outcome)")
        let sizes = try appendSizes(scratch.file("j"))
        #expect(sizes.reduce(0, +) == 300)
        #expect(sizes.count >= 2 && sizes.allSatisfy { $0 <= 164 }, "\(sizes)")
    }

    @Test func aBatchEndsBeforeItWouldPassTheJournalsAppendSizeLimit() throws {
        let scratch = ScratchDirectory("import-bytes")
        let pad = String(repeating: "p", count: 100_000)
        let lines = (0..<200).map { #"{"stream":"s-\#($0 % 3)","type":"T","data":{"i":\#($0),"pad":"\#(pad)"}}"# }
        try writeLines(lines, to: scratch.file("in.ndjson"))
        // 200 events of 100 KB in one --batch would be a 20 MB append, over the 16 MiB limit.
        let outcome = try registre(["import", "--journal", scratch.file("j"), "--batch", "1000", scratch.file("in.ndjson")])
        #expect(outcome.exited(0), "\(outcome)")
        #expect(try appendSizes(scratch.file("j")).reduce(0, +) == 200)
    }
}

/// A history never signed is audited for what it can prove; a signed one must show a signature.
@Suite(.serialized) struct UnsignedAuditTests {
    @Test func aHistoryWithoutCheckpointsFailsAgainstAKeyAndIsCleanWhenDeclaredUnsigned() throws {
        let scratch = ScratchDirectory("audit-unsigned")
        try writeJournal(scratch.file("j"), count: 40)
        let keys = try registre(["keygen", "--out", scratch.file("k")])
        #expect(keys.exited(0), "\(keys)")

        let keyed = try registre(["audit", "--journal", scratch.file("j"), "--public-key", scratch.file("k.pub")])
        #expect(keyed.exited(1), "\(keyed)")
        #expect(keyed.out.contains("checkpoint.none"), "\(keyed.out)")

        let unsigned = try registre(["audit", "--journal", scratch.file("j"), "--unsigned"])
        #expect(unsigned.exited(0), "\(unsigned)")
        #expect(unsigned.out.contains("audit: clean") && unsigned.out.contains("nothing proves it was not rewritten"), "\(unsigned.out)")

        let neither = try registre(["audit", "--journal", scratch.file("j")])
        #expect(neither.exited(64), "\(neither)")
        #expect(neither.err.contains("--unsigned"), "\(neither)")
    }

    /// Without a key no checkpoint is "verified" and nothing "signed": anyone who rewrites a log
    /// can write checkpoints that agree with it. They are reported as matching, signatures unchecked.
    @Test func checkpointsAuditedWithoutAKeyAreNotCalledVerified() throws {
        let history = try SignedHistory.get()
        let text = try registre(["audit", "--journal", history.journal, "--unsigned", "--no-rules"])
        #expect(text.exited(0), "\(text)")
        #expect(text.out.contains("signatures NOT checked") && !text.out.contains("verified"), "\(text.out)")
        let json = try registre(["audit", "--journal", history.journal, "--unsigned", "--no-rules", "--json"])
        let report = try #require(jsonObject(json.stdout))
        #expect(report["checkpointsVerified"] as? Int == 0 && report["signedThrough"] == nil, "\(report)")
        #expect(report["checkpointsMatching"] as? Int == history.checkpointFiles.count && report["signaturesChecked"] as? Bool == false, "\(report)")
    }
}
