import NIOCore
import NIOHTTP1

/// A request's head as the server uses it: what routing, answering and logging need, and no
/// table of headers to build for every request.
struct RequestHead: Sendable, Equatable {
    var method: HTTPMethod
    /// The raw request target.
    var uri: String
    var version: HTTPVersion
    var isKeepAlive: Bool
    var contentType: String?
    /// The declared body length; nil when none was declared (or the body is chunked).
    var contentLength: Int?

    init(method: HTTPMethod, uri: String, version: HTTPVersion, isKeepAlive: Bool, contentType: String?, contentLength: Int?) {
        self.method = method
        self.uri = uri
        self.version = version
        self.isKeepAlive = isKeepAlive
        self.contentType = contentType
        self.contentLength = contentLength
    }

    /// The head NIO's decoder made.
    init(_ head: HTTPRequestHead) {
        self.init(method: head.method, uri: head.uri, version: head.version, isKeepAlive: head.isKeepAlive,
                  contentType: head.headers.first(name: "content-type"),
                  contentLength: head.headers.first(name: "content-length").flatMap(Int.init))
    }
}

/// What reaches `ConnectionHandler`: a whole request from `PlainRequestDecoder`, or, once a
/// connection has been handed to NIO's decoder, the parts that decoder makes.
enum IncomingRequest {
    case whole(RequestHead, body: ByteBuffer)
    case part(HTTPServerRequestPart)
}

