import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import Server

@Suite struct PlainRequestDecoderTests {
    private func decode(_ text: String, maximumHeaderBytes: Int = 32 << 10, maximumBodyBytes: Int = 1 << 20) -> PlainRequestDecoder.Outcome {
        Array(text.utf8).withUnsafeBytes { PlainRequestDecoder.decode($0, maximumHeaderBytes: maximumHeaderBytes, maximumBodyBytes: maximumBodyBytes) }
    }

    @Test func aPlainRequestIsDecodedWholeWithItsBodyLength() {
        let head = "POST /append HTTP/1.1\r\nHost: localhost\r\ncontent-TYPE:  application/json \r\nContent-Length: 2\r\n\r\n"
        guard case .request(let h, let headLength, let bodyLength) = decode(head + "{}GET /health HTTP/1.1\r\n") else {
            Issue.record("not decoded")
            return
        }
        #expect(h == RequestHead(method: .POST, uri: "/append", version: .http1_1, isKeepAlive: true, contentType: "application/json", contentLength: 2))
        #expect(headLength == head.utf8.count)
        #expect(bodyLength == 2)
    }

    @Test func keepAliveFollowsTheVersionAndTheConnectionHeader() {
        func keepAlive(_ text: String) -> Bool? {
            if case .request(let h, _, _) = decode(text) { return h.isKeepAlive }
            return nil
        }
        #expect(keepAlive("GET /health HTTP/1.1\r\n\r\n") == true)
        #expect(keepAlive("GET /health HTTP/1.1\r\nConnection: close\r\n\r\n") == false)
        #expect(keepAlive("GET /health HTTP/1.0\r\n\r\n") == false)
        #expect(keepAlive("GET /health HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n") == true)
    }

