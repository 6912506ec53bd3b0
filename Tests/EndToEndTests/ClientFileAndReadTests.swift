import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `registre append --file` checks a whole file before it sends anything, and `registre read`
/// prints events as the server sent them.
@Suite(.serialized) struct ClientFileAndReadTests {
    /// A CRLF file's blank line ("\r" once the newline is taken off) is skipped, as `import` does.
    @Test func appendSkipsTheBlankLinesOfACRLFFile() throws {
        let server = try RunningServer("append-crlf")
        defer { server.stop() }
        let scratch = ScratchDirectory("append-crlf-file")
        let text = #"{"stream":"crlf","type":"Note","data":{"n":1}}"# + "\r\n\r\n  \r\n"
            + #"{"stream":"crlf","type":"Note","data":{"n":2}}"# + "\r\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: scratch.file("events.ndjson")))
        let outcome = try registre(["append", "--socket", server.socket, "--file", scratch.file("events.ndjson")])
        #expect(outcome.exited(0) && outcome.stderr.isEmpty, "\(outcome)")
        let read = try registre(["read", "--socket", server.socket, "--stream", "crlf"])
        #expect(completeLines(read.stdout).count == 2, "\(read)")
    }

    /// A bad line is a data error: every bad line is named, nothing of the file is sent, the
    /// status is 1 and no usage text is printed.
    @Test func appendChecksTheWholeFileBeforeSendingAnything() throws {
        let server = try RunningServer("append-bad-line")
        defer { server.stop() }
        let scratch = ScratchDirectory("append-bad-file")
        let lines = [#"{"stream":"file-a","type":"Note","data":{"n":1}}"#,
                     #"{"stream":"file-a","type":"Note","data":{"n":2}}"#,
                     #"{"stream":"file-a","type":"Note","data":{"n":3},"colour":"blue"}"#,
                     #"{"stream":"file-a","type":"Note","data":{"n":4}}"#,
                     #"{"stream":"file a","type":"Note","data":{"n":5}}"#]
        try writeLines(lines, to: scratch.file("events.ndjson"))
        let outcome = try registre(["append", "--socket", server.socket, "--file", scratch.file("events.ndjson"), "--batch", "1"])
        #expect(outcome.exited(1), "\(outcome)")
        #expect(outcome.out.isEmpty, "an append was made: \(outcome)")
        #expect(outcome.err.contains("line 3: unknown field 'colour'") && outcome.err.contains("line 5: invalid stream id 'file a'"), "\(outcome.err)")
        #expect(outcome.err.contains("nothing was sent"), "\(outcome.err)")
        #expect(!outcome.err.contains("Usage") && !outcome.err.contains("USAGE"), "a data error printed usage text: \(outcome.err)")
        let events = try server.request("GET", "/events")
        #expect(events.status == 200 && !events.text.contains("file-a"), "part of the file was appended: \(events.text)")
    }

    /// When the server refuses an append of a file, the lines already in the journal are named.
    @Test func appendSaysWhichLinesAreInTheJournalWhenTheServerRefusesAnAppend() throws {
        let server = try RunningServer("append-refused")
        defer { server.stop() }
        let scratch = ScratchDirectory("append-refused-file")
        let lines = [#"{"stream":"file-b","type":"Note","data":{"n":1}}"#,
                     "",
                     #"{"stream":"file-b","type":"Note","data":{"n":2}}"#,
                     #"{"stream":"file-b","type":"Note","expectedVersion":"noStream","data":{"n":3}}"#,
                     #"{"stream":"file-b","type":"Note","data":{"n":4}}"#]
        try writeLines(lines, to: scratch.file("events.ndjson"))
        let outcome = try registre(["append", "--socket", server.socket, "--file", scratch.file("events.ndjson"), "--batch", "2"])
        #expect(outcome.exited(1), "\(outcome)")
        #expect(completeLines(outcome.stdout).count == 1, "one append (lines 1 and 3) was acknowledged: \(outcome)")
        #expect(outcome.err.contains("the server refused the append of lines 4–5") && outcome.err.contains("lines 1–3 of the file are in the journal and nothing after them"),
                "\(outcome.err)")
        #expect(!outcome.err.contains("Usage") && !outcome.err.contains("USAGE"), "\(outcome.err)")
        let read = try registre(["read", "--socket", server.socket, "--stream", "file-b"])
        #expect(completeLines(read.stdout).count == 2, "\(read)")
    }

    /// `read` prints each event byte for byte as the journal holds it, as `replay` does: keys in
    /// their order, `1.0` as written, and a number no Double holds.
    @Test func readPrintsEventsExactlyAsReplayDoes() throws {
        let scratch = ScratchDirectory("read-bytes")
        let data = [#"{"z":1,"a":1.0,"m":{"y":true,"b":null}}"#,
                    #"{"big":1e400,"small":-0.0,"text":"caf\u00e9 \/ \"q\""}"#,
                    #"{ "spaced" : [ 1 , 2.50 ] }"#]
        let lines = data.enumerated().map { #"{"stream":"bytes-\#($0.offset % 2)","type":"Note","data":\#($0.element),"metadata":{"k":2,"b":1.0}}"# }
        try writeLines(lines, to: scratch.file("in.ndjson"))
        let journal = scratch.file("journal")
        let imported = try registre(["import", "--journal", journal, scratch.file("in.ndjson")])
        #expect(imported.exited(0), "\(imported)")
        let replay = try registre(["replay", "--journal", journal])
        #expect(replay.exited(0) && completeLines(replay.stdout).count == 3, "\(replay)")
        for d in data { #expect(replay.out.contains(#","data":\#(d)}"#), "replay changed \(d): \(replay.out)") }

        let server = try RunningServer("read-bytes", scratch: scratch, journal: journal)
        defer { server.stop() }
        let all = try registre(["read", "--socket", server.socket])
        #expect(all.exited(0) && all.stderr.isEmpty, "\(all)")
        #expect(all.stdout == replay.stdout, "read differs from replay:\n\(all.out)\n---\n\(replay.out)")
        let stream = try registre(["read", "--socket", server.socket, "--stream", "bytes-0"])
        #expect(stream.exited(0), "\(stream)")
        let replayed = completeLines(replay.stdout)
        #expect(completeLines(stream.stdout) == [replayed[0], replayed[2]], "\(stream.out)")
    }
}
