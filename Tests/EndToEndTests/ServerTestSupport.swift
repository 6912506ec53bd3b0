import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A `registre serve` child on a fresh journal and socket, stopped (SIGTERM, then SIGKILL) by `stop()`.
final class RunningServer: @unchecked Sendable {
    let scratch: ScratchDirectory
    let journal: String
    let socket: String
    let child: Child
    private var outcome: Outcome?

    /// Starts the server and waits until its socket accepts connections.
    init(_ label: String, extra: [String] = [], scratch: ScratchDirectory? = nil, journal: String? = nil) throws {
        let dir = scratch ?? ScratchDirectory(label)
        self.scratch = dir
        self.journal = journal ?? dir.file("journal")
        // Unix socket paths are short: keep the socket in /tmp directly.
        socket = "/tmp/rs-\(UUID().uuidString.prefix(8)).sock"
        child = try Child(["serve", "--journal", self.journal, "--socket", socket, "--log-level", "notice"] + extra)
        let up = eventually(timeout: 30) { Self.accepts(self.socket) || !self.child.process.isRunning }
        guard up, child.process.isRunning else {
            let o = child.killAndReap()
            throw ServerTestError("the server did not start: \(o)")
        }
    }

    deinit {
        if outcome == nil { _ = child.killAndReap() }
        unlink(socket)
    }

    /// SIGTERM, then waits for the exit.
    @discardableResult
    func stop(timeout: Double = 30) -> Outcome {
        if let outcome { return outcome }
        child.signal(SIGTERM)
        let o = child.wait(timeout: timeout)
        outcome = o
        return o
    }

    /// SIGKILL, as a crash would: the socket file stays behind.
    func crash() {
        guard outcome == nil else { return }
        outcome = child.killAndReap()
    }

    func client() throws -> TestHTTPClient { try TestHTTPClient(path: socket) }

    /// A connection to the server's TCP listener (`--tcp-port`) on 127.0.0.1.
    func tcpClient(_ port: Int) throws -> TestHTTPClient { try TestHTTPClient(tcpPort: port) }

    /// One request on a fresh connection.
    func request(_ method: String, _ target: String, json: String? = nil, headers: [String] = []) throws -> TestHTTPClient.Response {
        try client().send(method, target, body: json.map { Array($0.utf8) }, headers: json == nil ? headers : ["Content-Type: application/json"] + headers)
    }

    static func accepts(_ path: String) -> Bool {
        guard let c = try? TestHTTPClient(path: path) else { return false }
        _ = c
        return true
    }
}

/// A port on 127.0.0.1 that nothing listens on (the kernel's pick), for a server's `--tcp-port`.
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ServerTestError("socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw ServerTestError("bind 127.0.0.1:0: \(String(cString: strerror(errno)))") }
    return Int(UInt16(bigEndian: address.sin_port))
}

struct ServerTestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A blocking HTTP/1.1 client on a Unix socket (or loopback TCP) that sends exactly the bytes it
/// is given, so tests can also send what no well-behaved client would.
final class TestHTTPClient: @unchecked Sendable {
    struct Response: CustomStringConvertible {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: [String: Any] { jsonObject(body) ?? [:] }
        var description: String { "HTTP \(status) \(text.prefix(600))" }
    }

    private(set) var fd: Int32
    private var buffer: [UInt8] = []

