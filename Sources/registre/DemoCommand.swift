import ArgumentParser
import Foundation
import Journal

/// What `make demo` runs. Until the simulator lands it writes generated events, reads them back
/// and verifies the journal; it will become the simulated Isère year with a live bot storm.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Write a journal of generated events in a fresh directory, read it back and verify it."
    )

    @Option(help: "How many events to write.")
    var events: Int = 200_000

    @Option(help: "Directory to work in (default: a new temporary directory).")
    var directory: String?

    func run() throws {
        let dir = directory ?? NSTemporaryDirectory() + "registre-demo-\(UUID().uuidString.prefix(8))"
        print("Registre demo, working in \(dir)")
        let journal = try Journal.open(directory: dir + "/journal")
        var generator = SyntheticEvents(seed: 2024)
        var ndjsonBytes = 0
        let start = Date()
        var written = 0
        while written < events {
            let batch = (0..<min(100, events - written)).map { _ in generator.next() }
            for e in batch { ndjsonBytes += WireFormat.json(of: RecordedEvent(position: 0, stream: e.stream, version: 0, id: e.id!, type: e.type, recordedAtMicros: 0, metadata: e.metadata, data: e.data, endsAppend: false)).count + 1 }
            try journal.appendAndWait(AppendRequest(events: batch))
            written += batch.count
        }
        let writeSeconds = Date().timeIntervalSince(start)
        let head = journal.head
        journal.close()
        print("1. wrote \(written) events in \(written / 100) durable appends of 100 in \(String(format: "%.2f", writeSeconds)) s (\(Int(Double(written) / writeSeconds)) events/s)")

        let readStart = Date()
        var counts: [String: Int] = [:]
        let reader = try JournalReader(directory: dir + "/journal")
        try reader.forEachEvent { view in
            counts[view.type, default: 0] += 1
            return true
        }
        let readSeconds = Date().timeIntervalSince(readStart)
        print("2. read them back in \(String(format: "%.2f", readSeconds)) s:")
        for (type, n) in counts.sorted(by: { $0.value > $1.value }) { print("     \(type.padding(toLength: 34, withPad: " ", startingAt: 0)) \(n)") }

        let report = try JournalVerifier.verify(directory: dir + "/journal")
        let size = report.bytes
        print("3. verified \(report.segmentCount) segment(s), \(report.frameCount) frames: \(report.isClean ? "no damage" : "\(report.findings.count) findings")")
        print("   chain head \(head.chainHash.hex)")
        print("   merkle root \(head.merkleRoot.hex)")
        print("4. on disk \(size) bytes for \(ndjsonBytes) bytes of NDJSON: \(String(format: "%.1f", Double(size) / Double(written))) bytes/event, 1/\(String(format: "%.1f", Double(ndjsonBytes) / Double(size))) of NDJSON")
        print("Replay it with: registre replay --journal \(dir)/journal | head")
        if !report.isClean { throw ExitCode(1) }
    }
}
