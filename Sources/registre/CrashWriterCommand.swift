import ArgumentParser
import Foundation
import Journal
#if canImport(Glibc)
import Glibc
#endif

/// A writer for crash tests: appends multi-stream appends from several tasks and prints one line
/// per acknowledged append, unbuffered, so a test that SIGKILLs it knows exactly what was acked.
struct CrashWriterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crash-writer",
        abstract: "Append until killed, printing each acknowledged append (used by the crash tests).",
        shouldDisplay: false
    )

    @OptionGroup var location: JournalLocation
    @Option var tasks: Int = 4
    @Option var appends: Int = 1_000_000
    @Option(help: "Segment size limit in bytes, small to make seals happen under test.")
    var segmentSize: Int = 64 << 20

    func validate() throws {
        // Negative counts would trap in the ranges below, and a negative size in the writer.
        guard tasks >= 1 else { throw ValidationError("--tasks must be at least 1, not \(tasks)") }
        guard appends >= 1 else { throw ValidationError("--appends must be at least 1, not \(appends)") }
        guard segmentSize >= 1 else { throw ValidationError("--segment-size must be at least 1 byte, not \(segmentSize)") }
    }

    func run() async throws {
        var options = JournalOptions()
        options.segmentSizeLimit = segmentSize
        let journal = try Journal.open(directory: location.journal, options: options)
        let tag = UInt64(getpid())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var rng = SplitMix64(seed: tag &* 1000 &+ UInt64(task))
                    for n in 0..<appends {
                        let group = rng.uuid().uuidString.lowercased()
                        let pad = String(repeating: "p", count: Int(rng.next() % 200))
                        let events = (0..<3).map { k in
                            ProposedEvent(stream: "crash-\(task)-\(k)", type: "CrashTest", id: rng.uuid(),
                                          data: Array(#"{"group":"\#(group)","part":\#(k),"n":\#(n),"pad":"\#(pad)"}"#.utf8))
                        }
                        let r = try await journal.append(AppendRequest(events: events))
                        let line = "ack \(group) \(r.firstPosition) \(events.map { $0.id!.uuidString.lowercased() }.joined(separator: ","))\n"
                        _ = line.withCString { Glibc.write(1, $0, strlen($0)) }
                    }
                }
            }
            try await group.waitForAll()
        }
        journal.close()
    }
}
