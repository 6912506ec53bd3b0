import ArgumentParser
import Audit
import Domain
import Foundation
import Journal
import Projections
import Simulator
#if canImport(Glibc)
import Glibc
#endif

/// What `make demo` runs: two simulated years of the Isère prefecture, a live bot storm through
/// the socket server, the projections rebuilt offline, the audit, and a report. The second year
/// lets the dossiers completed in the first finish, so the delays reported for them are whole.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Simulate two years of the Isère prefecture, run a live bot storm through the server, rebuild the projections, audit, and report.",
        discussion: "Everything happens in a fresh directory whose path is printed; the HTML report is written there."
    )

    /// Simulated years: the delays are those of the first year's dossiers, the second lets
    /// their slow files finish.
    static let years = 2

    @Option(help: "Share of the Isère volume to simulate (1 = 15,000 dossiers a year).")
    var scale: Double = 1

    @Option(help: "Seed of the simulation.")
    var seed: UInt64 = 2024

    @Option(help: "Genuine applicants racing the bots in the live storm.")
    var applicants: Int = 40

    @Option(help: "Directory to work in (default: a new temporary directory).")
    var directory: String?

    func validate() throws {
        guard scale > 0, scale <= 20 else { throw ValidationError("--scale must be in (0, 20], not \(scale)") }
        guard (1...500).contains(applicants) else { throw ValidationError("--applicants must be between 1 and 500, not \(applicants)") }
        // The demo writes a journal, keys, a log and tables: into an existing journal it would
        // append a whole year that cannot be taken out again, and it would replace a key.
        if let directory {
            guard !directory.isEmpty else { throw ValidationError("--directory needs a path") }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else { throw ValidationError("--directory \(directory) is a file: name a new or empty directory") }
                let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? ["?"]
                guard entries.isEmpty else {
                    throw ValidationError("--directory \(directory) is not empty (it holds \(entries.sorted().prefix(3).joined(separator: ", "))\(entries.count > 3 ? ", …" : "")): the demo writes a journal, keys and tables there, so name a new or empty directory")
                }
            }
        }
    }

    func run() throws {
        let dir = directory ?? NSTemporaryDirectory() + "registre-demo-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let journalPath = dir + "/journal"
        print("Registre demo, working in \(dir)\n")
        let started = Date()

        // Keys: the journal signs checkpoints; the audit checks them with the public key alone.
        let signer = CheckpointSigner()
        try signer.fileContents.write(toFile: dir + "/demo.key", atomically: true, encoding: .utf8)
        chmod(dir + "/demo.key", 0o600)
        try signer.publicKey.fileContents.write(toFile: dir + "/demo.pub", atomically: true, encoding: .utf8)

        // 1. Two simulated years.
        step("1/6 simulating \(Self.years) years of the Isère prefecture (scale \(scale), seed \(seed))")
        var options = JournalOptions()
        options.durability = .relaxed
        options.checkpointSigner = signer
        let journal = try Journal.open(directory: journalPath, options: options)
        let profile = SimulationProfile.isere2024(scale: scale, years: Self.years, seed: seed)
        let simulator = try Simulator(profile: profile)
        let bar = ProgressBar("simulate", total: 100)
        let summary = try simulator.run(into: JournalSink(journal: journal)) { bar.update(UInt64($0.fractionDone * 100), unit: "%") }
        bar.finish()
        journal.close()
        print("     \(summary.events) events: \(summary.dossiers) dossiers, \(summary.appointmentsBooked) appointments booked, \(summary.releases) releases, \(summary.storms) bot storms, \(summary.refusedDecisions) decisions refused by the domain")
        // A refused decision wrote nothing, so the history lacks what it would have written:
        // the figures below would describe a simulator bug, as `registre simulate` says with 2.
        if let failure = DemoFigures.refusalFailure(refused: summary.refusedDecisions, first: summary.firstRefusal) {
            FileHandle.standardError.write(Data("registre demo: \(failure)\n".utf8))
            throw ExitCode(2)
        }

        // 2. The server, as services use it.
        step("2/6 starting the server on a temporary socket")
        let socket = NSTemporaryDirectory() + "registre-demo-\(getpid()).sock"
        let server = try ServerProcess.start(journal: journalPath, socket: socket, signingKey: dir + "/demo.key", log: dir + "/server.log")
        defer { server.stop() }
        print("     registre serve --journal \(journalPath) --socket \(socket)  (log: \(dir)/server.log)")

        // 3. A live storm against a new release.
        step("3/6 publishing a new release and letting bots and applicants race for it")
        guard let planned = summary.nextRelease else { throw ValidationError("the simulation planned no next release") }
        let storm = try LiveStorm(socket: socket, release: planned.shifted(to: Date()), applicants: applicants, seed: seed).run()
        print("     \(storm.summary)")
        server.stop()

        // 4. Projections rebuilt offline from the segment files.
        step("4/6 rebuilding the projections offline")
        let projections = try ProjectionRebuild.rebuild(journal: journalPath)
        print("     \(projections.position) events folded")

        // 5. The audit: integrity, signatures, and every rule.
        step("5/6 auditing the journal")
        var auditOptions = AuditOptions()
        auditOptions.publicKey = signer.publicKey
        let audit = try Auditor.audit(directory: journalPath, options: auditOptions)

        // 6. The report.
        step("6/6 report")
        var report = DemoReport(directory: journalPath, eventCount: projections.position)
        report.simulatedMonths = "\(DemoFigures.month(profile.start)) to \(DemoFigures.month(profile.end.addingTimeInterval(-1)))"
        report.appointmentsPerMonth = DemoFigures.appointmentsPerMonth(projections.slotDays(), from: profile.start, to: profile.end)
        let cohort = DelayCohort.first(12, from: profile.start, historyEnd: profile.end)
        let delays = DemoFigures.delays(projections.dossierBoard.allDossiers(), cohort: cohort)
        report.delayCohort = cohort.label
        report.delays = delays.rows
        report.delaysPerMonth = delays.perMonth
        // Fastest-exhausted first: that is where the bots were; the rest newest first.
        report.releases = projections.releases().sorted {
            ($0.secondsToExhaustion ?? .infinity, $1.openedAt) < ($1.secondsToExhaustion ?? .infinity, $0.openedAt)
        }.map {
            .init(id: "\(UTCTime.string($0.openedAt).prefix(16)) \($0.site.rawValue)", slots: $0.slots, secondsToExhaustion: $0.secondsToExhaustion, fingerprints: $0.distinctFingerprints)
        }
        report.storm = storm.perSecond
        report.stormSummary = storm.summary
        report.suspects = projections.abuseRanking(limit: 15).map { s in
            .init(fingerprint: s.fingerprint.description, score: s.score, flags: s.flags.map {
                .init(rule: $0.rule.rawValue, detail: "\($0.observed) observed, threshold \($0.threshold)", evidence: $0.evidenceEventIds.map { $0.uuidString.lowercased() })
            })
        }
        report.auditClean = audit.findingTotal == 0
        report.auditVerdict = audit.findingTotal == 0
            ? "CLEAN: \(audit.events) events in \(audit.segments) segments, every CRC, chain hash and rule checked, \(audit.checkpointsVerified) signed checkpoints verified with the public key (Merkle root \(audit.merkleRoot.prefix(16))…)"
            : "\(audit.findingTotal) FINDINGS: \(audit.findingCounts.map { "\($0.key) \($0.value)" }.joined(separator: ", "))"
        report.steps = ["simulated \(summary.events) events over \(Self.years) years, \(summary.refusedDecisions) decisions refused", storm.summary, "audited in \(String(format: "%.1f", audit.seconds)) s"]
        print(report.text())
        let htmlPath = dir + "/report.html"
        try report.html().write(toFile: htmlPath, atomically: true, encoding: .utf8)
        print("\nReport: \(htmlPath)")
        print("Finished in \(String(format: "%.0f", Date().timeIntervalSince(started))) s. Explore: registre replay --journal \(journalPath) --format table | head")
        if audit.findingTotal != 0 || storm.broken { throw ExitCode(1) }
    }

    private func step(_ text: String) { print("==> " + text) }
}

