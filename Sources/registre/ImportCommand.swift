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

        With --signing-key, the journal signs checkpoints as `registre serve` does (every \
        --checkpoint-every events and when the import ends), so `registre audit`, `receipt` and \
        `verify-consistency` can prove the imported history with the public key alone.
        """
    )

    @OptionGroup var location: JournalLocation

    @Argument(help: ArgumentHelp("NDJSON file to read, or - for standard input.", valueName: "FILE"))
    var file: String = "-"

    @Option(help: "Events per durable append.")
    var batch: Int = 1000

    @Option(help: ArgumentHelp("Ed25519 private key (from `registre keygen`) to sign checkpoints with, periodically and when the import ends.", valueName: "FILE"))
    var signingKey: String?

    @Option(help: "With --signing-key: sign a checkpoint after this many new events (also once at the end).")
    var checkpointEvery: Int = JournalOptions().checkpointEvery

    func validate() throws {
        guard (1...10_000).contains(batch) else { throw ValidationError("--batch must be between 1 and 10000, not \(batch)") }
        guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every must be at least 1, not \(checkpointEvery)") }
    }

    /// The journal's options: a signer when a key is given, read before anything is opened so a
    /// bad key file stops the import before it writes.
    private func journalOptions() throws -> JournalOptions {
        var options = JournalOptions()
        guard let signingKey else { return options }
        do { options.checkpointSigner = try CheckpointSigner(file: signingKey) } catch {
            throw ValidationError("--signing-key: \(error)")
        }
        options.checkpointEvery = checkpointEvery
        return options
    }

    func run() throws {
        let options = try journalOptions()
        let input: FileHandle
        if file == "-" {
            input = .standardInput
        } else {
            guard let h = FileHandle(forReadingAtPath: file) else { throw ValidationError("cannot read \(file)") }
            input = h
        }
        let journal = try Journal.open(directory: location.journal, options: options)
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
        if let signer = options.checkpointSigner {
            print("checkpoints signed by key \(signer.publicKey.keyID.hex) (every \(checkpointEvery) events and at the end)")
        }
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
