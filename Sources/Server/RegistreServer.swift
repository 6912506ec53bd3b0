import Domain
import Foundation
import Journal
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
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
    private var listeners: [any Channel] = []
    /// The socket file this server made, once in place; only that one is removed at the end.
    private let socketIdentity = Mutex<SocketFile.Identity?>(nil)
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
        let services = makeConnectionServices(commands: commands)
        var bound: [any Channel] = []
        // Each listener has its own limit: room for both, the TCP one only when it listens.
        let tcpConnections = configuration.tcpPort == nil ? 0 : configuration.maximumTCPConnections
        let descriptors = DescriptorLimit.raise(toFit: configuration.maximumConnections + tcpConnections)
        if !descriptors.enough {
            logger.warning("the descriptor limit is too low for the connection limit: connections past it will fail to be accepted", metadata: [
                "descriptorLimit": "\(descriptors.soft)", "maxConnections": "\(configuration.maximumConnections)",
                "maxTCPConnections": "\(tcpConnections)", "needed": "\(descriptors.wanted)",
            ])
        }
        do {
            try SocketFile.prepare(configuration.socketPath)
            // Bound under a temporary name, given its mode, then renamed into place: a client
            // that finds the socket finds it 0660 already (bind listens at once, so a chmod after
            // it left a moment with the umask's mode).
            let temporary = SocketFile.temporaryName(for: configuration.socketPath)
            let path = temporary ?? configuration.socketPath
            bound.append(try await Self.bootstrap(group, services, origin: .unix).bind(unixDomainSocketPath: path).get())
            chmod(path, 0o660)
            if let temporary {
                // link(2), not rename(2): it fails if another server took the path meanwhile. A
                // file system without hard links gets rename(2): the path was free a moment ago.
                var moved = link(temporary, configuration.socketPath) == 0
                var error = errno
                if !moved, error != EEXIST {
                    moved = rename(temporary, configuration.socketPath) == 0
                    error = errno
                }
                unlink(temporary)
                guard moved else {
                    throw error == EEXIST ? ServerStartError.alreadyRunning(path: configuration.socketPath)
                        : .cannotPrepare(path: configuration.socketPath, reason: String(cString: strerror(error)))
                }
            }
            let identity = SocketFile.identity(of: configuration.socketPath)
            socketIdentity.withLock { $0 = identity }
            if let port = configuration.tcpPort {
                bound.append(try await Self.bootstrap(group, services, origin: .tcp).bind(host: "127.0.0.1", port: port).get())
            }
        } catch {
            for listener in bound { try? await listener.close() }
            state = .shutdown
            resumeRunningWaiters()
            throw error
        }
        listeners = bound
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
            "eventLoops": "\(max(1, configuration.eventLoopThreads))",
        ])

        let listening = listeners
        await withDiscardingTaskGroup { background in
            // Background loops end quietly when cancelled.
            background.addTask { [tracker] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                    tracker.reap()
                }
            }
            background.addTask {
                var seconds = 0
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    if Task.isCancelled { break }
                    seconds += 1
                    // Every five seconds, or at once when the evidence buffer is full.
                    if seconds % 5 == 0 || commands.rejectedAttempts.isFull { await commands.flushEvidence(final: false) }
                }
            }
            // Serve until shutdown() closes the listeners, then until every connection has ended:
            // idle ones are closed at once, the others after the answer in flight.
            for listener in listening { try? await listener.closeFuture.get() }
            await tracker.waitUntilEmpty()
            background.cancelAll()
        }
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
        projections?.stopFolding()
        state = .shuttingDown
        logger.notice("shutting down: no new connections; finishing the requests in flight", metadata: ["connections": "\(tracker.count)"])
        for listener in listeners { listener.close(promise: nil) }
        tracker.drain()
    }

    /// Removes the socket file (after the journal is closed: the last step of a shutdown).
    public nonisolated func removeSocketFile() {
        SocketFile.remove(configuration.socketPath, ifStill: socketIdentity.withLock { $0 })
    }

    // MARK: Setup

    /// The connections a listener accepts are counted as `origin`'s, against that origin's limit.
    private static func bootstrap(_ group: MultiThreadedEventLoopGroup, _ services: ConnectionServices,
                                  origin: ConnectionTracker.Origin) -> ServerBootstrap {
        let configuration = services.configuration
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.writeBufferWaterMark,
                                value: .init(low: configuration.subscriberBufferBytes / 4, high: configuration.subscriberBufferBytes))
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 8192, maximum: 1 << 20))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try setUp(channel, services, origin: origin) }
            }
    }

    /// Synchronous per-connection setup on the event loop: credentials first, then the request
    /// decoder (plain requests decoded whole; anything else handed to NIO's HTTP decoder with
    /// its header limits), then the handler that serves the requests (and is the connection's
    /// pipelining handler and response writer: see `ConnectionHandler`).
    /// The connection's place is taken first: one over the limit is refused before its
    /// credentials and groups are looked up (NSS lookups can block or be slow). TCP connections
    /// have a limit of their own, so that they cannot take the Unix socket's places.
    private static func setUp(_ channel: any Channel, _ services: ConnectionServices, origin: ConnectionTracker.Origin) throws {
        let configuration = services.configuration
        let limit = origin == .tcp ? configuration.maximumTCPConnections : configuration.maximumConnections
        let slot: ConnectionTracker.Slot
        switch services.tracker.register(channel, origin: origin, idleTimeout: configuration.idleTimeout, limit: limit) {
        case .success(let registered): slot = registered
        case .failure(let refusal):
            try channel.pipeline.syncOperations.addHandler(RefusedConnectionHandler(refusal, services: services))
            return
        }
        do {
            try serve(channel, services, in: slot)
        } catch {
            // No handler holds the place: give it back, or shutdown would wait for it.
            services.tracker.remove(slot)
            throw error
        }
    }

    private static func serve(_ channel: any Channel, _ services: ConnectionServices, in slot: ConnectionTracker.Slot) throws {
        let peer = PeerCredentials.of(channel)
        let configuration = services.configuration
        let access = configuration.access
        let groups = peer.map { access.namesGroups ? supplementaryGroups(uid: $0.uid, primaryGid: $0.gid) : [] } ?? []
        let permissions = access.permissions(for: peer, groups: groups)
        let maximumBody = ConnectionHandler.maximumBodyBytes(for: permissions, configuration: configuration)
        let decoder = PlainRequestDecoder(maximumHeaderBytes: configuration.maximumHeaderBytes,
                                          maximumBodyBytes: maximumBody) {
            var limits = NIOHTTPDecoderLimitConfiguration()
            limits.maxHeaderFieldSize = configuration.maximumHeaderBytes
            limits.maxHeaderListSize = configuration.maximumHeaderBytes
            limits.maxHeaderFieldCount = 100
            return [ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, limitConfiguration: limits)),
                    RequestPartForwarder()]
        }
        try channel.pipeline.syncOperations.addHandler(decoder)
        try channel.pipeline.syncOperations.addHandler(ConnectionHandler(services: services, peer: peer, permissions: permissions, slot: slot))
    }

    private func makeCommandService() -> CommandService {
        CommandService(journal: journal, store: store, metrics: metrics, clock: configuration.businessClock, rules: .standard,
                       attempts: configuration.commandAttempts, rejectedAttempts: rejectedAttempts,
                       logger: logger)
    }

    private lazy var store = AggregateStore(journal: journal)

    private func makeConnectionServices(commands: CommandService) -> ConnectionServices {
        let appends = AppendService(journal: journal, store: store, metrics: metrics, clock: configuration.businessClock,
                                    rules: .standard, attempts: configuration.commandAttempts, rejectedAttempts: rejectedAttempts)
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
        return ConnectionServices(router: router, journal: journal, configuration: configuration, tracker: tracker,
                                  metrics: metrics, logger: logger)
    }
}
