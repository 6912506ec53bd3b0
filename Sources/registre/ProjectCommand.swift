import ArgumentParser
import Domain
import Foundation
import Projections

/// `registre project`: the offline rebuild of the four projections, for analysts working on a
/// copy of the journal (or on a live one: it reads up to the last complete frame).
struct ProjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project",
        abstract: "Rebuild slot availability, dossier status, delay statistics and abuse signals from a journal, offline.",
        discussion: """
        Reads the segment files directly, with no server; works on a read-only copy and on a journal another \
        process is appending to. Writes one table per projection (docs/PROJECTIONS.md): `projections.sqlite`, \
        or one <table>.json / <table>.csv per table. Files appear only once everything was written; a damaged \
        journal stops the rebuild with the file, offset and position of the damage, and exit status 2.

        With --checkpoint FILE, a run saves the projections' state at the position it reached in FILE; a later \
        run with the same FILE loads it and folds only the events after it, and writes the same tables, byte for \
        byte, as a rebuild from zero. A checkpoint that is damaged, taken on another journal, ahead of the journal \
        or past --as-of / --until-position is refused (exit status 2); delete it to rebuild from zero.
        """
    )

    @OptionGroup var location: JournalLocation

    @Option(help: ArgumentHelp("Directory for the output (created if missing).", valueName: "DIR"))
    var out: String

    @Option(help: ArgumentHelp("Output format: json, csv or sqlite.", valueName: "FORMAT"))
    var format: String = "json"

    @Option(name: .customLong("as-of"), help: ArgumentHelp("Only events committed at or before this UTC time (journal clock), e.g. 2024-10-31T23:59:59Z.", valueName: "TIME"))
    var asOf: String?

    @Option(name: .customLong("until-position"), help: ArgumentHelp("Only events at positions below N: the state at position N.", valueName: "N"))
    var untilPosition: UInt64?

    @Option(help: ArgumentHelp("Resume from this checkpoint file if it exists, and save the new state in it at the end.", valueName: "FILE"))
    var checkpoint: String?

    func validate() throws {
        guard OutputFormat(rawValue: format) != nil else {
            throw ValidationError("--format must be json, csv or sqlite, not '\(format)'")
        }
        guard !out.isEmpty else { throw ValidationError("--out needs a directory path") }
        if asOf != nil, untilPosition != nil { throw ValidationError("give --as-of or --until-position, not both") }
        if let asOf, UTCTime.parse(asOf) == nil {
            throw ValidationError("--as-of must be a UTC time such as 2024-10-31T23:59:59Z, not '\(asOf)'")
        }
        try OutputPaths.refuseInside(journal: location.journal, out, flag: "--out")
        if let checkpoint {
            guard !checkpoint.isEmpty else { throw ValidationError("--checkpoint needs a file path") }
            try OutputPaths.refuseInside(journal: location.journal, checkpoint, flag: "--checkpoint")
        }
    }

    func run() throws {
        let limit: RebuildLimit = if let untilPosition { .beforePosition(untilPosition) } else if let asOf, let date = UTCTime.parse(asOf) { .asOf(date) } else { .end }
        let bar = ProgressBar("project", total: untilPosition)
        let report: ProjectionRebuild.ExportReport
        do {
            report = try ProjectionRebuild.export(journal: location.journal, to: out, format: OutputFormat(rawValue: format)!, limit: limit,
                                                checkpoint: checkpoint) { bar.update($0) }
        } catch {
            bar.finish()
            printError("\(error)")
            if case .output = error { throw ExitCode(1) }
            throw ExitCode(2)
        }
        bar.finish()
        let set = report.set
        let rebuild = report.rebuild
        // Counts only: the tables are written; building every answer again would take longer than the fold.
        let sizes = set.sizes
        var lines = [
            "folded \(rebuild.events) events (positions \(rebuild.startPosition)..<\(rebuild.endPosition)\(report.resumedFrom.map { ", resumed from the checkpoint at \($0)" } ?? "")) in \(String(format: "%.2f", rebuild.seconds)) s, \(Int(rebuild.eventsPerSecond)) events/s",
            "slots \(sizes.slots), releases \(sizes.releases), appointments \(sizes.appointments), dossiers \(sizes.dossiers), fingerprints \(sizes.fingerprints)",
            "suspicious fingerprints \(sizes.flaggedFingerprints); dossiers past the implicit-rejection deadline at \(UTCTime.string(report.referenceTime)): \(set.pastImplicitRejectionDeadline(at: report.referenceTime).count)",
        ]
        let anomalies = set.anomalies()
        if !anomalies.isEmpty {
            lines.append("anomalies (events the journal's rules forbid; see the anomalies table): " + anomalies.map { "\($0.kind.rawValue) ×\($0.count)" }.joined(separator: ", "))
        }
        lines.append("wrote " + report.files.joined(separator: ", "))
        if let checkpoint { lines.append("checkpoint at position \(rebuild.endPosition) saved in \(checkpoint)") }
        print(lines.joined(separator: "\n"))
    }
}
