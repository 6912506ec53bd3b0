import Domain
import NIOCore

/// Everything `registre serve` can tune. The defaults suit a prefecture's services on one host.
public struct ServerConfiguration: Sendable {
    /// The Unix socket the server listens on; created with mode 0660.
    public var socketPath: String
    /// A TCP port on 127.0.0.1, only when asked for: peers over TCP carry no credentials.
    public var tcpPort: Int?
    public var access: AccessPolicy
    /// The largest request body accepted; larger ones answer 413 before being read.
    public var maximumBodyBytes = 17 << 20
    /// The largest request head (request line and headers) accepted.
    public var maximumHeaderBytes = 32 << 10
    /// How long a connection may wait between requests, or take to send a complete head.
    public var idleTimeout: Duration = .seconds(30)
    /// How long a client may take to send a request's body once its head has arrived.
    public var requestTimeout: Duration = .seconds(30)
    /// A subscription with nothing to send writes a heartbeat line this often.
    public var heartbeatInterval: Duration = .seconds(10)
    /// A subscriber whose socket stays full for this long is disconnected as too slow.
    public var subscriberStallTimeout: Duration = .seconds(10)
    /// After the `tooSlow` line is queued, how long the subscriber has to read it before the close.
    public var subscriberGracePeriod: Duration = .seconds(5)
    /// Bytes a subscriber may have queued in the server before its writes wait (the high watermark).
    public var subscriberBufferBytes = 256 << 10
    /// A domain command retries this many times when a racing append moved its streams.
    public var commandAttempts = 8
    /// How far a client's business time may be from the server's clock.
    public var businessClock = BusinessClock()
    /// Connections open at once on the Unix socket. One more is answered 503 and closed, so that
    /// a runaway client cannot take every descriptor the process has (the journal needs some to
    /// open segments).
    public var maximumConnections = 1024
    /// Connections open at once on the TCP port, counted apart from the Unix socket's: any user on
    /// the host can connect over TCP, and must not be able to take the places of the services
    /// that connect to the socket. One more is answered 503 and closed, as on the socket.
    public var maximumTCPConnections = 64
    /// Event-loop threads: requests are parsed, judged and answered on them, so one per core.
    public var eventLoopThreads = System.coreCount

    public init(socketPath: String, tcpPort: Int? = nil, access: AccessPolicy) {
        self.socketPath = socketPath
        self.tcpPort = tcpPort
        self.access = access
    }
}
