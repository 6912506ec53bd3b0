import Foundation
import Journal
import Testing

/// FORMAT.md must be enough to read a journal in another language: tools/read_journal.py was
/// written from it alone, and must read what the journal writes exactly as `registre replay` does.
@Suite struct FormatDocumentTests {
    @Test func anIndependentPythonReaderReadsTheJournalLikeReplay() throws {
        let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let python else {
            Issue.record("python3 is needed for this test")
            return
        }
        let dir = NSTemporaryDirectory() + "registre-format-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = JournalOptions()
        options.compressionLevel = 0  // the reader uses the standard library only
        options.segmentSizeLimit = 3_000
        // Sealed segments packed into blocks of a few frames each, stored as is for the same reason.
        var packing = SegmentPacking()
        packing.blockBytes = 700
        packing.compressionLevel = 0
        options.packing = packing
        options.log = { _ in }
        let journal = try Journal.open(directory: dir, options: options)
        for i in 0..<60 {
            _ = try journal.appendAndWait(AppendRequest(events: [
                ProposedEvent(stream: "slot-\(i % 4)", type: "SlotPublished", data: Array(#"{"i":\#(i),"text":"é\u00e9 \"q\""}"#.utf8)),
                ProposedEvent(stream: "applicant-\(i % 3)", type: "AppointmentBooked", data: Array(#"{"n":[1,2.5,null]}"#.utf8), metadata: Array(#"{"by":"test"}"#.utf8)),
            ]))
        }
        journal.close()
        let expected = try JournalReader(directory: dir).read()
        let packed = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".seg") }.sorted().dropLast().map { name in
            try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))[128..<132] == Data("RGBK".utf8)
        }
        #expect(packed.count >= 2 && packed.allSatisfy { $0 })

        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("tools/read_journal.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, dir]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == expected.count)
        for (line, event) in zip(lines, expected) {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            #expect(object["position"] as? Int == Int(event.position))
            #expect(object["stream"] as? String == event.stream)
            #expect(object["version"] as? Int == Int(event.version))
            #expect((object["id"] as? String)?.lowercased() == event.id.uuidString.lowercased())
            #expect(object["type"] as? String == event.type)
            #expect(object["recordedAt"] as? String == WireFormat.timestamp(micros: event.recordedAtMicros))
            #expect(object["endsAppend"] as? Bool == event.endsAppend)
            let data = try JSONSerialization.data(withJSONObject: object["data"]!, options: [.sortedKeys])
            let original = try JSONSerialization.data(withJSONObject: JSONSerialization.jsonObject(with: Data(event.data)), options: [.sortedKeys])
            #expect(data == original)
        }
    }
}
