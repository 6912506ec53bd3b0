import NIOCore
import NIOHTTP1

/// The bytes of this server's answers: a status line, the few headers it sends, and the body, in
/// one buffer written once.
///
/// NIO's `HTTPResponseEncoder` takes a head, a body and an end as three writes through the
/// pipeline, with an `HTTPHeaders` built for each answer. Every answer here has a known length
/// and headers made from constants and numbers, so it is written as the bytes themselves.
/// Subscriptions, whose length is unknown, are sent chunked (HTTP/1.1) or closed at the end
/// (HTTP/1.0).
enum ResponseBytes {
    /// A complete answer. `omitBody` for a `HEAD` request: the length is announced, the body not sent.
    static func response(_ r: ServerResponse, version: HTTPVersion, keepAlive: Bool, omitBody: Bool,
                         allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 128 + r.contentType.utf8.count + (omitBody ? 0 : r.body.count))
        writeStatusLine(version, r.status, to: &buffer)
        buffer.writeStaticString("content-type: ")
        buffer.writeString(r.contentType)
        buffer.writeStaticString("\r\ncontent-length: ")
        writeDecimal(r.body.count, to: &buffer)
        if let allow = r.allow {
            buffer.writeStaticString("\r\nallow: ")
            buffer.writeString(allow)
        }
        writeConnection(version, keepAlive: keepAlive, to: &buffer)
        buffer.writeStaticString("\r\n\r\n")
        if !omitBody { buffer.writeBytes(r.body) }
        return buffer
    }

    /// The answer to a request NIO's decoder could not parse; the connection closes after it.
    static func malformed(allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 80)
        buffer.writeStaticString("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
        return buffer
    }

    /// Whether a stream's body is framed in chunks (HTTP/1.1) or by closing the connection (1.0).
    static func streamIsChunked(_ version: HTTPVersion) -> Bool {
        version.major > 1 || (version.major == 1 && version.minor >= 1)
    }

    /// The head of a stream of unknown length.
    static func streamHead(version: HTTPVersion, contentType: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 128)
        writeStatusLine(version, .ok, to: &buffer)
        buffer.writeStaticString("content-type: ")
        buffer.writeString(contentType)
        buffer.writeStaticString("\r\ncache-control: no-store")
        if streamIsChunked(version) {
            buffer.writeStaticString("\r\ntransfer-encoding: chunked")
        } else {
            buffer.writeStaticString("\r\nconnection: close")
        }
        buffer.writeStaticString("\r\n\r\n")
        return buffer
    }

    /// One piece of a stream's body (never empty: an empty chunk would end the stream).
    static func streamPiece(_ bytes: some Collection<UInt8>, version: HTTPVersion, allocator: ByteBufferAllocator) -> ByteBuffer {
        let chunked = streamIsChunked(version)
        var buffer = allocator.buffer(capacity: bytes.count + (chunked ? 12 : 0))
        if chunked {
            buffer.writeString(String(bytes.count, radix: 16))
            buffer.writeStaticString("\r\n")
        }
        buffer.writeBytes(bytes)
        if chunked { buffer.writeStaticString("\r\n") }
        return buffer
    }

    /// The end of a stream: the last chunk, or nothing when the close ends it.
    static func streamEnd(version: HTTPVersion, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 5)
        if streamIsChunked(version) { buffer.writeStaticString("0\r\n\r\n") }
        return buffer
    }

    private static func writeStatusLine(_ version: HTTPVersion, _ status: HTTPResponseStatus, to buffer: inout ByteBuffer) {
        if version.major == 1 && version.minor == 1 {
            buffer.writeStaticString("HTTP/1.1 ")
        } else if version.major == 1 && version.minor == 0 {
            buffer.writeStaticString("HTTP/1.0 ")
        } else {
            buffer.writeStaticString("HTTP/")
            writeDecimal(version.major, to: &buffer)
            buffer.writeStaticString(".")
            writeDecimal(version.minor, to: &buffer)
            buffer.writeStaticString(" ")
        }
        writeDecimal(Int(status.code), to: &buffer)
        buffer.writeStaticString(" ")
        buffer.writeString(status.reasonPhrase)
        buffer.writeStaticString("\r\n")
    }

    /// `connection: close` when the connection ends after this answer; `keep-alive` for an
    /// HTTP/1.0 client that asked to keep it (1.1 keeps it by default).
    private static func writeConnection(_ version: HTTPVersion, keepAlive: Bool, to buffer: inout ByteBuffer) {
        if !keepAlive {
            buffer.writeStaticString("\r\nconnection: close")
        } else if version.major == 1 && version.minor == 0 {
            buffer.writeStaticString("\r\nconnection: keep-alive")
        }
    }

    private static func writeDecimal(_ value: Int, to buffer: inout ByteBuffer) {
        precondition(value >= 0)
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var v = value
        withUnsafeMutableBytes(of: &digits) { raw in
            repeat {
                raw[19 - count] = UInt8(truncatingIfNeeded: v % 10) + 0x30
                v /= 10
                count += 1
            } while v > 0
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[(20 - count)...]))
        }
    }
}
