import ArgumentParser
import Domain
import Foundation
import Journal

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Bulk-load NDJSON events (one per line) into a journal, in large durable batches.",
        discussion: """
        Each line: {"stream":"…","type":"…","id":"uuid"?,"data":{…},"metadata":{…}?,"expectedVersion":V|"any"|"noStream"|"streamExists"?}.
        The output of `registre replay` imports as it is. A bad line stops the import before the batch \
        holding it; the lines after it are still checked, every bad line is reported by number, and the \
        last line that is in the journal is named, with where to resume. A line may hold at most 16 MiB. \
        Re-running the same import after an interruption is safe when lines carry ids: committed batches \
        are recognised and skipped.

        With --signing-key, the journal signs checkpoints as `registre serve` does (every \
        --checkpoint-every events and when the import ends), so `registre audit`, `receipt` and \
        `verify-consistency` can prove the imported history with the public key alone.

        A batch runs past --batch rather than end between the copies of one event that lives in \
        several streams (a booking's in its slot's and its applicant's stream): the server writes \
        them in one append, and `registre audit` reports copies that are not (stream.missingHome).
        """
    )

    @OptionGroup var location: JournalLocation

    @Argument(help: ArgumentHelp("NDJSON file to read, or - for standard input.", valueName: "FILE"))
    var file: String = "-"

    @Option(help: "Events per durable append (more when the copies of an event of several streams would be split).")
    var batch: Int = 1000

    @Option(help: ArgumentHelp("Ed25519 private key (from `registre keygen`) to sign checkpoints with, periodically and when the import ends.", valueName: "FILE"))
    var signingKey: String?

    @Option(help: "With --signing-key: sign a checkpoint after this many new events (also once at the end).")
    var checkpointEvery: Int = JournalOptions().checkpointEvery

    /// Events a batch may run past --batch while copies of an event of several streams wait for
    /// their twins: the server writes such copies next to each other, so a few are enough.
    static let twinAllowance = 64

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
            // Checked before the journal is opened (which creates it): a directory would only
            // fail at the first read.
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else { throw ValidationError("\(file) does not exist") }
            guard !isDirectory.boolValue else { throw ValidationError("\(file) is a directory: name an NDJSON file, or - for standard input") }
            guard let h = FileHandle(forReadingAtPath: file) else { throw ValidationError("cannot read \(file)") }
            input = h
        }
        let journal = try Journal.open(directory: location.journal, options: options)
        defer { journal.close() }
        let progress = ProgressBar("import")
        // The journal's own limit: a batch may run past --batch to keep an event's copies together.
        var batcher = ImportBatcher(maximumEvents: options.limits.maximumEventsPerAppend)
        var copies = OpenCopies()
        var batchFirstLine = 1, batchLastLine = 0
        /// The line number of each event of the batch, so a refusal about one event names its line.
        var batchLines: [Int] = []
        /// The last line whose batch is in the journal: where a run after a stop resumes.
        var committedThroughLine = 0
        var imported = 0, skipped = 0
        var badLines: [(Int, String)] = []
        var stopped = false

        func flush() throws {
            guard !batcher.isEmpty, !stopped else { batcher.reset(); batchLines.removeAll(); copies.reset(); return }
            do {
                let result = try journal.appendAndWait(batcher.request)
                if result.wasAlreadyCommitted { skipped += batcher.events.count } else { imported += batcher.events.count }
                committedThroughLine = batchLastLine
            } catch {
                let located = Self.locate(error, events: batcher.events, lines: batchLines)
                if !located.isEmpty {
                    badLines += located
                } else {
                    badLines.append((batchFirstLine, "the batch starting here was refused: \(error)"))
                }
                stopped = true
            }
            batcher.reset()
            batchLines.removeAll(keepingCapacity: true)
            copies.reset()
            batchBytes = 0
            progress.update(UInt64(imported + skipped))
        }
        /// Bytes the batch's records will take (`recordBytes`), so a batch never grows past what
        /// the journal takes in one append.
        var batchBytes = 0
        let recordBytes = Self.recordBytes

        /// Past --batch a batch waits for a copy's twins, but not for ever: copies the input never
        /// completes (a replay of slot streams only) must not hold it open.
        func batchIsComplete() -> Bool {
            batcher.events.count >= batch && (copies.open == 0 || batcher.events.count >= batch + Self.twinAllowance)
        }

        var lineNumber = 0
        do {
            try LineReader(input).forEachLine { line in
                lineNumber += 1
                if LineReader.isBlank(line) { return }
                do {
                    let parsed = try ImportLine(parsing: line, limits: options.limits)
                    if stopped { return }
                    if batchIsComplete() { try flush() }
                    if !batcher.isEmpty, batchBytes + recordBytes(parsed.event) > options.limits.maximumAppendBytes { try flush() }
                    if batcher.isEmpty { batchFirstLine = lineNumber }
                    if !batcher.add(parsed) {
                        try flush()
                        batchFirstLine = lineNumber
                        _ = batcher.add(parsed)
                    }
                    batchLines.append(lineNumber)
                    copies.add(parsed.event)
                    batchBytes += recordBytes(parsed.event)
                    batchLastLine = lineNumber
                } catch let problem as ImportLine.Problem {
                    // A batch already complete is not the bad line's: it goes in, as it would
                    // have had this line been good (the stop is before the bad line's batch).
                    if !stopped, batchIsComplete() { try flush() }
                    badLines.append((lineNumber, problem.message))
                    stopped = true
                    batcher.reset()
                    batchLines.removeAll(keepingCapacity: true)
                    copies.reset()
                }
                if badLines.count >= 100 { throw StopReading() }
            }
        } catch let error as LineReader.Failure {
            if !stopped, batchIsComplete() { try flush() }
            badLines.append((error.line, error.message))
            stopped = true
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
            let kept = committedThroughLine == 0 ? "no line was imported"
                : "lines 1–\(committedThroughLine) are in the journal and nothing after them"
            printError("stopped at line \(badLines[0].0): \(kept); once it is mended, import again from line \(committedThroughLine + 1) (or the whole file again, if its lines carry ids)")
            throw ExitCode(1)
        }
    }

    /// The lines a journal refusal of a batch is about, when it is about events (or streams'
    /// expectations, which the batch's first line of each stream carries), with what is wrong
    /// with each; empty when it is about the batch as a whole. `lines[k]` is the line of the
    /// batch's event k.
    static func locate(_ error: any Error, events: [ProposedEvent], lines: [Int]) -> [(Int, String)] {
        guard let error = error as? JournalError, lines.count == events.count else { return [] }
        return locate(error, events: events, lines: lines).map { [$0] } ?? conflicts(error, events: events, lines: lines)
    }

    private static func conflicts(_ error: JournalError, events: [ProposedEvent], lines: [Int]) -> [(Int, String)] {
        guard case .wrongExpectedVersion(let conflicts) = error else { return [] }
        var located: [(Int, String)] = []
        for conflict in conflicts {
            guard let k = events.firstIndex(where: { $0.stream == conflict.stream }) else { return [] }
            located.append((lines[k], "\(conflict) (the journal refused this line, and nothing of its batch was written)"))
        }
        return located.sorted { $0.0 < $1.0 }
    }

    private static func locate(_ error: JournalError, events: [ProposedEvent], lines: [Int]) -> (Int, String)? {
        func line(_ k: Int) -> Int? { lines.indices.contains(k) ? lines[k] : nil }
        let refused = "the journal refused this line, and nothing of its batch was written"
        switch error {
        case .invalidStreamID(let k, let stream, let reason):
            return line(k).map { ($0, "invalid stream id '\(stream.prefix(80))': \(reason) (\(refused))") }
        case .invalidEventType(let k, let type, let reason):
            return line(k).map { ($0, "invalid event type '\(type.prefix(80))': \(reason) (\(refused))") }
        case .invalidJSON(let k, let field, let failure):
            return line(k).map { ($0, "'\(field)' is not a valid JSON object: \(failure) (\(refused))") }
        case .eventTooLarge(let k, let size, let limit):
            return line(k).map { ($0, "the event is \(size) bytes, over the limit of \(limit) (\(refused))") }
        case .duplicateEventInAppend(let id):
            // The second line with the id is the one that repeats it.
            let holding = events.indices.filter { events[$0].id == id }
            guard holding.count >= 2, let first = line(holding[0]), let second = line(holding[1]) else { return nil }
            return (second, "event id \(id.uuidString.lowercased()) is already on line \(first) of the same batch (\(refused))")
        default:
            return nil
        }
    }
}

