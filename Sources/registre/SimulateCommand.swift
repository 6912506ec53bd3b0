import ArgumentParser
import Foundation
import Journal
import Simulator

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Write a simulated history of the Isère prefecture (appointments, dossiers, bot storms) into a journal.",
        discussion: """
        The history is deterministic: the same --seed, --scale and --years write the same events with the \
        same ids and business times (occurredAt, from 2024-01-01). Calibration: docs/SIMULATOR.md.

        Without --socket, events go straight into the journal directory in bulk appends with relaxed \
        durability (written at once, synced when segments seal and when the journal closes): a simulated \
        history can be redone, so it does not pay for an fsync per append. The journal must be empty.

        With --socket PATH, every decision is one POST /append to a running `registre` server on that \
        Unix socket, as a real service sends it, and the server checks every rule again. The server must \
        accept business times as old as the simulated period: start it with `--business-clock-skew unlimited`. --journal then \
        names the server's journal only for the record and is not opened. --discard generates the \
        history without writing it, to time generation alone.
        """
    )

    @OptionGroup var location: JournalLocation

    @Option(help: "The calibrated profile to simulate.")
    var profile: String = "isere-2024"

    @Option(help: "Random seed; the same seed gives the same history.")
    var seed: UInt64 = 2024

    @Option(help: "Volume multiplier: 1 is 15,000 dossiers a year (about 235,000 events).")
    var scale: Double = 1

    @Option(help: "Simulated years, from 2024-01-01.")
    var years: Int = 1

    @Option(help: ArgumentHelp("Write through a running server listening on this Unix socket.", valueName: "PATH"))
    var socket: String?

    @Option(help: "With --socket: decisions per HTTP request (1 is how a live service appends).")
    var appendsPerRequest: Int = 1

    @Flag(help: "Generate the history without writing it anywhere, to measure generation alone.")
    var discard = false

    func validate() throws {
        guard profile == "isere-2024" else { throw ValidationError("unknown --profile \(profile); the only profile is isere-2024") }
        guard scale > 0, scale <= 100, scale.isFinite else { throw ValidationError("--scale must be greater than 0 and at most 100 (France is about 63 Isères; memory grows with it), not \(scale)") }
        guard (1...100).contains(years) else { throw ValidationError("--years must be between 1 and 100, not \(years)") }
        guard (1...10_000).contains(appendsPerRequest) else { throw ValidationError("--appends-per-request must be between 1 and 10000, not \(appendsPerRequest)") }
        if let socket, socket.isEmpty { throw ValidationError("--socket needs a path") }
        if discard, socket != nil { throw ValidationError("--discard and --socket exclude each other") }
    }

    func run() throws {
        let simulator = try Simulator(profile: .isere2024(scale: scale, years: years, seed: seed))
        let bar = ProgressBar("simulate")
        let started = Date()
        let summary: SimulationSummary
        if discard {
            summary = try simulator.run(into: DiscardingSink()) { bar.update($0.events) }
        } else if let socket {
            summary = try simulator.run(into: SocketSink(socketPath: socket, appendsPerRequest: appendsPerRequest)) { bar.update($0.events) }
        } else {
            var options = JournalOptions()
            options.durability = .relaxed
            let journal = try Journal.open(directory: location.journal, options: options)
            defer { journal.close() }
            guard journal.endPosition == 0 else {
                throw ValidationError("the journal at \(location.journal) already holds \(journal.endPosition) events; simulate into an empty directory")
            }
            summary = try simulator.run(into: JournalSink(journal: journal)) { bar.update($0.events) }
        }
        bar.finish()
        let seconds = Date().timeIntervalSince(started)
        print(summary.report)
        print(String(format: "written in %.1f s (%.0f events/s)", seconds, Double(summary.events) / max(seconds, 0.001)))
        if summary.refusedDecisions > 0 { throw ExitCode(2) }
    }
}
