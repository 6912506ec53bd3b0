import ArgumentParser
import Domain
import Foundation
import Journal

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Write the journal's events as NDJSON, one line each, envelope included, or as a table.",
        discussion: """
        Works on a journal a live writer holds open (it stops at the last complete frame) and stops quietly when the pipe closes. \
        Filters combine: an event is written when it passes all of them. Times are UTC, `2024-09-03T09:00:00Z` or `2024-09-03`.
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case ndjson, table }

    @OptionGroup var location: JournalLocation

    @Option(help: "First global position to write.")
    var from: UInt64 = 0

    @Option(help: "Last global position to write (inclusive).")
    var to: UInt64?

    @Option(help: "Only this stream (repeatable).")
    var stream: [String] = []

    @Option(help: "Only streams starting with this prefix, e.g. `slot-grenoble-` (repeatable).")
    var streamPrefix: [String] = []

    @Option(help: "Only this event type (repeatable).")
    var type: [String] = []

    @Option(help: "Only events recorded at or after this time.")
    var since: String?

    @Option(help: "Only events recorded before this time.")
    var until: String?

    @Option(help: "ndjson (default) or table.")
    var format: Format = .ndjson

    func validate() throws {
        if let to, to < from { throw ValidationError("--to \(to) is before --from \(from)") }
        _ = try ReplayFilter.micros(since, option: "--since")
        _ = try ReplayFilter.micros(until, option: "--until")
    }

    func run() throws {
        let filter = ReplayFilter(
            streams: Set(stream.map { Array($0.utf8) }), prefixes: streamPrefix.map { Array($0.utf8) }, types: Set(type.map { Array($0.utf8) }),
            last: to, since: try ReplayFilter.micros(since, option: "--since"), until: try ReplayFilter.micros(until, option: "--until"))
        let reader = try JournalReader(directory: location.journal)
        let out = StandardOutput()
        if format == .table { out.write(TableRow.header) }
        try reader.forEachEvent(from: from) { view in
            if let last = filter.last, view.position > last { return false }
            guard filter.accepts(view) else { return true }
            out.append { buffer in
                switch format {
                case .ndjson:
                    WireFormat.appendJSON(of: view, to: &buffer)
                    buffer.append(0x0A)
                case .table:
                    TableRow.append(view, to: &buffer)
                }
            }
            return !out.closedByReader
        }
        out.flush()
    }
}

/// Which events `registre replay` writes. Compares raw bytes, so it costs nothing per event
/// that no filter asks about.
struct ReplayFilter {
    var streams: Set<[UInt8]>
    var prefixes: [[UInt8]]
    var types: Set<[UInt8]>
    var last: UInt64?
    var since: Int64?
    var until: Int64?

    func accepts(_ view: EventView) -> Bool {
        if let since, view.recordedAtMicros < since { return false }
        if let until, view.recordedAtMicros >= until { return false }
        if !types.isEmpty, !types.contains(Array(view.typeBytes)) { return false }
        if streams.isEmpty && prefixes.isEmpty { return true }
        let name = view.streamBytes
        if !streams.isEmpty, streams.contains(Array(name)) { return true }
        return prefixes.contains { p in p.count <= name.count && name.prefix(p.count).elementsEqual(p) }
    }

    static func micros(_ text: String?, option: String) throws -> Int64? {
        guard let text else { return nil }
        let full = text.count == 10 ? text + "T00:00:00Z" : text
        guard let date = UTCTime.parse(full) else {
            throw ValidationError("\(option) '\(text.prefix(40))' is not a UTC time like 2024-09-03T09:00:00Z or 2024-09-03")
        }
        return Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }
}

/// One readable line per event, in fixed columns (long streams and types are not cut).
enum TableRow {
    static let header = pad("POSITION", 10) + "  " + pad("RECORDED AT (UTC)", 27) + "  " + pad("STREAM", 48) + "  " + pad("VER", 5) + "  " + pad("TYPE", 32) + "  ID\n"

    static func append(_ view: EventView, to out: inout [UInt8]) {
        let line = pad(String(view.position), 10) + "  " + pad(WireFormat.timestamp(micros: view.recordedAtMicros), 27) + "  "
            + pad(printable(view.streamBytes), 48) + "  " + pad(String(view.version), 5) + "  " + pad(printable(view.typeBytes), 32) + "  "
            + view.id.uuidString.lowercased() + "\n"
        out.append(contentsOf: line.utf8)
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    /// Control characters cannot reach the terminal through a stream or type name.
    private static func printable(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes.map { $0 < 0x20 || $0 == 0x7F ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
    }
}