extension ImportCommand {
    /// Bytes an event's record takes in an append, counted high (64 bytes of fixed fields each).
    static func recordBytes(_ e: ProposedEvent) -> Int { 64 + e.stream.utf8.count + e.type.utf8.count + e.metadata.count + e.data.count }
}

struct StopReading: Error {}

/// The events of several streams (`DomainEvent.homeCount(ofType:)`) in an import batch that do
/// not yet have a copy for each of their streams: the batch is not ended while there are any.
///
/// The server writes such an event to all of its streams in one append (a booking to its slot's
/// stream and its applicant's), and the audit reports copies that one append does not hold
/// together (`stream.missingHome`). `registre replay` output does not say where appends ended, so
/// an import that ended a batch at every --batch events cut some bookings in two, and the audit
/// of a faithfully imported history reported them. Copies are told apart by their type and data
/// bytes, as the server's decisions write them, with no decoding; copies whose bytes differ only
/// keep the batch open longer (up to the journal's limit of events per append), never shorter.
struct OpenCopies {
    private struct Key: Hashable {
        var type: String
        var data: [UInt8]
    }

    private var seen: [Key: Int] = [:]
    /// Events in the batch with fewer copies than streams.
    private(set) var open = 0

    mutating func add(_ event: ProposedEvent) {
        guard let homes = DomainEvent.homeCount(ofType: event.type), homes > 1 else { return }
        let key = Key(type: event.type, data: event.data)
        let count = seen[key, default: 0] + 1
        seen[key] = count
        if count == 1 { open += 1 }
        if count == homes { open -= 1 }
    }

