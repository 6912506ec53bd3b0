import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 client over a Unix domain socket: one keep-alive connection, requests with
/// a `Content-Length`, responses read by their `Content-Length`. Enough to talk to the Registre
/// server as a service on the same machine does, without pulling an HTTP stack into the simulator.
public final class UnixHTTPClient {
    public struct Response: Sendable, Equatable {
        public var status: Int
        public var headers: [String: String]
        public var body: [UInt8]
        public var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case pathTooLong(String)
        case system(call: String, errno: Int32)
        case closedByServer
        case malformedResponse(String)

        public var description: String {
            switch self {
            case .pathTooLong(let path): "the socket path \(path) is longer than a Unix socket address allows (107 bytes)"
            case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
            case .closedByServer: "the server closed the connection before answering"
            case .malformedResponse(let reason): "malformed HTTP response: \(reason)"
            }
        }
    }

    public let socketPath: String
    private var descriptor: Int32 = -1
    private var buffer: [UInt8] = []
    /// Responses above this size are refused: the server's answers are small JSON objects.
    private let maximumResponseBytes = 64 << 20

    public init(socketPath: String) {
        self.socketPath = socketPath
    }

    deinit { disconnect() }

    /// Calls connect(2) on a new `AF_UNIX` stream socket, unless connected already.
    public func connect() throws(Failure) {
        guard descriptor < 0 else { return }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(socketPath.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else { throw .pathTooLong(socketPath) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .system(call: "socket", errno: errno) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            close(fd)
            throw .system(call: "connect to \(socketPath)", errno: code)
        }
        descriptor = fd
        buffer.removeAll(keepingCapacity: true)
    }

    public func disconnect() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        buffer.removeAll()
    }

    /// Sends one request and reads its response. When a kept-alive connection turns out to be
    /// closed before any byte of the answer came back, it reconnects and sends once more; callers
    /// send only idempotent requests (appends carry their event ids).
    public func send(method: String, path: String, body: [UInt8], contentType: String = "application/json") throws(Failure) -> Response {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nContent-Type: \(contentType)\r\n"
        head += "Content-Length: \(body.count)\r\nConnection: keep-alive\r\n\r\n"
        let request = Array(head.utf8) + body
        let wasConnected = descriptor >= 0
        do {
            try connect()
            try writeAll(request)
            return try readResponse()
        } catch .closedByServer where wasConnected {
            disconnect()
            try connect()
            try writeAll(request)
            return try readResponse()
        } catch .system(let call, let code) where wasConnected && (code == EPIPE || code == ECONNRESET) {
            _ = call
            disconnect()
            try connect()
            try writeAll(request)
            return try readResponse()
        }
    }

    private func writeAll(_ bytes: [UInt8]) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                Glibc.send(descriptor, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                let code = errno
                disconnect()
                throw .system(call: "send", errno: code)
            }
            offset += written
        }
    }

    /// Reads more bytes into the buffer; false at end of stream.
    private func fill() throws(Failure) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress!, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                let code = errno
                disconnect()
                throw .system(call: "recv", errno: code)
            }
            if count == 0 { return false }
            buffer.append(contentsOf: chunk[0..<count])
            return true
        }
    }

    private func readResponse() throws(Failure) -> Response {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            if let found = find(separator, in: buffer) {
                headEnd = found
                break
            }
            guard buffer.count < 64 << 10 else { disconnect(); throw .malformedResponse("headers longer than 64 KiB") }
            guard try fill() else {
                let started = !buffer.isEmpty
                disconnect()
                if started { throw .malformedResponse("the connection closed in the middle of the headers") }
                throw .closedByServer
            }
        }
        let headText = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let statusParts = statusLine.split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]), (100...599).contains(status) else {
            disconnect()
            throw .malformedResponse("status line \"\(statusLine.prefix(80))\"")
        }
        var headers: [String: String] = [:]
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { disconnect(); throw .malformedResponse("header line without a colon") }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        if headers["transfer-encoding"] != nil {
            disconnect()
            throw .malformedResponse("chunked bodies are not supported; the server must send a Content-Length")
        }
        guard let lengthText = headers["content-length"], let length = Int(lengthText), length >= 0, length <= maximumResponseBytes else {
            disconnect()
            throw .malformedResponse("missing or invalid Content-Length")
        }
        let bodyStart = headEnd! + 4
        while buffer.count < bodyStart + length {
            guard try fill() else { disconnect(); throw .malformedResponse("the connection closed before the whole body arrived") }
        }
        let body = Array(buffer[bodyStart..<(bodyStart + length)])
        buffer.removeFirst(bodyStart + length)
        if headers["connection"]?.lowercased() == "close" { disconnect() }
        return Response(status: status, headers: headers, body: body)
    }

    private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return start }
        }
        return nil
    }
}
