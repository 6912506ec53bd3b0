import Foundation
import Journal
import Logging
import NIOCore
import NIOHTTP1

/// What every connection shares: the routes, the journal, the limits, the tracker of deadlines,
/// metrics and the logger.
struct ConnectionServices: Sendable {
    let router: Router
    let journal: Journal
    let configuration: ServerConfiguration
    let tracker: ConnectionTracker
    let metrics: ServerMetrics
    let logger: Logger

    /// Subscriptions run in a task of their own: they wait on the journal between writes. The
    /// task owns the connection's place in the tracker and gives it back when it ends, so that
    /// shutdown waits for it (its last writes need the event loops, which stop after).
    func startSubscription(from: UInt64, version: HTTPVersion, started: ContinuousClock.Instant, channel: any Channel,
                           slot: ConnectionTracker.Slot, log: Logger) {
        Task {
            await ConnectionHandler.stream(from: from, version: version, started: started, channel: channel, services: self, log: log)
            tracker.remove(slot)
            metrics.connections.record(tracker.count)
        }
    }
}

/// Serves the requests of one connection in order (HTTP/1.1 keep-alive), one log line each, on
/// the connection's event loop.
///
/// Parsing, routing, validation, access checks and reads run right here, so a request costs no
/// hop to another thread. Only an append leaves the loop: it is queued for the journal's next
/// group commit and its answer comes back to the loop when the frame is durable.
///
/// This handler is its own pipelining handler and response encoder: `PlainRequestDecoder` in
/// front of it turns bytes into whole requests (or NIO's decoder, for what is not plain, into
/// request parts), and answers go out as one buffer each (`ResponseBytes`).
/// Parts that arrive while a request is being answered wait in `pending`, in order, and reading
/// stops while anything waits there; so a client cannot push faster than it is answered, and a
/// client that waits for each answer (the common case) costs no change of the socket's read
/// interest per request.
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = IncomingRequest
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What arrived while the connection was busy, waiting its turn.
    private enum Pending {
        case request(IncomingRequest)
        /// The decoder found bytes that are not HTTP: a bare 400, then the connection closes.
        case malformed
    }

    private enum State {
        /// Between requests.
        case idle
        /// The head has arrived; the body is being gathered, bounded by the body limit.
        case receiving(head: RequestHead, body: ByteBuffer, started: ContinuousClock.Instant)
        /// A last answer (a 413, or one with `connection: close`) is on its way and the connection
        /// closes after it; anything more the client sends is ignored.
        case closing
        /// The request is complete and its answer is being worked on (maybe by the journal).
        case responding
        /// A subscription owns the connection until it ends.
        case streaming
        case closed
    }

    private let services: ConnectionServices
    private let peer: PeerCredentials?
    private let permissions: Permissions
    /// Bodies are only for appends and commands: a peer that may not append gets a small limit,
    /// so that many connections cannot each hold a large body the router will refuse anyway.
    private let maximumBodyBytes: Int

    static func maximumBodyBytes(for permissions: Permissions, configuration: ServerConfiguration) -> Int {
        permissions.canAppendAnything ? configuration.maximumBodyBytes : min(configuration.maximumBodyBytes, 64 << 10)
    }
    private let who: String
    private var log: Logger
    /// The connection's place in the tracker of deadlines; nil once it has left it.
    private var slot: ConnectionTracker.Slot?
    private var state = State.idle
    private var pending = CircularBuffer<Pending>(initialCapacity: 0)
    /// The channel asked to read while parts were waiting: the read is made once they are served.
    private var readWithheld = false
    /// The decoder is gathering the body of the next request it will pass on (`BodyAwaited`).
    private var awaitedBody: AwaitedBody?

    private enum AwaitedBody {
        /// Noticed while an earlier request was being answered: admitted once that one is.
        case noticed
        /// Admitted: under the request timeout, and served when whole even if a drain began since
        /// (as a request NIO's decoder reads is once its head has come).
        case admitted
    }
    /// `servePending` is running (an answer given inside it must not start it again).
    private var servingPending = false
    /// Inside a read (or `servePending`): answers are written now and flushed together after it.
    private var deferFlush = false
    private var unflushed = false
    private var requestCounter = RequestCounterCache()

    /// `slot`: the connection's place in the tracker, taken before its credentials were looked
    /// up (`RegistreServer.setUp`).
    init(services: ConnectionServices, peer: PeerCredentials?, permissions: Permissions, slot: ConnectionTracker.Slot) {
        self.services = services
        self.peer = peer
        self.permissions = permissions
        self.slot = slot
        maximumBodyBytes = Self.maximumBodyBytes(for: permissions, configuration: services.configuration)
        who = peer.map { "uid \($0.uid)" } ?? "a TCP peer (no credentials)"
        log = services.logger
        if let peer {
            log[metadataKey: "uid"] = "\(peer.uid)"
            log[metadataKey: "pid"] = "\(peer.pid)"
        } else {
            log[metadataKey: "peer"] = "tcp"
        }
    }

    private var configuration: ServerConfiguration { services.configuration }
    private var tracker: ConnectionTracker { services.tracker }
    private var metrics: ServerMetrics { services.metrics }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        metrics.connections.record(tracker.count)
    }

    func channelInactive(context: ChannelHandlerContext) {
        pending.removeAll()
        deferFlush = false
        if case .receiving(let head, let body, _) = state {
            // A client gone in the middle of its body: nothing of it is acted upon.
            log.notice("request abandoned before its body was complete", metadata: [
                "method": "\(head.method.rawValue)", "path": "\(head.uri.prefix(200))", "received": "\(body.readableBytes)",
            ])
        }
        forget()
        context.fireChannelInactive()
    }

    /// Also when the pipeline is torn down without the channel ever going inactive (a channel
    /// that failed to register): shutdown waits until the tracker is empty.
    func handlerRemoved(context: ChannelHandlerContext) {
        forget()
    }

    private func forget() {
        state = .closed
        guard let slot else { return }
        tracker.remove(slot)
        self.slot = nil
        metrics.connections.record(tracker.count)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError, context.channel.isActive else {
            log.debug("connection ended with an error", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        // Bytes that are not HTTP: answered in turn, after what the connection asked before.
        log.debug("malformed HTTP", metadata: ["error": "\(error)"])
        switch state {
        case .idle, .receiving:
            if pending.isEmpty { refuseMalformed(context: context) } else { pending.append(.malformed) }
        case .responding: pending.append(.malformed)
        case .closing, .streaming, .closed: context.close(promise: nil)
        }
    }

    /// A bare 400, then the connection closes: after a parse error nothing more on it can be trusted.
    private func refuseMalformed(context: ChannelHandlerContext) {
        if case .receiving(let head, let body, _) = state {
            log.notice("request abandoned: the rest of it is not HTTP", metadata: [
                "method": "\(head.method.rawValue)", "path": "\(head.uri.prefix(200))", "received": "\(body.readableBytes)",
            ])
        }
        state = .closing
        pending.removeAll()
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ResponseBytes.malformed(allocator: channel.allocator))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    // MARK: Requests

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let incoming = unwrapInboundIn(data)
        // Answers given while reading are flushed together at the end of the read.
        deferFlush = true
        switch state {
        case .idle, .receiving:
            if pending.isEmpty && context.channel.isWritable { serve(incoming, context: context) } else { pending.append(.request(incoming)) }
        case .responding:
            pending.append(.request(incoming))
        case .closing, .streaming, .closed:
            return  // nothing more is served on this connection
        }
    }

    /// A plain request's body is on its way (`PlainRequestDecoder`): from now on it is bounded by
    /// the request timeout, not the idle one, and shutdown waits for it instead of closing the
    /// connection as idle, as for a request NIO's decoder reads.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is PlainRequestDecoder.BodyAwaited else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        awaitedBody = .noticed
        admitAwaitedBody()
    }

    /// Puts a body being gathered under the request timeout once nothing before it is being
    /// answered. Not while draining: the connection is then idle and closed like any other.
    private func admitAwaitedBody() {
        guard case .noticed? = awaitedBody, case .idle = state, pending.isEmpty, let slot, !tracker.draining else { return }
        awaitedBody = .admitted
        tracker.set(slot, .receiving(until: .now + configuration.requestTimeout))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        deferFlush = false
        if unflushed {
            unflushed = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    /// Reading goes on while the connection is answered, unless something already waits (the
    /// client has sent ahead, and its next bytes are read once the waiting parts are served), or
    /// the answers are not being read: past the write high-water mark, reading stops until the
    /// client takes its answers, so a client that sends and never reads cannot make the server
    /// buffer answers without end.
    func read(context: ChannelHandlerContext) {
        if pending.isEmpty && context.channel.isWritable { context.read() } else { readWithheld = true }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { servePending(context: context) }
        context.fireChannelWritabilityChanged()
    }

    /// Serves the parts that waited, in order, until one of them starts a request that must
    /// itself wait (an append), or the connection is closing.
    private func servePending(context: ChannelHandlerContext) {
        guard !servingPending else { return }
        servingPending = true
        let flushed = deferFlush
        deferFlush = true
        serving: while let next = pending.first {
            // Answers pile up unread: the rest waits until the client reads (`channelWritabilityChanged`).
            guard context.channel.isWritable else { break serving }
            switch state {
            case .idle, .receiving: break
            case .responding: break serving
            case .closing, .streaming, .closed:
                pending.removeAll()
                break serving
            }
            pending.removeFirst()
            switch next {
            case .request(let incoming): serve(incoming, context: context)
            case .malformed: refuseMalformed(context: context)
            }
        }
        deferFlush = flushed
        servingPending = false
        if !deferFlush && unflushed {
            unflushed = false
            context.flush()
        }
        if pending.isEmpty && readWithheld && context.channel.isWritable {
            readWithheld = false
            context.read()
        }
    }

    private func serve(_ incoming: IncomingRequest, context: ChannelHandlerContext) {
        switch incoming {
        case .whole(let head, let body):
            // The decoder passes requests on in order: one admitted while its body came is this one.
            let admitted: Bool
            if case .admitted? = awaitedBody { admitted = true } else { admitted = false }
            awaitedBody = nil
            guard begin(head, admitted: admitted, context: context) else { return }
            finish(head, body: body, started: ContinuousClock.now, context: context)
        case .part(.head(let nioHead)):
            let head = RequestHead(nioHead)
            guard begin(head, context: context), let slot else { return }
            let started = ContinuousClock.now
            tracker.set(slot, .receiving(until: .now + configuration.requestTimeout))
            // The body, bounded: a declared length over the limit is refused unread.
            if let declared = head.contentLength, declared > maximumBodyBytes {
                state = .closing
                refuseTooLarge(declared, head: head, started: started, context: context)
                return
            }
            // RFC 9110 §10.1.1: a client that waits to be told before it sends its body (curl
            // does past 1 KiB, and waited a second for nothing) is told now; a body too large was
            // refused above with its final status instead.
            if head.version.major == 1, head.version.minor >= 1,
               nioHead.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                var interim = context.channel.allocator.buffer(capacity: 25)
                interim.writeString("HTTP/1.1 100 Continue\r\n\r\n")
                context.writeAndFlush(wrapOutboundOut(interim), promise: nil)
            }
            state = .receiving(head: head, body: context.channel.allocator.buffer(capacity: min(max(head.contentLength ?? 0, 0), 1 << 20)), started: started)
        case .part(.body(var chunk)):
            guard case .receiving(let head, var body, let started) = state else { return }
            if body.readableBytes + chunk.readableBytes > maximumBodyBytes {
                state = .closing
                refuseTooLarge(body.readableBytes + chunk.readableBytes, head: head, started: started, context: context)
                return
            }
            state = .responding  // drops the state's reference, so the append below does not copy
            body.writeBuffer(&chunk)
            state = .receiving(head: head, body: body, started: started)
        case .part(.end):
            guard case .receiving(let head, let body, let started) = state else { return }
            finish(head, body: body, started: started, context: context)
        }
    }

    /// A request's head has come: false when it is not to be served (not between requests, or
    /// the server is draining, which closes the connection).
    private func begin(_ head: RequestHead, admitted: Bool = false, context: ChannelHandlerContext) -> Bool {
        guard case .idle = state, slot != nil else { return false }
        if tracker.draining && !admitted {
            context.close(promise: nil)
            return false
        }
        return true
    }

    /// The whole request is here: route it, and answer now or when the journal has committed.
    private func finish(_ head: RequestHead, body: ByteBuffer, started: ContinuousClock.Instant, context: ChannelHandlerContext) {
        guard let slot else { return }
        state = .responding
        tracker.set(slot, .responding)
        let request: ServerRequest
        do throws(ServerRequest.MalformedTarget) { request = try ServerRequest(head: head, body: body) } catch {
            answer(.response(.badRequest("invalidTarget", error.message)), head: head, label: Router.label(Self.segments(head.uri)),
                   started: started, context: context)
            return
        }
        let loop = context.eventLoop
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: loop)
        let label = Router.label(request.segments)
        services.router.route(request, permissions: permissions, peerDescription: who, resume: .eventLoop(loop)) { reply in
            if loop.inEventLoop {
                bound.value.handler.answer(reply, head: head, label: label, started: started, context: bound.value.context)
            } else {
                loop.execute { bound.value.handler.answer(reply, head: head, label: label, started: started, context: bound.value.context) }
            }
        }
    }

    private func refuseTooLarge(_ size: Int, head: RequestHead, started: ContinuousClock.Instant, context: ChannelHandlerContext) {
        var r = ServerResponse.error(.payloadTooLarge, "bodyTooLarge", "the body is \(size) bytes or more; at most \(maximumBodyBytes) are accepted\(permissions.canAppendAnything ? "" : " from a peer that may not append")")
        r.closesConnection = true
        write(r, for: head, close: true, context: context)
        record(head, r, label: Router.label(Self.segments(head.uri)), started)
    }

    /// Sends the answer (or starts the subscription), then waits for the next request or closes.
    private func answer(_ reply: Reply, head: RequestHead, label: String, started: ContinuousClock.Instant, context: ChannelHandlerContext) {
        switch reply {
        case .response(let response):
            guard case .responding = state, let slot else {
                // The client left while its append was committing: the append stands, the answer has nowhere to go.
                record(head, response, label: label, started)
                return
            }
            let closing = response.closesConnection || !head.isKeepAlive || tracker.draining
            state = closing ? .closing : .idle
            record(head, response, label: label, started)
            if response.status == .forbidden { metrics.countDenial(route: label) }
            write(response, for: head, close: closing, context: context)
            if closing {
                pending.removeAll()
                return
            }
            // The phase stayed `responding` until the answer was written, so a drain could not cut it off.
            tracker.set(slot, .waiting(until: .now + configuration.idleTimeout))
            // A drain that began while this request was in flight closes the connection now.
            if tracker.draining {
                context.close(promise: nil)
                return
            }
            // A request the client sent ahead is served now, in turn.
            servePending(context: context)
            admitAwaitedBody()
        case .subscribe(let from):
            guard case .responding = state, let slot else { return }
            state = .streaming
            tracker.set(slot, .streaming)
            // Handed to the subscription's task: the connection leaving does not free it.
            self.slot = nil
            subscribe(from: from, head: head, started: started, channel: context.channel, slot: slot)
        }
    }

    private func subscribe(from: UInt64, head: RequestHead, started: ContinuousClock.Instant, channel: any Channel, slot: ConnectionTracker.Slot) {
        metrics.subscribers.increment()
        log.info("subscription started", metadata: ["from": "\(from)"])
        let services = self.services, log = self.log, version = head.version
        services.startSubscription(from: from, version: version, started: started, channel: channel, slot: slot, log: log)
    }

    /// Runs a subscription to its end, counts and logs how it ended, and closes the connection.
    static func stream(from: UInt64, version: HTTPVersion, started: ContinuousClock.Instant, channel: any Channel,
                       services: ConnectionServices, log: Logger) async {
        let tracker = services.tracker, metrics = services.metrics
        let end = await Subscription(journal: services.journal, channel: channel, configuration: services.configuration,
                                     isDraining: { tracker.draining }).run(from: from, version: version)
        metrics.subscribers.decrement()
        let reason: String
        switch end {
        case .tooSlow: reason = "tooSlow"
        case .shuttingDown: reason = "shuttingDown"
        case .clientGone: reason = "clientGone"
        case .journalClosed: reason = "journalUnavailable"
        }
        metrics.countSubscriberDisconnect(reason: reason)
        metrics.countRequest(route: "subscribe", status: 200)
        log.info("subscription ended", metadata: ["reason": "\(reason)", "end": "\(end)", "ms": "\(milliseconds(since: started))"])
        channel.close(promise: nil)
    }

    // MARK: Output

    private func write(_ r: ServerResponse, for head: RequestHead, close: Bool, context: ChannelHandlerContext) {
        let bytes = ResponseBytes.response(r, version: head.version, keepAlive: !close, omitBody: head.method == .HEAD,
                                           allocator: context.channel.allocator)
        if close {
            let channel = context.channel
            if let slot { tracker.set(slot, .writingLast(until: .now + configuration.idleTimeout)) }
            context.writeAndFlush(wrapOutboundOut(bytes)).whenComplete { _ in channel.close(promise: nil) }
        } else if deferFlush {
            context.write(wrapOutboundOut(bytes), promise: nil)
            unflushed = true
        } else {
            context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
        }
    }

    private func record(_ head: RequestHead, _ r: ServerResponse, label: String, _ started: ContinuousClock.Instant) {
        requestCounter.count(route: label, status: Int(r.status.code), in: metrics)
        // Denials are worth seeing even when ordinary requests are not logged.
        let level: Logger.Level = r.status == .forbidden ? .notice : .info
        guard log.logLevel <= level else { return }
        var metadata: Logger.Metadata = [
            "method": "\(head.method.rawValue)", "path": "\(head.uri.prefix(200))",
            "status": "\(r.status.code)", "ms": "\(Self.milliseconds(since: started))",
        ]
        if let code = r.errorCode { metadata["error"] = "\(code)" }
        log.log(level: level, "request", metadata: metadata)
    }

    private static func segments(_ uri: String) -> [String] {
        let path = uri.split(separator: "?", maxSplits: 1).first ?? ""
        return path.split(separator: "/").map(String.init)
    }

    private static func milliseconds(since started: ContinuousClock.Instant) -> String {
        let d = ContinuousClock.now - started
        let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
        return String(format: "%.3f", ms)
    }
}