    @Test func partsOfAPlainRequestWaitForTheRest() {
        #expect(decode("") == .incomplete)
        #expect(decode("PO") == .incomplete)
        #expect(decode("POST /append HTTP/1.1\r\nHost: x\r") == .incomplete)
        let head = "POST /append HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
        #expect(decode(head + "{}") == .bodyIncomplete(
            RequestHead(method: .POST, uri: "/append", version: .http1_1, isKeepAlive: true, contentType: nil, contentLength: 5),
            headLength: head.utf8.count, bodyLength: 5))
    }

    @Test(arguments: [
        "POST /append HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST /append HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
        "POST /append HTTP/1.1\r\nContent-Length: +2\r\n\r\n{}",
        "POST /append HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
        "POST /append HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
        "GET /health HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\n\r\n",
        "GET /health HTTP/1.1\r\nUpgrade: h2c\r\n\r\n",
        "GET /health HTTP/1.1\r\n folded\r\n\r\n",
        "GET /health HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET /health HTTP/1.1\r\nX: \u{e9}\r\n\r\n",
        "GET /health HTTP/1.1\nHost: x\n\n",
        "GET /health HTTP/2.0\r\n\r\n",
        "BREW /coffee HTCPCP/1.0\r\n\r\n",
        "get /health HTTP/1.1\r\n\r\n",
        "GET http://example.com/ HTTP/1.1\r\n\r\n",
        "GET  /health HTTP/1.1\r\n\r\n",
        "\u{1}\u{2}junk",
        "GET /health HTTP/1.1\r\nX-Big: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    ])
    func anythingElseGoesToTheFullDecoder(text: String) {
        #expect(decode(text, maximumHeaderBytes: 100, maximumBodyBytes: 1000) == .notPlain)
    }

    @Test func aLargeBodyStillOnItsWayIsWaitedForWithinTheBodyLimit() {
        let head = "POST /append HTTP/1.1\r\nContent-Length: 40000\r\n\r\n"
        guard case .bodyIncomplete(_, let headLength, let bodyLength) = decode(head + "{", maximumBodyBytes: 40000) else {
            Issue.record("not waited for")
            return
        }
        #expect(headLength == head.utf8.count)
        #expect(bodyLength == 40000)
        #expect(decode(head + "{", maximumBodyBytes: 39999) == .notPlain, "over the limit: NIO's decoder refuses it")
    }

    /// Keeps what the decoder passes on: whole requests, and how often it said a body was awaited.
    final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = IncomingRequest
        var requests: [(head: RequestHead, body: String)] = []
        var bodiesAwaited = 0

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .whole(let head, let body) = unwrapInboundIn(data) {
                requests.append((head, String(buffer: body)))
            }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event is PlainRequestDecoder.BodyAwaited { bodiesAwaited += 1 }
        }
    }

    @Test func aBodyThatArrivesAByteAtATimeMakesOneWholeRequestAndOneNotice() throws {
        let collector = Collector()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([
            PlainRequestDecoder(maximumHeaderBytes: 8 << 10, maximumBodyBytes: 1 << 20) { [] }, collector,
        ])
        let body = "{\"events\":[" + String(repeating: "x", count: 20_000) + "]}"
        let text = "POST /append HTTP/1.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body + "GET /health HTTP/1.1\r\n\r\n"
        let bytes = Array(text.utf8)
        // The head in one piece, then the body in small pieces and single bytes.
        let headEnd = text.utf8.count - body.utf8.count - "GET /health HTTP/1.1\r\n\r\n".utf8.count
        var pieces: [ArraySlice<UInt8>] = [bytes[0..<headEnd]]
        var i = headEnd
        while i < bytes.count {
            let n = min(i % 7 == 0 ? 1 : 997, bytes.count - i)
            pieces.append(bytes[i..<i + n])
            i += n
        }
        for piece in pieces { try channel.writeInbound(ByteBuffer(bytes: piece)) }
        #expect(collector.bodiesAwaited == 1, "told once, when the head came")
        #expect(collector.requests.count == 2)
        #expect(collector.requests.first?.head.contentLength == body.utf8.count)
        #expect(collector.requests.first?.body == body)
        #expect(collector.requests.last?.head.uri == "/health")
        _ = try channel.finish()
    }

    /// A head sent a byte at a time is decoded once its blank line has come, not again at every
    /// byte from its start (which cost CPU in the square of its length).
    @Test func aHeadArrivingAByteAtATimeIsDecodedOnceItsEndHasCome() throws {
        let decoder = PlainRequestDecoder(maximumHeaderBytes: 64 << 10, maximumBodyBytes: 1 << 20) { [] }
        let collector = Collector()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([decoder, collector])
        let lines = (0..<60).map { "X-Filler-\($0): " + String(repeating: "v", count: 40) + "\r\n" }.joined()
        let text = "GET /health HTTP/1.1\r\n" + lines + "\r\nGET /metrics HTTP/1.1\r\n\r\n"
        for byte in Array(text.utf8) { try channel.writeInbound(ByteBuffer(bytes: [byte])) }
        #expect(collector.requests.map(\.head.uri) == ["/health", "/metrics"])
        #expect(decoder.headDecodes <= 6, "decoded \(decoder.headDecodes) times for \(text.utf8.count) bytes")
        _ = try? channel.finish()
    }

    @Test func aHeadDeclaringAHugeBodyReservesAtMostOneMebibyteUntilTheBytesCome() throws {
        let decoder = PlainRequestDecoder(maximumHeaderBytes: 8 << 10, maximumBodyBytes: 64 << 20) { [] }
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([decoder, Collector()])
        try channel.writeInbound(ByteBuffer(string: "POST /append HTTP/1.1\r\nContent-Length: \(60 << 20)\r\n\r\n{\"events\":"))
        let held = try #require(decoder.unread)
        #expect(held.capacity <= 1 << 20, "\(held.capacity) bytes reserved for a body not sent")
        _ = try? channel.finish()
    }

    @Test func theStartOfTheNextHeadDoesNotKeepALargeBodysBufferAlive() throws {
        let decoder = PlainRequestDecoder(maximumHeaderBytes: 8 << 10, maximumBodyBytes: 1 << 20) { [] }
        let collector = Collector()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([decoder, collector])
        let body = String(repeating: "x", count: 300_000)
        try channel.writeInbound(ByteBuffer(string: "POST /append HTTP/1.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body.prefix(1000)))
        try channel.writeInbound(ByteBuffer(string: body.dropFirst(1000) + "GET /hea"))
        #expect(collector.requests.count == 1)
        #expect(collector.requests.first?.body.utf8.count == body.utf8.count)
        let held = try #require(decoder.unread)
        #expect(held.readableBytes == "GET /hea".utf8.count)
        #expect(held.capacity < 64 << 10, "\(held.capacity) bytes held for eight")
        _ = try? channel.finish()
    }
}
