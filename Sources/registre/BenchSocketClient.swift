import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A lean blocking HTTP/1.1 client for the socket benchmarks: one connection, requests sent as
/// prebuilt bytes, and only the status and length of each answer read.
///
/// The benchmark's 16 clients share two cores with the server, so a client that spends tens of
/// microseconds building JSON and parsing headers with Foundation per request measures itself
/// rather than the server. `SocketHTTPClient` stays the client of the user-facing commands.
final class BenchSocketClient {
    struct Failure: Error, CustomStringConvertible { var description: String }

    private let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 64 << 10)
    private var start = 0
    private var end = 0

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "cannot create a socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: Array(path.utf8.prefix(raw.count - 1))) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "cannot connect to \(path): \(message)")
        }
    }

    deinit { close(fd) }

    /// The bytes of `POST target` with a JSON body.
    static func post(_ target: String, json body: [UInt8]) -> [UInt8] {
        Array("POST \(target) HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
    }

    /// Sends one complete request and returns the answer's status once its whole body is read.
    func send(_ request: [UInt8]) throws -> Int {
        var offset = 0
        while offset < request.count {
            let n = request.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "write failed: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        // The head: up to the blank line.
        var headEnd: Int?
        while true {
            headEnd = findBlankLine()
            if headEnd != nil { break }
            try fill()
        }
        let (status, length) = try parseHead(upTo: headEnd!)
        start = headEnd! + 4
        var remaining = length
        while remaining > 0 {
            if start == end { try fill() }
            let n = min(remaining, end - start)
            start += n
            remaining -= n
        }
        return status
    }

    private func findBlankLine() -> Int? {
        guard end - start >= 4 else { return nil }
        var i = start
        while i + 3 < end {
            if buffer[i] == 0x0D, buffer[i + 1] == 0x0A, buffer[i + 2] == 0x0D, buffer[i + 3] == 0x0A { return i }
            i += 1
        }
        return nil
    }

    /// The status code and Content-Length of the head in `start..<headEnd`.
    private func parseHead(upTo headEnd: Int) throws -> (status: Int, length: Int) {
        // "HTTP/1.1 200 OK"
        guard headEnd - start >= 12 else { throw Failure(description: "malformed status line") }
        var status = 0
        for i in (start + 9)..<(start + 12) { status = status * 10 + Int(buffer[i] &- 0x30) }
        let name = Array("content-length:".utf8)
        var length = 0
        var line = start
        while line < headEnd {
            var next = line
            while next < headEnd, buffer[next] != 0x0D { next += 1 }
            if next - line > name.count {
                var matches = true
                for k in 0..<name.count where buffer[line + k] | 0x20 != name[k] | 0x20 { matches = false; break }
                if matches {
                    var i = line + name.count
                    while i < next, buffer[i] == 0x20 { i += 1 }
                    while i < next, buffer[i] >= 0x30, buffer[i] <= 0x39 { length = length * 10 + Int(buffer[i] - 0x30); i += 1 }
                }
            }
            line = next + 2
        }
        return (status, length)
    }

    private func fill() throws {
        if start == end { start = 0; end = 0 }
        if end == buffer.count {
            if start > 0 {
                buffer.withUnsafeMutableBytes { raw in _ = memmove(raw.baseAddress!, raw.baseAddress! + start, end - start) }
                end -= start
                start = 0
            } else {
                buffer += [UInt8](repeating: 0, count: buffer.count)
            }
        }
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + end, $0.count - end) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { throw Failure(description: "the server closed the connection before answering") }
            end += n
            return
        }
    }
}