/// The whole pipeline of a connection the server does not take (over the limit, or while it
/// drains): a 503 and a close, or just a close. Nothing about the peer is looked up first, so a
/// client looping on connect against a full server costs neither credential nor group lookups.
final class RefusedConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let refusal: ConnectionTracker.Refusal
    private let services: ConnectionServices

    init(_ refusal: ConnectionTracker.Refusal, services: ConnectionServices) {
        self.refusal = refusal
        self.services = services
    }

    func handlerAdded(context: ChannelHandlerContext) {
        switch refusal {
        case .draining:
            // Accepted while the server drains: nothing new is served.
            context.close(promise: nil)
        case .full(let limit, let origin):
            let which = origin == .tcp ? "TCP connections" : "connections"
            if let refused = services.tracker.noteRefusal(origin) {
                services.logger.warning("connections refused: the server already holds its limit of \(which)", metadata: [
                    "limit": "\(limit)", "refused": "\(refused)", "listener": "\(origin)",
                ])
            }
            services.metrics.countRequest(route: "connection", status: 503)
            let answer = ServerResponse.error(.serviceUnavailable, "tooManyConnections",
                                              "the server already holds its limit of \(limit) \(which); close idle ones or retry later")
            let bytes = ResponseBytes.response(answer, version: .http1_1, keepAlive: false, omitBody: false,
                                               allocator: context.channel.allocator)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(bytes)).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// What the client sends is not read: the answer does not depend on it.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
