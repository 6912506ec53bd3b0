import Foundation
import Journal
import Logging
import NIOCore
import NIOHTTP1

/// An accepted connection after its synchronous setup: the HTTP pipeline wrapped in an async
/// channel, and the peer's credentials read from the socket before any byte was trusted.
struct AcceptedConnection: Sendable {
    let channel: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    let peer: PeerCredentials?
}

/// Serves the requests of one connection in order (HTTP/1.1 keep-alive), one log line each.
struct ConnectionHandler: Sendable {
    let router: Router
    let journal: Journal
    let configuration: ServerConfiguration
    let tracker: ConnectionTracker
    let metrics: ServerMetrics
    let logger: Logger

    func serve(_ connection: AcceptedConnection) async {
        let channel = connection.channel.channel
        let id = tracker.register(channel, idleTimeout: configuration.idleTimeout)
        metrics.connections.record(tracker.count)
        defer {
            tracker.remove(id)
            metrics.connections.record(tracker.count)
        }
        let peer = connection.peer
        let groups = peer.map { configuration.access.namesGroups ? supplementaryGroups(uid: $0.uid, primaryGid: $0.gid) : [] } ?? []
        let permissions = configuration.access.permissions(for: peer, groups: groups)
        let who = peer.map { "uid \($0.uid)" } ?? "a TCP peer (no credentials)"
        var log = logger
        if let peer {
            log[metadataKey: "uid"] = "\(peer.uid)"
            log[metadataKey: "pid"] = "\(peer.pid)"
        } else {
            log[metadataKey: "peer"] = "tcp"
        }
        do {
            try await connection.channel.executeThenClose { inbound, outbound in
                var parts = inbound.makeAsyncIterator()
                while true {
                    tracker.set(id, .waiting(until: .now + configuration.idleTimeout))
                    if tracker.draining { return }
                    guard let first = try await parts.next() else { return }
                    guard case .head(let head) = first else { return }
                    let started = ContinuousClock.now
                    tracker.set(id, .receiving(until: .now + configuration.requestTimeout))

                    // The body, bounded: a declared length over the limit is refused unread.
                    if let declared = head.headers.first(name: "content-length").flatMap(Int.init), declared > configuration.maximumBodyBytes {
                        let r = tooLarge(declared)
                        try await write(r, for: head, to: outbound, close: true)
                        record(head, r, started, log)
                        return
                    }
                    var body = channel.allocator.buffer(capacity: 0)
                    var complete = false
                    receiving: while let part = try await parts.next() {
                        switch part {
                        case .body(var chunk):
                            if body.readableBytes + chunk.readableBytes > configuration.maximumBodyBytes {
                                let r = tooLarge(body.readableBytes + chunk.readableBytes)
                                try await write(r, for: head, to: outbound, close: true)
                                record(head, r, started, log)
                                return
                            }
                            body.writeBuffer(&chunk)
                        case .end:
                            complete = true
                            break receiving
                        case .head:
                            return
                        }
                    }
                    // A client gone in the middle of its body: nothing of it is acted upon.
                    guard complete else {
                        log.notice("request abandoned before its body was complete", metadata: ["method": "\(head.method.rawValue)", "path": "\(head.uri.prefix(200))", "received": "\(body.readableBytes)"])
                        return
                    }

                    tracker.set(id, .responding)
                    let reply: Reply
                    let parsed: Result<ServerRequest, ServerRequest.MalformedTarget>
                    do throws(ServerRequest.MalformedTarget) { parsed = .success(try ServerRequest(head: head, body: body)) } catch { parsed = .failure(error) }
                    switch parsed {
                    case .success(let request): reply = await router.route(request, permissions: permissions, peerDescription: who)
                    case .failure(let error): reply = .response(.badRequest("invalidTarget", error.message))
                    }
                    switch reply {
                    case .response(let response):
                        let closing = response.closesConnection || !head.isKeepAlive || tracker.draining
                        try await write(response, for: head, to: outbound, close: closing)
                        record(head, response, started, log)
                        if response.status == .forbidden { metrics.countDenial(route: Router.label(segments(head.uri))) }
                        if closing { return }
                    case .subscribe(let from):
                        tracker.set(id, .streaming)
                        metrics.subscribers.increment()
                        log.info("subscription started", metadata: ["from": "\(from)"])
                        let end = await Subscription(journal: journal, channel: channel, configuration: configuration,
                                                     isDraining: { [tracker] in tracker.draining }).run(from: from, version: head.version)
                        metrics.subscribers.decrement()
                        let reason: String = switch end {
                        case .tooSlow: "tooSlow"
                        case .shuttingDown: "shuttingDown"
                        case .clientGone: "clientGone"
                        case .journalClosed: "journalUnavailable"
                        }
                        metrics.countSubscriberDisconnect(reason: reason)
                        metrics.countRequest(route: "subscribe", status: 200)
                        log.info("subscription ended", metadata: ["reason": "\(reason)", "end": "\(end)", "ms": "\(milliseconds(since: started))"])
                        return
                    }
                }
            }
        } catch {
            log.debug("connection ended with an error", metadata: ["error": "\(error)"])
        }
    }

    private func segments(_ uri: String) -> [String] {
        let path = uri.split(separator: "?", maxSplits: 1).first ?? ""
        return path.split(separator: "/").map(String.init)
    }

    private func tooLarge(_ size: Int) -> ServerResponse {
        var r = ServerResponse.error(.payloadTooLarge, "bodyTooLarge", "the body is \(size) bytes or more; at most \(configuration.maximumBodyBytes) are accepted")
        r.closesConnection = true
        return r
    }

    private func write(_ r: ServerResponse, for head: HTTPRequestHead,
                       to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, close: Bool) async throws {
        var headers = HTTPHeaders()
        headers.reserveCapacity(4)
        headers.add(name: "content-type", value: r.contentType)
        headers.add(name: "content-length", value: String(r.body.count))
        if let allow = r.allow { headers.add(name: "allow", value: allow) }
        if close { headers.add(name: "connection", value: "close") }
        var buffer = ByteBufferAllocator().buffer(capacity: r.body.count)
        buffer.writeBytes(r.body)
        try await outbound.write(contentsOf: [
            .head(HTTPResponseHead(version: head.version, status: r.status, headers: headers)),
            .body(.byteBuffer(buffer)),
            .end(nil),
        ])
    }

    private func record(_ head: HTTPRequestHead, _ r: ServerResponse, _ started: ContinuousClock.Instant, _ log: Logger) {
        metrics.countRequest(route: Router.label(segments(head.uri)), status: Int(r.status.code))
        // Denials are worth seeing even when ordinary requests are not logged.
        let level: Logger.Level = r.status == .forbidden ? .notice : .info
        guard log.logLevel <= level else { return }
        var metadata: Logger.Metadata = [
            "method": "\(head.method.rawValue)", "path": "\(head.uri.prefix(200))",
            "status": "\(r.status.code)", "ms": "\(milliseconds(since: started))",
        ]
        if let code = r.errorCode { metadata["error"] = "\(code)" }
        log.log(level: level, "request", metadata: metadata)
    }

    private func milliseconds(since started: ContinuousClock.Instant) -> String {
        let d = ContinuousClock.now - started
        let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
        return String(format: "%.3f", ms)
    }
}