    mutating func reset() {
        seen.removeAll(keepingCapacity: true)
        open = 0
    }
}

/// Splits input into lines without decoding it, in 1 MiB reads.
///
/// A line may hold at most `maximumLineBytes`: no event can be that large (`JournalLimits`), so
/// a longer line is refused where it reaches the limit instead of being held in memory whole.
struct LineReader {
    static let maximumLineBytes = 16 << 20

    /// The input could not be read, or a line is too long: `line` is the line it happened in.
    struct Failure: Error, CustomStringConvertible {
        var line: Int
        var message: String
        var description: String { "line \(line): \(message)" }
    }

    let handle: FileHandle
    init(_ handle: FileHandle) { self.handle = handle }

    /// A line of spaces, tabs and carriage returns only (a blank line of a CRLF file): skipped.
    static func isBlank(_ line: UnsafeRawBufferPointer) -> Bool {
        line.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }

    func forEachLine(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var pending: [UInt8] = []
        // Bytes at the start of `pending` already searched for a newline: a long line is
        // searched once, not again after every read.
        var searched = 0
        var lines = 0
        do {
            while true {
                let chunk: Data
                do { chunk = try handle.read(upToCount: 1 << 20) ?? Data() } catch {
                    throw Failure(line: lines + 1, message: "cannot read the input: \(error.localizedDescription)")
                }
                if chunk.isEmpty { break }
                pending.append(contentsOf: chunk)
                var start = 0
                try pending.withUnsafeBytes { raw in
                    var from = searched
                    while let nl = raw[from...].firstIndex(of: 0x0A) {
                        lines += 1
                        try body(UnsafeRawBufferPointer(rebasing: raw[start..<nl]))
                        start = nl + 1
                        from = start
                    }
                }
                pending.removeFirst(start)
                searched = pending.count
                if pending.count > Self.maximumLineBytes {
                    throw Failure(line: lines + 1, message: "the line is longer than \(Self.maximumLineBytes >> 20) MiB, and no event can be that large")
                }
            }
            if !pending.isEmpty { try pending.withUnsafeBytes { try body($0) } }
        } catch is StopReading {}
    }
}