/// `registre serve` as a child process, so the demo exercises the real binary and socket.
final class ServerProcess {
    private let process = Process()
    private var stopped = false

    static func start(journal: String, socket: String, signingKey: String, log: String) throws -> ServerProcess {
        let server = ServerProcess()
        let binary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        server.process.executableURL = URL(fileURLWithPath: binary)
        server.process.arguments = ["serve", "--journal", journal, "--socket", socket, "--signing-key", signingKey]
        guard FileManager.default.createFile(atPath: log, contents: nil), let logHandle = FileHandle(forWritingAtPath: log) else {
            throw ValidationError("cannot create the server's log file \(log)")
        }
        server.process.standardOutput = logHandle
        server.process.standardError = logHandle
        try server.process.run()
        let client = UnixHTTPClient(socketPath: socket)
        for _ in 0..<300 {
            if let r = try? client.send(method: "GET", path: "/health", body: []), r.status == 200 { return server }
            if !server.process.isRunning { throw ValidationError("the server exited at start; see \(log)") }
            Thread.sleep(forTimeInterval: 0.05)
        }
        server.stop()
        throw ValidationError("the server did not answer on \(socket) within 15 s; see \(log)")
    }

    /// SIGTERM: the server finishes what is in flight, writes a last checkpoint and exits.
    func stop() {
        guard !stopped else { return }
        stopped = true
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
    }
}