    init(path: String, receiveTimeout: Double = 20) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let r = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard r == 0 else {
            let e = errno
            // deinit runs for a fully initialised object whose init throws: closing here and
            // there closed the number twice, and the second time it could be another test's pipe
            // (a child's output drain then died on EBADF).
            Glibc.close(fd)
            fd = -1
            throw ServerTestError("connect \(path): \(String(cString: strerror(e)))")
        }
        setReceiveTimeout(receiveTimeout)
    }

    /// A connection to 127.0.0.1:`tcpPort`.
    init(tcpPort: Int, receiveTimeout: Double = 20) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(tcpPort).bigEndian
        let r = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard r == 0 else {
            let e = errno
            Glibc.close(fd)  // and not again in deinit (see the Unix socket's init)
            fd = -1
            throw ServerTestError("connect 127.0.0.1:\(tcpPort): \(String(cString: strerror(e)))")
        }
        setReceiveTimeout(receiveTimeout)
    }

    private func setReceiveTimeout(_ seconds: Double) {
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// Closes the connection now; the deinit then leaves the number alone.
    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    func sendRaw(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw ServerTestError("send failed: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    func send(_ method: String, _ target: String, body: [UInt8]? = nil, headers: [String] = []) throws -> Response {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\n"
        for h in headers { head += h + "\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        try sendRaw(Array(head.utf8) + (body ?? []))
        return try readResponse()
    }

    func postJSON(_ target: String, _ json: String) throws -> Response {
        try send("POST", target, body: Array(json.utf8), headers: ["Content-Type: application/json"])
    }

    /// Reads more bytes; false at end of stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
        if n < 0 { throw ServerTestError("receive failed: \(String(cString: strerror(errno)))") }
        if n == 0 { return false }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    func readLine() throws -> String? {
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                var line = Array(buffer[..<nl])
                buffer.removeFirst(nl + 1)
                if line.last == 0x0D { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard try fill() else { return nil }
        }
    }

    private func readBytes(_ count: Int) throws -> [UInt8] {
        while buffer.count < count { guard try fill() else { throw ServerTestError("connection closed mid-body") } }
        let out = Array(buffer[..<count])
        buffer.removeFirst(count)
        return out
    }

    func readHead() throws -> (status: Int, headers: [String: String]) {
        guard let statusLine = try readLine() else { throw ServerTestError("connection closed before a response") }
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw ServerTestError("bad status line \(statusLine)") }
        var headers: [String: String] = [:]
        while let line = try readLine(), !line.isEmpty {
            if let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return (status, headers)
    }

    func readResponse() throws -> Response {
        let (status, headers) = try readHead()
        if let length = headers["content-length"].flatMap(Int.init) {
            return Response(status: status, headers: headers, body: try readBytes(length))
        }
        var body: [UInt8] = []
        while let chunk = try readChunk() { body += chunk }
        return Response(status: status, headers: headers, body: body)
    }

    /// The next chunk of a chunked body, or nil after the last.
    func readChunk() throws -> [UInt8]? {
        guard let sizeLine = try readLine(), let size = Int(sizeLine, radix: 16) else { throw ServerTestError("bad chunk size") }
        if size == 0 { _ = try readLine(); return nil }
        let data = try readBytes(size)
        _ = try readLine()
        return data
    }

    /// True when the server closes the connection (end of stream, or a reset) before the receive
    /// timeout; false when a byte comes instead or the timeout passes with the connection open,
    /// so a server that never closes it fails the check instead of passing after the timeout.
    func isClosedByServer() -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, 0)
        if n == 0 { return true }
        if n < 0 { return errno == ECONNRESET || errno == EPIPE }
        return false
    }
}

/// Valid domain payloads, with times near the server's clock so the business clock accepts them.
enum Fixture {
    static func hash(_ seed: Int) -> String {
        var out = ""
        var x = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15 &+ 12345
        for _ in 0..<4 {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            out += String(format: "%016llx", x)
        }
        return out
    }

    static func iso(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }

    static var now: String { iso(Date(timeIntervalSince1970: (Date().timeIntervalSince1970).rounded(.down))) }

    /// A slot starting tomorrow at a whole hour.
    static func slotPublished(_ slotId: String, site: String = "grenoble", capacity: Int = 1, motif: String = "filing", category: String = "student") -> String {
        let start = iso(Date(timeIntervalSince1970: ((Date().timeIntervalSince1970 / 3600).rounded(.down) + 48) * 3600))
        return #"{"schemaVersion":1,"slotId":"\#(slotId)","site":"\#(site)","motif":"\#(motif)","category":"\#(category)","start":"\#(start)","durationMinutes":15,"counter":"guichet 3","capacity":\#(capacity),"releaseId":"\#(UUID().uuidString.lowercased())","occurredAt":"\#(now)"}"#
    }

    static func publishBody(_ slotId: String, site: String = "grenoble", capacity: Int = 1) -> String {
        #"{"events":[{"stream":"slot-\#(site)-\#(slotId)","type":"SlotPublished","data":\#(slotPublished(slotId, site: site, capacity: capacity))}],"expectedVersions":{"slot-\#(site)-\#(slotId)":"noStream"}}"#
    }

    static func bookCommand(_ slotId: String, identity: String, fingerprint: String, site: String = "grenoble", appointmentId: String? = nil) -> String {
        #"{"site":"\#(site)","slotId":"\#(slotId)","identityKey":"\#(identity)","fingerprint":"\#(fingerprint)"\#(appointmentId.map { #","appointmentId":"\#($0)""# } ?? "")}"#
    }

    static func newID() -> String { UUID().uuidString.lowercased() }
}

/// A value shared by concurrent test clients, behind a lock.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) { stored = value }

    func withLock<R>(_ body: (inout Value) -> R) -> R { lock.withLock { body(&stored) } }
    var value: Value { lock.withLock { stored } }
}