/// Decodes the plain requests services send, and hands anything else to NIO's full HTTP/1.1
/// decoder for the rest of the connection.
///
/// A plain request is `GET`, `POST`, `HEAD`, `PUT`, `DELETE`, `OPTIONS` or `PATCH` with an
/// origin-form target, HTTP/1.0 or 1.1, header lines of visible ASCII, at most one
/// `Content-Length` and `Content-Type`, a `Connection` of `close` or `keep-alive`, no transfer
/// coding, no `Expect` and no `Upgrade`, and a body of the declared length within the limit.
/// Such a request, once all of it has arrived, is one message with its body as a slice of the
/// bytes read: no parser callbacks, no header table, no copy of the body, one trip through the
/// pipeline instead of three. This is what every request of the load costs (profiled: NIO's
/// decoder and its parts were about a sixth of a booking attempt's CPU).
///
/// A plain head whose body is still on its way is kept, parsed, until the body is all there (it
/// is within the body limit), and the handler is told (`BodyAwaited`), so that the request is
/// under the request timeout from then on, as one NIO's decoder reads is. A bulk load's request
/// of a hundred events (about 35 KB) comes in several reads; it used to go to NIO's decoder.
///
/// Everything else (chunked bodies, bytes that are not HTTP, heads or bodies over the limits)
/// is not judged here: the bytes, from the first one not yet decoded, go to NIO's decoder,
/// which answers them exactly as it did before this decoder existed; the connection stays with
/// it. So this decoder adds a fast path and never a new way to accept or refuse a request.
final class PlainRequestDecoder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = IncomingRequest

    /// Sent to the handler when a plain request's head has come and its body has not all come.
    struct BodyAwaited: Sendable {}

    /// The head of the request whose body is arriving, parsed once: a client that sends its
    /// body a byte at a time does not make every byte parse the head again.
    private var awaited: (head: RequestHead, headLength: Int, bodyLength: Int)?

    private let maximumHeaderBytes: Int
    private let maximumBodyBytes: Int
    /// Makes NIO's decoder (and what adapts its parts) when a connection is handed over.
    private let fullDecoder: () -> [any ChannelHandler]
    /// The start of a request that has not all arrived.
    private(set) var unread: ByteBuffer?
    /// NIO's decoder has the connection: bytes pass through.
    private var handedOver = false
    /// Bytes at the start of `unread` already searched for the end of a head: a head that comes
    /// in pieces is decoded again only once its blank line may have come. Decoding it from its
    /// start at every read cost CPU in the square of its length (a second of CPU for a 31 KB head
    /// sent a byte at a time).
    private var headSearched = 0
    /// Times a head was decoded (tests).
    private(set) var headDecodes = 0

    init(maximumHeaderBytes: Int, maximumBodyBytes: Int, fullDecoder: @escaping () -> [any ChannelHandler]) {
        self.maximumHeaderBytes = maximumHeaderBytes
        self.maximumBodyBytes = maximumBodyBytes
        self.fullDecoder = fullDecoder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if handedOver {
            context.fireChannelRead(data)
            return
        }
        var bytes = unwrapInboundIn(data)
        if var earlier = unread {
            unread = nil
            earlier.writeBuffer(&bytes)
            bytes = earlier
        }
        if awaited == nil, headSearched > 0, bytes.readableBytes <= maximumHeaderBytes {
            let from = max(0, headSearched - 3)
            if !bytes.withUnsafeReadableBytes({ Self.mayHoldHeadEnd($0, from: from) }) {
                headSearched = bytes.readableBytes
                unread = bytes
                return
            }
        }
        headSearched = 0
        while bytes.readableBytes > 0 {
            let outcome: Outcome
            if let awaited {
                guard bytes.readableBytes >= awaited.headLength + awaited.bodyLength else {
                    unread = bytes
                    return
                }
                self.awaited = nil
                outcome = .request(awaited.head, headLength: awaited.headLength, bodyLength: awaited.bodyLength)
            } else {
                headDecodes += 1
                outcome = bytes.withUnsafeReadableBytes { Self.decode($0, maximumHeaderBytes: maximumHeaderBytes, maximumBodyBytes: maximumBodyBytes) }
            }
            switch outcome {
            case .request(let head, let headLength, let bodyLength):
                bytes.moveReaderIndex(forwardBy: headLength)
                let body = bytes.readSlice(length: bodyLength)!
                context.fireChannelRead(wrapInboundOut(.whole(head, body: body)))
            case .incomplete:
                // The start of the next head, left over from a large gathered body: kept alone,
                // so that the body's buffer is freed.
                if bytes.capacity > 64 << 10 && bytes.readableBytes <= 16 << 10 {
                    var start = context.channel.allocator.buffer(capacity: bytes.readableBytes)
                    start.writeBuffer(&bytes)
                    bytes = start
                }
                headSearched = bytes.readableBytes
                unread = bytes
                return
            case .bodyIncomplete(let head, let headLength, let bodyLength):
                awaited = (head, headLength, bodyLength)
                // Gathered in a buffer of its own, not kept in the channel's read buffer: the
                // channel reuses that one for its next read when nothing holds it. Sized for the
                // declared length up to 1 MiB (as NIO's decoder path does), then grown as bytes
                // come: a head alone does not reserve the body limit.
                var gathered = context.channel.allocator.buffer(capacity: min(headLength + bodyLength, 1 << 20))
                gathered.writeBuffer(&bytes)
                unread = gathered
                context.fireUserInboundEventTriggered(BodyAwaited())
                return
            case .notPlain:
                handOver(bytes, context: context)
                return
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        unread = nil
        awaited = nil
        context.fireChannelInactive()
    }

    /// NIO's decoder goes in behind this one and gets every byte from `bytes` on.
    private func handOver(_ bytes: ByteBuffer, context: ChannelHandlerContext) {
        handedOver = true
        do {
            try context.pipeline.syncOperations.addHandlers(fullDecoder(), position: .after(self))
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(NIOAny(bytes))
    }

    enum Outcome: Equatable {
        /// A whole plain request: its head, and then its body, at the start of the bytes.
        case request(RequestHead, headLength: Int, bodyLength: Int)
        /// So far plain, but the head is not all there.
        case incomplete
        /// A plain head, at the start of the bytes, whose body (within the limit) is not all there.
        case bodyIncomplete(RequestHead, headLength: Int, bodyLength: Int)
        /// For NIO's decoder.
        case notPlain
    }

    /// The request at the start of `raw`, judged line by line: a line that is complete and not
    /// plain hands the connection over at once, so bytes that are not HTTP are answered as soon
    /// as they arrive, not when a limit is reached.
    /// Whether `raw` from `from` on holds a line feed followed by an empty line (LF LF or LF CR
    /// LF): where a head, plain or not, can end.
    static func mayHoldHeadEnd(_ raw: UnsafeRawBufferPointer, from: Int) -> Bool {
        var i = from
        while i + 1 < raw.count {
            if raw[i] == 0x0A, raw[i + 1] == 0x0A || (raw[i + 1] == 0x0D && i + 2 < raw.count && raw[i + 2] == 0x0A) { return true }
            i += 1
        }
        return false
    }

    static func decode(_ raw: UnsafeRawBufferPointer, maximumHeaderBytes: Int, maximumBodyBytes: Int) -> Outcome {
        let n = raw.count
        var head = RequestHead(method: .GET, uri: "", version: .http1_1, isKeepAlive: true, contentType: nil, contentLength: nil)
        var closeAsked = false, keepAliveAsked = false
        var lineStart = 0
        var lines = 0
        while true {
            // The next line ends at CR LF; a bare LF is not plain.
            var end = lineStart
            while end < n && raw[end] != 0x0A { end += 1 }
            if end == n {
                // A partial line: it must be on its way to something plain, within the limit.
                guard n <= maximumHeaderBytes, isVisible(raw, lineStart, n, allowingCR: true),
                      lines > 0 || n == 0 || isUpper(raw[0]) else { return .notPlain }
                return .incomplete
            }
            guard end > lineStart, raw[end - 1] == 0x0D, end + 1 <= maximumHeaderBytes else { return .notPlain }
            let lineEnd = end - 1
            defer { lineStart = end + 1 }
            if lines == 0 {
                guard requestLine(raw, lineEnd, into: &head) else { return .notPlain }
                lines = 1
                continue
            }
            if lineEnd == lineStart {
                // The blank line: the head is complete.
                let headLength = end + 1
                let bodyLength = head.contentLength ?? 0
                guard bodyLength <= maximumBodyBytes else { return .notPlain }
                if head.version.minor == 1 { head.isKeepAlive = !closeAsked } else { head.isKeepAlive = keepAliveAsked && !closeAsked }
                if n - headLength >= bodyLength { return .request(head, headLength: headLength, bodyLength: bodyLength) }
                return .bodyIncomplete(head, headLength: headLength, bodyLength: bodyLength)
            }
            lines += 1
            guard lines <= 101, header(raw, lineStart, lineEnd, into: &head, close: &closeAsked, keepAlive: &keepAliveAsked) else { return .notPlain }
        }
    }

    /// `METHOD SP origin-form SP HTTP/1.x`, ending at `end`.
    private static func requestLine(_ raw: UnsafeRawBufferPointer, _ end: Int, into head: inout RequestHead) -> Bool {
        var i = 0
        while i < end && isUpper(raw[i]) { i += 1 }
        guard i > 0, i < end, raw[i] == 0x20, let method = method(raw, i) else { return false }
        let targetStart = i + 1
        i = targetStart
        while i < end && raw[i] > 0x20 && raw[i] < 0x7F { i += 1 }
        guard i > targetStart, raw[targetStart] == UInt8(ascii: "/"), i < end, raw[i] == 0x20, end - i - 1 == 8 else { return false }
        let v = i + 1
        guard raw[v] == UInt8(ascii: "H"), raw[v + 1] == UInt8(ascii: "T"), raw[v + 2] == UInt8(ascii: "T"), raw[v + 3] == UInt8(ascii: "P"),
              raw[v + 4] == UInt8(ascii: "/"), raw[v + 5] == UInt8(ascii: "1"), raw[v + 6] == UInt8(ascii: "."),
              raw[v + 7] == UInt8(ascii: "1") || raw[v + 7] == UInt8(ascii: "0") else { return false }
        head.method = method
        head.uri = String(decoding: UnsafeRawBufferPointer(rebasing: raw[targetStart..<i]), as: UTF8.self)
        head.version = raw[v + 7] == UInt8(ascii: "1") ? .http1_1 : .http1_0
        return true
    }

    private static func method(_ raw: UnsafeRawBufferPointer, _ length: Int) -> HTTPMethod? {
        func named(_ text: StaticString) -> Bool {
            guard text.utf8CodeUnitCount == length else { return false }
            for k in 0..<length where raw[k] != text.utf8Start[k] { return false }
            return true
        }
        if named("POST") { return .POST }
        if named("GET") { return .GET }
        if named("HEAD") { return .HEAD }
        if named("PUT") { return .PUT }
        if named("DELETE") { return .DELETE }
        if named("OPTIONS") { return .OPTIONS }
        if named("PATCH") { return .PATCH }
        return nil
    }

    /// `name: value`, the name a token and the value visible ASCII; false when not plain.
    private static func header(_ raw: UnsafeRawBufferPointer, _ start: Int, _ end: Int, into head: inout RequestHead,
                               close: inout Bool, keepAlive: inout Bool) -> Bool {
        var colon = start
        while colon < end && isToken(raw[colon]) { colon += 1 }
        guard colon > start, colon < end, raw[colon] == UInt8(ascii: ":") else { return false }
        var valueStart = colon + 1, valueEnd = end
        while valueStart < valueEnd && (raw[valueStart] == 0x20 || raw[valueStart] == 0x09) { valueStart += 1 }
        while valueEnd > valueStart && (raw[valueEnd - 1] == 0x20 || raw[valueEnd - 1] == 0x09) { valueEnd -= 1 }
        guard isVisible(raw, valueStart, valueEnd, allowingCR: false) else { return false }
        let name = UnsafeRawBufferPointer(rebasing: raw[start..<colon])
        let value = UnsafeRawBufferPointer(rebasing: raw[valueStart..<valueEnd])
        if equalsIgnoringCase(name, "content-length") {
            guard head.contentLength == nil, value.count > 0, value.count <= 18 else { return false }
            var length = 0
            for c in value {
                guard c >= 0x30 && c <= 0x39 else { return false }
                length = length * 10 + Int(c - 0x30)
            }
            head.contentLength = length
        } else if equalsIgnoringCase(name, "content-type") {
            guard head.contentType == nil else { return false }
            head.contentType = String(decoding: value, as: UTF8.self)
        } else if equalsIgnoringCase(name, "connection") {
            if equalsIgnoringCase(value, "close") { close = true }
            else if equalsIgnoringCase(value, "keep-alive") { keepAlive = true }
            else { return false }
        } else if equalsIgnoringCase(name, "transfer-encoding") || equalsIgnoringCase(name, "expect") || equalsIgnoringCase(name, "upgrade") {
            return false
        }
        return true
    }

    private static func isUpper(_ c: UInt8) -> Bool { c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") }

    /// A header name's byte (RFC 9110 `tchar`).
    private static func isToken(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"),
             UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "^"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }

    /// Visible ASCII, space and tab (and CR, in a line not yet ended).
    private static func isVisible(_ raw: UnsafeRawBufferPointer, _ start: Int, _ end: Int, allowingCR: Bool) -> Bool {
        var i = start
        while i < end {
            let c = raw[i]
            guard (c >= 0x20 && c < 0x7F) || c == 0x09 || (allowingCR && c == 0x0D) else { return false }
            i += 1
        }
        return true
    }

    /// `bytes` spell `lowercase` (ASCII), letters in any case.
    private static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        for k in 0..<bytes.count where bytes[k] | 0x20 != lowercase.utf8Start[k] { return false }
        return true
    }
}

/// Passes the parts NIO's decoder makes on to `ConnectionHandler`, after a hand-over.
final class RequestPartForwarder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = IncomingRequest

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(wrapInboundOut(.part(unwrapInboundIn(data))))
    }
}
