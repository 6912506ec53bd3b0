import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One benchmark client: a connection of its own on which it sends a request, waits for the
/// whole answer, and only then sends the next (never more than one request in flight).
protocol BenchConversation: AnyObject {
    /// The next complete request to send, or nil when this client is done.
    func next() -> [UInt8]?
    /// The answer to the request last sent: its status, and nanoseconds since it was sent.
    func answered(status: Int, nanoseconds: UInt64)
}

/// Drives many benchmark clients (`BenchConversation`s, one connection each) from one thread
/// with `poll`, as a lean C load generator does.
///
/// Why not one blocking thread per client: the 16 clients share the machine's two cores with
/// the server, and a thread blocked in `read` on a Unix socket is woken twice per request (once
/// by the server's answer, and once, for nothing, when the server reads the request and frees
/// its buffer: `unix_write_space` wakes every sleeper on the socket). Those wake-ups and context
/// switches cost the clients and the server CPU that the server under test should have. Here
/// the clients wait in one `poll`, whose wake-ups are filtered to the events asked for
/// (readable), and which returns the answers of every client that has one.
///
/// Each client still has its own connection and exactly one request in flight, so the server
/// sees what 16 independent services would send; latency is measured per request from the
/// moment its bytes were written.
enum BenchMultiplexer {
    struct Failure: Error, CustomStringConvertible { var description: String }

    /// The bytes of `POST target` with a JSON body.
    static func post(_ target: String, json body: [UInt8]) -> [UInt8] {
        Array("POST \(target) HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
    }

    /// Runs `conversations` on the calling thread until every one of them is done (or its
    /// connection fails, which ends that client and is reported as a thrown error at the end).
    static func run(path: String, _ conversations: [any BenchConversation]) throws {
        let connections = try conversations.map { try Connection(path: path, conversation: $0) }
        defer { for c in connections { close(c.fd) } }
        var polled = connections.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        var active = 0
        var firstFailure: (any Error)?
        /// A client that is done or failed is left out of the next polls (a negative fd).
        func retire(_ k: Int) {
            active -= 1
            polled[k].fd = -1
        }
        for (k, c) in connections.enumerated() {
            active += 1
            do {
                if try !c.sendNext() { retire(k) }
            } catch {
                firstFailure = firstFailure ?? error
                retire(k)
            }
            polled[k].events = Int16(POLLIN) | (c.isWriting ? Int16(POLLOUT) : 0)
        }
        while active > 0 {
            let ready = polled.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), -1) }
            if ready < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "poll failed: \(String(cString: strerror(errno)))")
            }
            for k in polled.indices where polled[k].fd >= 0 && polled[k].revents != 0 {
                let c = connections[k]
                do {
                    if try !c.ready() {
                        retire(k)
                        continue
                    }
                } catch {
                    firstFailure = firstFailure ?? error
                    retire(k)
                    continue
                }
                polled[k].events = Int16(POLLIN) | (c.isWriting ? Int16(POLLOUT) : 0)
            }
        }
        if let firstFailure { throw firstFailure }
    }

    /// One client's connection: the request being written, and the answer being read.
    private final class Connection {
        let fd: Int32
        let conversation: any BenchConversation
        private var request: [UInt8] = []
        private var written = 0
        private var sentAt: UInt64 = 0
        private var reader = AnswerReader()

        init(path: String, conversation: any BenchConversation) throws {
            self.conversation = conversation
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
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
            // Non-blocking once connected: a write that does not fit waits for POLLOUT.
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }

        /// Starts the conversation's next request; false when it has none.
        func sendNext() throws -> Bool {
            guard let next = conversation.next() else { return false }
            request = next
            written = 0
            sentAt = DispatchTime.now().uptimeNanoseconds
            try writeSome()
            return true
        }

        /// Writes what the socket takes; true when the whole request is out.
        @discardableResult
        private func writeSome() throws -> Bool {
            while written < request.count {
                let n = request.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
                if n < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN || errno == EWOULDBLOCK { return false }
                    throw Failure(description: "write failed: \(String(cString: strerror(errno)))")
                }
                written += n
            }
            return true
        }

        /// Part of the request is still to be written (the socket's buffer was full).
        var isWriting: Bool { written < request.count }

        /// Handles readiness: writes the rest of the request, reads what came back, and sends
        /// the next request once an answer is complete; false once the conversation is done.
        func ready() throws -> Bool {
            if isWriting {
                try writeSome()
                if isWriting { return true }
            }
            guard try reader.fill(fd) else { return true }
            while let status = try reader.answer() {
                conversation.answered(status: status, nanoseconds: DispatchTime.now().uptimeNanoseconds - sentAt)
                guard try sendNext() else { return false }
            }
            return true
        }
    }

    /// Reads HTTP/1.1 answers off a non-blocking socket: only the status and the length of each.
    struct AnswerReader {
        private var buffer = [UInt8](repeating: 0, count: 64 << 10)
        private var start = 0
        private var end = 0

        /// Reads what is there; false when nothing was (a spurious wake-up).
        mutating func fill(_ fd: Int32) throws -> Bool {
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
                if n < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN || errno == EWOULDBLOCK { return false }
                    throw Failure(description: "read failed: \(String(cString: strerror(errno)))")
                }
                if n == 0 { throw Failure(description: "the server closed the connection") }
                end += n
                return true
            }
        }

        /// The status of the next complete answer in the buffer (consumed), or nil if it is not all there.
        mutating func answer() throws -> Int? {
            guard let headEnd = blankLine() else { return nil }
            let (status, length) = try head(upTo: headEnd)
            guard end - (headEnd + 4) >= length else { return nil }
            start = headEnd + 4 + length
            return status
        }

        private func blankLine() -> Int? {
            guard end - start >= 4 else { return nil }
            var i = start
            while i + 3 < end {
                if buffer[i] == 0x0D, buffer[i + 1] == 0x0A, buffer[i + 2] == 0x0D, buffer[i + 3] == 0x0A { return i }
                i += 1
            }
            return nil
        }

        /// The status code and Content-Length of the head in `start..<headEnd`.
        private func head(upTo headEnd: Int) throws -> (status: Int, length: Int) {
            // "HTTP/1.1 200 OK"
            guard headEnd - start >= 12 else { throw Failure(description: "malformed status line") }
            var status = 0
            for i in (start + 9)..<(start + 12) { status = status * 10 + Int(buffer[i] &- 0x30) }
            let name: StaticString = "content-length:"
            var length = 0
            var line = start
            while line < headEnd {
                var next = line
                while next < headEnd, buffer[next] != 0x0D { next += 1 }
                if next - line > name.utf8CodeUnitCount {
                    var matches = true
                    for k in 0..<name.utf8CodeUnitCount where buffer[line + k] | 0x20 != name.utf8Start[k] | 0x20 { matches = false; break }
                    if matches {
                        var i = line + name.utf8CodeUnitCount
                        while i < next, buffer[i] == 0x20 { i += 1 }
                        while i < next, buffer[i] >= 0x30, buffer[i] <= 0x39 { length = length * 10 + Int(buffer[i] - 0x30); i += 1 }
                    }
                }
                line = next + 2
            }
            return (status, length)
        }
    }
}
