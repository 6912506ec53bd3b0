import Foundation
import Journal

/// Where an offline rebuild stops.
public enum RebuildLimit: Sendable, Equatable {
    /// Every complete event the segment files hold now.
    case end
    /// The events at positions below `n`: the state a live server had at position `n`.
    case beforePosition(UInt64)
    /// The events committed (journal clock, `recordedAt`) at or before this time. The journal's
    /// clock never goes back along the log, so this is a prefix of it.
    case asOf(Date)
}

public struct RebuildReport: Sendable, Equatable {
    public var startPosition: UInt64
    public var endPosition: UInt64
    public var seconds: Double
    public var events: UInt64 { endPosition - startPosition }
    public var eventsPerSecond: Double { Double(events) / max(seconds, 1e-9) }
}

/// The offline rebuild: folds a journal's segment files, without a server, into a `ProjectionSet`.
///
/// It reads through `JournalReader`, so it works on a read-only copy and on a journal another
/// process is appending to (it stops at the last complete frame). Damage throws, naming the file,
/// offset and position; nothing partial is ever returned as if complete.
public enum ProjectionRebuild {
    /// Folds from `set.position` (0 for a new set, or a saved checkpoint) up to `limit`.
    @discardableResult
    public static func fold(journal directory: String, into set: inout ProjectionSet, limit: RebuildLimit = .end,
                            onStep: ((DossierHistoryEntry) throws -> Void)? = nil,
                            progress: ((UInt64) -> Void)? = nil) throws(ProjectionError) -> RebuildReport {
        let start = set.position
        let clock = ContinuousClock.now
        if case .beforePosition(let n) = limit, n <= start {
            guard n == start else { throw .checkpoint("the state is already at position \(start), past the requested position \(n)") }
            return RebuildReport(startPosition: start, endPosition: start, seconds: 0)
        }
        let asOfMicros: Int64? = if case .asOf(let date) = limit { Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down)) } else { nil }
        let before: UInt64? = if case .beforePosition(let n) = limit { n } else { nil }
        do {
            let reader = try JournalReader(directory: directory)
            var copies = CopyDetector()
            let factReader = FactReader()
            var sinceProgress = 0
            try reader.forEachEvent(from: start) { view in
                if let before, view.position >= before { return false }
                if let asOfMicros, view.recordedAtMicros > asOfMicros { return false }
                let step = try set.apply(view, copies: &copies, reader: factReader)
                if let step, let onStep { try onStep(step.entry) }
                sinceProgress += 1
                if sinceProgress == 65_536, let progress {
                    sinceProgress = 0
                    progress(set.position)
                }
                return true
            }
        } catch let error as ProjectionError {
            throw error
        } catch let error as JournalError {
            throw .journal(error)
        } catch {
            throw .output(path: directory, reason: "\(error)")
        }
        progress?(set.position)
        if let before, set.position < before { throw .journalTooShort(endPosition: set.position, requested: before) }
        let elapsed = ContinuousClock.now - clock
        return RebuildReport(startPosition: start, endPosition: set.position, seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    /// A new set folded from position 0.
    public static func rebuild(journal directory: String, limit: RebuildLimit = .end, thresholds: AbuseThresholds = AbuseThresholds()) throws(ProjectionError) -> ProjectionSet {
        var set = ProjectionSet(thresholds: thresholds)
        try fold(journal: directory, into: &set, limit: limit)
        return set
    }

    public struct ExportReport: Sendable {
        public var rebuild: RebuildReport
        public var files: [String]
        public var set: ProjectionSet
        /// The "now" of the deadline column: the as-of time, or the commit time of the last event.
        public var referenceTime: Date
        /// The position of the checkpoint the run started from; `nil` for a rebuild from zero.
        public var resumedFrom: UInt64?
    }

    /// Rebuilds from zero and writes every table to `directory` in `format`.
    ///
    /// Files are written under a `.partial` name and renamed into place only when everything
    /// succeeded; on error they are removed and nothing in `directory` changes (a directory the
    /// run created is removed again).
    ///
    /// With `checkpoint`, a file there is loaded first (after checking that it is sound, that it
    /// was taken on this journal and that the journal reaches its position) and only the events
    /// after it are folded; at the end the file is replaced by a checkpoint at the new position.
    /// The tables are the same, byte for byte, as those of a rebuild from zero.
    public static func export(journal: String, to directory: String, format: OutputFormat, limit: RebuildLimit = .end,
                              thresholds: AbuseThresholds = AbuseThresholds(), checkpoint: String? = nil,
                              progress: ((UInt64) -> Void)? = nil) throws(ProjectionError) -> ExportReport {
        // A journal that cannot be opened is reported before anything is created in `directory`.
        do { _ = try JournalReader(directory: journal) } catch let error as JournalError { throw .journal(error) } catch {
            throw .output(path: journal, reason: "\(error)")
        }
        // So is a checkpoint that cannot be used.
        var set = ProjectionSet(thresholds: thresholds)
        var resumed: CheckpointReader? = nil
        if let checkpoint, FileManager.default.fileExists(atPath: checkpoint) {
            let loaded = try CheckpointReader(path: checkpoint)
            try ProjectionCheckpoint.check(loaded, journal: journal, limit: limit, thresholds: thresholds)
            set = loaded.set
            resumed = loaded
        }
        var isDirectory: ObjCBool = false
        var createdDirectory = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw .output(path: directory, reason: "it exists and is not a directory") }
        } else {
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw .output(path: directory, reason: "cannot create it: \(error.localizedDescription)")
            }
            createdDirectory = true
        }
        // A run that fails takes back the directory it made (rmdir: only while it is empty), so
        // an empty output is never mistaken for a projection of an empty journal.
        var succeeded = false
        defer { if createdDirectory && !succeeded { _ = rmdir(directory) } }
        var saving: CheckpointWriter? = nil
        if let checkpoint { saving = try CheckpointWriter(path: checkpoint) }
        defer { saving?.discard() }
        var report = RebuildReport(startPosition: set.position, endPosition: set.position, seconds: 0)
        var reference = Date()
        let body: (any ExportSink) throws -> Void = { sink in
            let steps = try sink.open(ProjectionTables.dossierSteps)
            try resumed?.forEachStep { step in
                try steps.write(ProjectionTables.row(step))
                try saving?.write(step)
            }
            report = try fold(journal: journal, into: &set, limit: limit, onStep: { step in
                try steps.write(ProjectionTables.row(step))
                try saving?.write(step)
            }, progress: progress)
            try steps.close()
            if let saving {
                let ids = try ProjectionCheckpoint.boundaryIds(journal: journal, position: set.position)
                try saving.finish(set, firstEventId: ids.first, lastEventId: ids.last)
            }
            if case .asOf(let date) = limit {
                reference = date
            } else if let micros = set.lastRecordedAtMicros {
                reference = Millis.date(micros / 1000)
            }
            let info: [(String, String)] = [
                ("journal", journal),
                ("limit", describe(limit)),
                ("first_position", "0"),
                ("end_position", String(set.position)),
                ("events", String(set.position)),
                ("last_recorded_at", set.lastRecordedAtMicros.map { CivilCalendar.timeString(millis: $0 / 1000) } ?? "none"),
                ("reference_time", CivilCalendar.timeString(millis: Millis.of(reference))),
                ("implicit_rejection_months", String(set.dossierBoard.implicitRejectionMonths)),
                ("churn_window_seconds", String(thresholds.churnWindowSeconds)),
                ("snipe_window_seconds", String(thresholds.snipeWindowSeconds)),
            ]
            try ProjectionTables.writeState(of: set, referenceTime: reference, info: info, to: sink)
            let docs = try sink.open(ProjectionTables.columnDocs)
            for table in ProjectionTables.all {
                for column in table.columns { try docs.write([.text(table.name), .text(column.name), .text(column.type.rawValue), .text(column.meaning)]) }
            }
            try docs.close()
        }
        var files: [String] = []
        do {
            switch format {
            case .sqlite:
                let final = directory + "/projections.sqlite"
                let partial = final + ".partial"
                do {
                    try SQLiteSink.write(path: partial) { try body($0) }
                } catch {
                    unlink(partial)
                    throw error
                }
                guard rename(partial, final) == 0 else { throw ProjectionError.output(path: final, reason: String(cString: strerror(errno))) }
                files = [final]
            case .json, .csv:
                let sink = TextSink(directory: directory, format: format)
                do {
                    try body(sink)
                    files = try sink.publish()
                } catch {
                    sink.discard()
                    throw error
                }
            }
        } catch let error as ProjectionError {
            throw error
        } catch {
            throw .output(path: directory, reason: "\(error)")
        }
        try saving?.commit()
        saving = nil
        succeeded = true
        return ExportReport(rebuild: report, files: files, set: set, referenceTime: reference, resumedFrom: resumed?.trailer.position)
    }

    static func describe(_ limit: RebuildLimit) -> String {
        switch limit {
        case .end: "end of journal"
        case .beforePosition(let n): "positions below \(n)"
        case .asOf(let date): "committed at or before \(CivilCalendar.timeString(millis: Millis.of(date)))"
        }
    }
}

extension ProjectionTables {
    public static let columnDocs = TableSchema(name: "column_docs", row: "one column of one table of this output", columns: [
        Column("table_name", .text, "table"),
        Column("column_name", .text, "column"),
        Column("type", .text, "INTEGER, REAL or TEXT"),
        Column("meaning", .text, "what it holds"),
    ], indexes: [])
}

#if canImport(Glibc)
import Glibc
#endif
