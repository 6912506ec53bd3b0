import ArgumentParser
import Foundation
import Journal

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Bulk-load NDJSON events (one per line) into a journal, in large durable batches.",
        discussion: """
        Each line: {"stream":"…","type":"…","id":"uuid"?,"data":{…},"metadata":{…}?,"expectedVersion":V|"any"|"noStream"|"streamExists"?}.
        The output of `registre replay` imports as it is. A bad line stops the import before the batch \
        holding it; the lines after it are still checked, and every bad line is reported by number. \
        Re-running the same import after an interruption is safe when lines carry ids: committed batches \
        are recognised and skipped.
        """
    )

    @OptionGroup var location: JournalLocation

    @Argument(help: ArgumentHelp("NDJSON file to read, or - for standard input.", valueName: "FILE"))
    var file: String = "-"

    @Option(help: "Events per durable append.")
    var batch: Int = 1000

    func validate() throws {
        guard (1...10_000).contains(batch) else { throw ValidationError("--batch must be between 1 and 10000, not \(batch)") }
    }

    func run() throws {
        let input: FileHandle
        if file == "-" {
            input = .standardInput
        } else {
            guard let h = FileHandle(forReadingAtPath: file) else { throw ValidationError("cannot read \(file)") }
            input = h
        }
        let journal = try Journal.open(directory: location.journal)
        defer { journal.close() }
        let progress = ProgressBar("import")
        var batcher = ImportBatcher(maximumEvents: batch)
        var batchFirstLine = 1
        var imported = 0, skipped = 0
        var badLines: [(Int, String)] = []
        var stopped = false

        func flush() throws {
            guard !batcher.isEmpty, !stopped else { batcher.reset(); return }
            do {
                let result = try journal.appendAndWait(batcher.request)
                if result.wasAlreadyCommitted { skipped += batcher.events.count } else { imported += batcher.events.count }
            } catch {
                badLines.append((batchFirstLine, "the batch starting here was refused: \(error)"))
                stopped = true
            }
            batcher.reset()
            progress.update(UInt64(imported + skipped))
        }

        var lineNumber = 0
        try LineReader(input).forEachLine { line in
            lineNumber += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
            do {
                let parsed = try ImportLine(parsing: line)
                if stopped { return }
                if batcher.isEmpty { batchFirstLine = lineNumber }
                if !batcher.add(parsed) {
                    try flush()
                    batchFirstLine = lineNumber
                    _ = batcher.add(parsed)
                }
            } catch let problem as ImportLine.Problem {
                badLines.append((lineNumber, problem.message))
                stopped = true
                batcher.reset()
            }
            if badLines.count >= 100 { throw StopReading() }
        }
        if !stopped { try flush() }
        progress.finish()
        for (line, message) in badLines { printError("line \(line): \(message)") }
        var summary = "imported \(imported) events into \(location.journal)"
        if skipped > 0 { summary += " (\(skipped) already there, skipped)" }
        print(summary + "; journal now holds \(journal.endPosition) events")
        if !badLines.isEmpty {
            printError("stopped at line \(badLines[0].0): nothing from the batch holding it was imported")
            throw ExitCode(1)
        }
    }
}

struct StopReading: Error {}

/// Splits input into lines without decoding it, in 1 MiB reads.
struct LineReader {
    let handle: FileHandle
    init(_ handle: FileHandle) { self.handle = handle }

    func forEachLine(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var pending: [UInt8] = []
        do {
            while true {
                let chunk = handle.readData(ofLength: 1 << 20)
                if chunk.isEmpty { break }
                pending.append(contentsOf: chunk)
                var start = 0
                try pending.withUnsafeBytes { raw in
                    while let nl = raw[start...].firstIndex(of: 0x0A) {
                        try body(UnsafeRawBufferPointer(rebasing: raw[start..<nl]))
                        start = nl + 1
                    }
                }
                pending.removeFirst(start)
            }
            if !pending.isEmpty { try pending.withUnsafeBytes { try body($0) } }
        } catch is StopReading {}
    }
}
