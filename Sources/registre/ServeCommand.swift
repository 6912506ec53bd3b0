import ArgumentParser
import Dispatch
import Foundation
import Domain
import Journal
import Server
#if canImport(Glibc)
import Glibc
#endif

/// `registre serve`: the journal behind HTTP/1.1 on a Unix socket (docs/SERVER.md).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a journal over HTTP/1.1 on a Unix socket, with peer-credential access control.",
        discussion: """
        Without --access only the server's own uid may connect. SIGTERM or SIGINT stops accepting, finishes the \
        appends in flight, closes the journal (sync and last checkpoint) and removes the socket. \
        Try: curl --unix-socket PATH http://localhost/health
        """
    )

    @OptionGroup var location: JournalLocation

    @Option(help: ArgumentHelp("The Unix socket to listen on (created with mode 0660).", valueName: "PATH"))
    var socket: String

    @Option(help: ArgumentHelp("The access file mapping users and groups to roles (docs/SERVER.md).", valueName: "FILE"))
    var access: String?

    @Option(help: "Also listen on this TCP port, on 127.0.0.1 only. TCP peers carry no credentials and get no role.")
    var tcpPort: Int?

    @Option(help: "Seconds a connection may stay idle, or take to send a request head.")
    var idleTimeout: Double = 30

    @Option(help: "Seconds a client may take to send a request body.")
    var requestTimeout: Double = 30

    @Option(help: "Largest request body accepted, in bytes.")
    var maxBodyBytes: Int = 17 << 20

    @Option(help: "Seconds between subscription heartbeats.")
    var heartbeat: Double = 10

    @Option(help: "Seconds a subscriber may leave its socket full before it is disconnected as too slow.")
    var subscriberStallTimeout: Double = 10

    @Option(help: "Seconds a too-slow subscriber is given to read its last line.")
    var subscriberGracePeriod: Double = 5

    @Option(help: ArgumentHelp("Ed25519 private key (from `registre keygen`) to sign checkpoints with, periodically and at shutdown.", valueName: "FILE"))
    var signingKey: String?

    @Option(help: "Connections open at once on the Unix socket; one more is answered 503 and closed.")
    var maxConnections: Int = 1024

    @Option(help: "Connections open at once on the TCP port, counted apart from the socket's; one more is answered 503 and closed.")
    var maxTcpConnections: Int = 64

    @Option(help: "Event-loop threads (default: one per core).")
    var threads: Int?

    @Option(help: "Log level: \(ServerLogging.levels.joined(separator: ", ")). Each request is logged at info.")
    var logLevel: String = "info"

    @Option(help: ArgumentHelp("""
        How far, in seconds, an event's business time (occurredAt) may be from the server clock, or `unlimited` \
        to load a past history (a migration, `registre simulate --socket`). Keep the default for live services: \
        a wide skew lets a client book \"yesterday\" and dodge the time rules.
        """, valueName: "SECONDS|unlimited"))
    var businessClockSkew: String = "120"

    /// The parsed `--business-clock-skew`.
    var maximumSkew: TimeInterval? {
        if businessClockSkew == "unlimited" { return .infinity }
        guard let seconds = Double(businessClockSkew), seconds.isFinite, seconds >= 1 else { return nil }
        return seconds
    }

    func validate() throws {
        guard !socket.isEmpty else { throw ValidationError("--socket needs a path") }
        if let tcpPort, !(1...65535).contains(tcpPort) { throw ValidationError("--tcp-port must be from 1 to 65535, not \(tcpPort)") }
        for (name, value) in [("--idle-timeout", idleTimeout), ("--request-timeout", requestTimeout), ("--heartbeat", heartbeat),
                              ("--subscriber-stall-timeout", subscriberStallTimeout), ("--subscriber-grace-period", subscriberGracePeriod)] {
            guard value > 0, value <= 86_400 else { throw ValidationError("\(name) must be a number of seconds above 0 and at most 86400, not \(value)") }
        }
        // A body is gathered in one buffer, whose capacity NIO caps at 4 GiB; and no append the
        // journal takes (64 MiB at most) needs more than a fraction of the upper bound.
        guard (1024...(1 << 30)).contains(maxBodyBytes) else { throw ValidationError("--max-body-bytes must be from 1024 to 1073741824 (1 GiB), not \(maxBodyBytes)") }
        guard (1...1_000_000).contains(maxConnections) else { throw ValidationError("--max-connections must be from 1 to 1000000, not \(maxConnections)") }
        guard (1...1_000_000).contains(maxTcpConnections) else {
            throw ValidationError("--max-tcp-connections must be from 1 to 1000000, not \(maxTcpConnections)")
        }
        if let threads, !(1...64).contains(threads) { throw ValidationError("--threads must be from 1 to 64, not \(threads)") }
        guard maximumSkew != nil else {
            throw ValidationError("--business-clock-skew must be a number of seconds of at least 1, or unlimited (got \"\(businessClockSkew.prefix(40))\")")
        }
        guard ServerLogging.levels.contains(logLevel) else {
            throw ValidationError("--log-level must be one of \(ServerLogging.levels.joined(separator: ", "))")
        }
    }

    func run() async throws {
        let policy: AccessPolicy
        if let access {
            do { policy = try AccessFile.load(path: access) } catch {
                printError(error.description)
                throw ExitCode(2)
            }
        } else {
            policy = .ownerOnly()
        }
        var configuration = ServerConfiguration(socketPath: socket, tcpPort: tcpPort, access: policy)
        configuration.idleTimeout = .milliseconds(Int64(idleTimeout * 1000))
        configuration.requestTimeout = .milliseconds(Int64(requestTimeout * 1000))
        configuration.heartbeatInterval = .milliseconds(Int64(heartbeat * 1000))
        configuration.subscriberStallTimeout = .milliseconds(Int64(subscriberStallTimeout * 1000))
        configuration.subscriberGracePeriod = .milliseconds(Int64(subscriberGracePeriod * 1000))
        configuration.maximumBodyBytes = maxBodyBytes
        configuration.maximumConnections = maxConnections
        configuration.maximumTCPConnections = maxTcpConnections
        if let threads { configuration.eventLoopThreads = threads }
        configuration.businessClock = BusinessClock(maximumSkew: maximumSkew ?? 120)
        let logger = ServerLogging.makeLogger(level: logLevel)!

        let metrics = ServerMetrics()
        var options = JournalOptions()
        options.onCommit = metrics.commitObserver
        if let signingKey {
            do { options.checkpointSigner = try CheckpointSigner(file: signingKey) } catch {
                throw ValidationError("--signing-key: \(error)")
            }
        }
        let journal: Journal
        do { journal = try Journal.open(directory: location.journal, options: options) } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        let server = RegistreServer(configuration: configuration, journal: journal, logger: logger, metrics: metrics,
                                    projections: JournalProjections(journal: journal))
        let signals = [SIGTERM, SIGINT].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: DispatchQueue(label: "registre.signals"))
            source.setEventHandler { Task { await server.shutdown() } }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }
        do {
            try await server.run()
        } catch {
            journal.close()
            printError("\(error)")
            throw ExitCode(1)
        }
        journal.close()
        server.removeSocketFile()
    }
}
