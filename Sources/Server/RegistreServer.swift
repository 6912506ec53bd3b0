import Domain
import Foundation
import Journal
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// The Registre server: HTTP/1.1 over a Unix socket (and, if asked, loopback TCP), in front of
/// one journal.
///
/// Lifecycle: `run()` binds, serves until `shutdown()` is called, then drains: it stops
/// accepting, closes idle connections, lets requests in flight (appends included) finish and
/// answer, ends subscriptions with a `shuttingDown` line, and writes the buffered evidence of
/// refused bookings. The caller then closes the journal and removes the socket file.
public actor RegistreServer {
    public enum State: Sendable, Equatable {
        case initial, starting, running, shuttingDown, shutdown
    }

    public private(set) var state: State = .initial
    public nonisolated let configuration: ServerConfiguration
    public nonisolated let metrics: ServerMetrics
    private let journal: Journal
    private let logger: Logger
    private let projections: (any LiveProjections)?
    private let tracker = ConnectionTracker()
    private let rejectedAttempts = RejectedAttempts()
    private let accepted = AcceptedConnections()
    private var listeners: [any Channel] = []
    private var runningWaiters: [CheckedContinuation<Void, Never>] = []
    /// A shutdown asked for before `run()` began binding.
    private var stopRequested = false

    /// `metrics` should be the one whose `commitObserver` was given to the journal's options.
    public init(configuration: ServerConfiguration, journal: Journal, logger: Logger,
                metrics: ServerMetrics = ServerMetrics(), projections: (any LiveProjections)? = nil) {
        self.configuration = configuration
        self.journal = journal
        self.logger = logger
        self.metrics = metrics
        self.projections = projections
    }

    /// Serves until `shutdown()` and the drain that follows are complete.
    public func run() async throws {
        guard state == .initial else { throw ServerStartError.notInitial }
        state = .starting
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoopThreads))
        do {
            try await serve(on: group)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try? await group.shutdownGracefully()
    }

    private func serve(on group: MultiThreadedEventLoopGroup) async throws {

        let commands = makeCommandService()
        let handler = makeConnectionHandler(commands: commands)
        let unix: NIOAsyncChannel<AcceptedConnection, Never>
        var tcp: NIOAsyncChannel<AcceptedConnection, Never>?
        do {
            try SocketFile.prepare(configuration.socketPath)
            unix = try await Self.bootstrap(group, configuration).bind(unixDomainSocketPath: configuration.socketPath) { [configuration, accepted] channel in
                channel.eventLoop.makeCompletedFuture { try Self.setUp(channel, configuration, accepted) }
            }
            chmod(configuration.socketPath, 0o660)
            if let port = configuration.tcpPort {
                tcp = try await Self.bootstrap(group, configuration).bind(host: "127.0.0.1", port: port) { [configuration, accepted] channel in
                    channel.eventLoop.makeCompletedFuture { try Self.setUp(channel, configuration, accepted) }
                }
            }
        } catch {
            state = .shutdown
            resumeRunningWaiters()
            throw error
        }
        listeners = [unix.channel] + (tcp.map { [$0.channel] } ?? [])
        if state == .starting && !stopRequested {
            state = .running
        } else {
            state = .shuttingDown
            tracker.drain()
            // shutdown() came while binding: honour it now that there is something to close.
            for listener in listeners { listener.close(promise: nil) }
        }
        resumeRunningWaiters()
        logger.notice("listening", metadata: [
            "socket": "\(configuration.socketPath)", "tcp": "\(configuration.tcpPort.map { "127.0.0.1:\($0)" } ?? "none")",
            "access": "\(configuration.access.origin)", "journal": "\(journal.directory)", "position": "\(journal.endPosition)",
        ])

        let accepting = [unix] + (tcp.map { [$0] } ?? [])
        let accepted = self.accepted
        try await withThrowingDiscardingTaskGroup { background in
            // Background loops end quietly when cancelled: a throw would tear the group down.
            background.addTask { [tracker] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                    tracker.reap()
                }
            }
            background.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(5))
                    if Task.isCancelled { break }
                    await commands.flushEvidence(final: false)
                }
            }
            try await withThrowingDiscardingTaskGroup { listening in
                for listener in accepting {
                    listening.addTask {
                        await withDiscardingTaskGroup { connections in
                            try? await listener.executeThenClose { inbound in
                                for try await connection in inbound {
                                    accepted.take(connection)
                                    connections.addTask { await handler.serve(connection) }
                                }
                            }
                        }
                    }
                }
            }
            background.cancelAll()
        }
        await accepted.closeLeftovers()
        await commands.flushEvidence(final: true)
        state = .shutdown
        logger.notice("stopped accepting; every connection has ended", metadata: ["position": "\(journal.endPosition)"])
    }

    /// Returns once the server listens (or failed to start).
    public func waitUntilRunning() async {
        if state != .initial && state != .starting { return }
        await withCheckedContinuation { runningWaiters.append($0) }
    }

    private func resumeRunningWaiters() {
        for w in runningWaiters { w.resume() }
        runningWaiters.removeAll()
    }

    /// Begins the graceful shutdown; `run()` returns once it is complete.
    public func shutdown() {
        if state == .initial { stopRequested = true }
        guard state == .running || state == .starting else { return }
        state = .shuttingDown
        logger.notice("shutting down: no new connections; finishing the requests in flight", metadata: ["connections": "\(tracker.count)"])
        for listener in listeners { listener.close(promise: nil) }
        tracker.drain()
    }

    /// Removes the socket file (after the journal is closed: the last step of a shutdown).
    public nonisolated func removeSocketFile() {
        SocketFile.remove(configuration.socketPath)
    }

    // MARK: Setup

    private static func bootstrap(_ group: MultiThreadedEventLoopGroup, _ configuration: ServerConfiguration) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.writeBufferWaterMark,
                                value: .init(low: configuration.subscriberBufferBytes / 4, high: configuration.subscriberBufferBytes))
            .childChannelOption(.maxMessagesPerRead, value: 4)
            // Large reads: each read is one element handed across to the connection's task, so an
            // append body should arrive in a few reads, not dozens of 2 KiB ones.
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 4096, initial: 65536, maximum: 1 << 20))
    }

    /// Synchronous per-connection setup on the event loop: credentials first, then the HTTP
    /// pipeline with its header limits, then the async wrapper with inbound backpressure.
    private static func setUp(_ channel: any Channel, _ configuration: ServerConfiguration, _ accepted: AcceptedConnections) throws -> AcceptedConnection {
        let peer = PeerCredentials.of(channel)
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = configuration.maximumHeaderBytes
        limits.maxHeaderListSize = configuration.maximumHeaderBytes
        limits.maxHeaderFieldCount = 100
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withPipeliningAssistance: true, withErrorHandling: true, withOutboundHeaderValidation: true,
            withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits)
        let wrapped = try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
            wrappingChannelSynchronously: channel,
            configuration: .init(backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8)))
        let connection = AcceptedConnection(channel: wrapped, peer: peer)
        accepted.hold(connection)
        return connection
    }

    private func makeCommandService() -> CommandService {
        CommandService(journal: journal, store: store, metrics: metrics, clock: configuration.businessClock, rules: .standard,
                       attempts: configuration.commandAttempts, rejectedAttempts: rejectedAttempts,
                       logger: logger)
    }

    private lazy var store = AggregateStore(journal: journal)

    private func makeConnectionHandler(commands: CommandService) -> ConnectionHandler {
        let appends = AppendService(journal: journal, store: store, metrics: metrics, clock: configuration.businessClock,
                                    rules: .standard, attempts: configuration.commandAttempts)
        let journal = self.journal, tracker = self.tracker, metrics = self.metrics
        let router = Router(
            journal: journal, metrics: metrics, appends: appends, commands: CommandEndpoints(service: commands),
            reads: ReadEndpoints(journal: journal), projections: ProjectionEndpoints(projections: projections),
            health: {
                var b = JSONBuilder()
                b.field("status", tracker.draining ? "shuttingDown" : "ok")
                b.field("position", journal.endPosition)
                b.field("segments", journal.segmentCount)
                b.field("connections", tracker.count)
                return b.finished()
            })
        return ConnectionHandler(router: router, journal: journal, configuration: configuration, tracker: tracker,
                                 metrics: metrics, logger: logger)
    }
}
