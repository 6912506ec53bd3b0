import ArgumentParser
import Foundation
import Journal

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Write the journal's events as NDJSON, one line each, envelope included.",
        discussion: "Works on a journal a live writer holds open (it stops at the last complete frame) and stops quietly when the pipe closes."
    )

    @OptionGroup var location: JournalLocation

    @Option(help: "First global position to write.")
    var from: UInt64 = 0

    func run() throws {
        let reader = try JournalReader(directory: location.journal)
        let out = StandardOutput()
        try reader.forEachEvent(from: from) { view in
            out.append { buffer in
                WireFormat.appendJSON(of: view, to: &buffer)
                buffer.append(0x0A)
            }
            return !out.closedByReader
        }
        out.flush()
    }
}
