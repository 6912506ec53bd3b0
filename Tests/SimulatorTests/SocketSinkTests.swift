import Foundation
import Testing
import Domain
import Simulator
#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP/1.1 server on a temporary Unix socket: it accepts one connection and answers each
/// request with the next canned response, recording what it received.
final class FakeAppendServer: @unchecked Sendable {
    struct Received {
        var requestLine: String
        var headers: [String: String]
        var body: [UInt8]
    }

    let path: String
    private let listener: Int32
    private let responses: [(status: Int, body: String)]
    private let lock = NSLock()
    private var _received: [Received] = []
    private let done = DispatchSemaphore(value: 0)
    /// Set by the first `stop()`: a second one must not close the listener's number again, by
    /// then perhaps another test's file (this once failed two checkpoint tests with EBADF).
    private var stopped = false

    var received: [Received] { lock.withLock { _received } }

    init(responses: [(status: Int, body: String)]) throws {
        self.responses = responses
        path = NSTemporaryDirectory() + "registre-sim-\(UUID().uuidString.prefix(8)).sock"
        unlink(path)
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listener, 1) == 0 else {
            close(listener)
            unlink(path)
            throw POSIXError(.EADDRINUSE)
        }
        Thread { self.serve() }.start()
    }

    /// Waits for the connection to end, then removes the socket. Only the first call acts.
    func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        if done.wait(timeout: .now() + 10) == .timedOut {
            // Nobody connected: wake the accept before the number is closed under it.
            shutdown(listener, Int32(SHUT_RDWR))
            _ = done.wait(timeout: .now() + 10)
        }
        close(listener)
        unlink(path)
    }

    private func serve() {
        defer { done.signal() }
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { return }
        defer { close(connection) }
        var buffer: [UInt8] = []
        for response in responses {
            guard let request = readRequest(connection, &buffer) else { return }
            lock.withLock { _received.append(request) }
            let reason = response.status == 200 ? "OK" : "Refused"
            let body = Array(response.body.utf8)
            let head = "HTTP/1.1 \(response.status) \(reason)\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
            let bytes = Array(head.utf8) + body
            _ = bytes.withUnsafeBytes { send(connection, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
        }
    }

    private func readRequest(_ fd: Int32, _ buffer: inout [UInt8]) -> Received? {
        func headEnd() -> Int? {
            guard buffer.count >= 4 else { return nil }
            for i in 0...(buffer.count - 4) where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 { return i }
            return nil
        }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        func fill() -> Bool {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            guard n > 0 else { return false }
            buffer += chunk[0..<n]
            return true
        }
        while headEnd() == nil { guard fill() else { return nil } }
        let end = headEnd()!
        var lines = String(decoding: buffer[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst()
        var headers: [String: String] = [:]
        for line in lines {
            let parts = line.split(separator: ":", maxSplits: 1)
            headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while buffer.count < end + 4 + length { guard fill() else { return nil } }
        let body = Array(buffer[(end + 4)..<(end + 4 + length)])
        buffer.removeFirst(end + 4 + length)
        return Received(requestLine: requestLine, headers: headers, body: body)
    }
}

@Suite struct SocketSinkTests {
    private func sampleAppends(_ count: Int) throws -> [SimulatedAppend] {
        Array(Simulator.events(profile: .isere2024(scale: 0.01, years: 1, seed: 3)).prefix(count))
    }

    @Test func eachDecisionIsOnePostOverOneKeptAliveConnection() throws {
        let server = try FakeAppendServer(responses: [
            (200, #"{"firstPosition":0,"lastPosition":0,"versions":{}}"#),
            (200, #"{"firstPosition":1,"lastPosition":2,"versions":{}}"#),
        ])
        defer { server.stop() }
        let appends = try sampleAppends(2)
        let sink = SocketSink(socketPath: server.path)
        try sink.write(appends)
        try sink.finish()
        server.stop()

        let received = server.received
        #expect(received.count == 2)
        #expect(sink.requestsSent == 2)
        for (request, append) in zip(received, appends) {
            #expect(request.requestLine == "POST /append HTTP/1.1")
            #expect(request.headers["content-length"] == String(request.body.count))
            let json = try #require(try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])
            let events = try #require(json["events"] as? [[String: Any]])
            #expect(events.count == append.events.count)
            #expect(events.first?["stream"] as? String == append.events[0].stream)
            #expect(events.first?["type"] as? String == append.events[0].type)
            #expect(events.first?["id"] as? String == append.events[0].id.uuidString.lowercased())
            let data = try #require(events.first?["data"] as? [String: Any])
            #expect(data["schemaVersion"] as? Int == 1)
            let expected = try #require(json["expectedVersions"] as? [String: Any])
            #expect(expected[append.events[0].stream] as? String == "noStream")
        }
    }

    @Test func aVersionConflictStopsTheSimulationWithTheServersAnswer() throws {
        let server = try FakeAppendServer(responses: [
            (409, #"{"error":"versionConflict","stream":"slot-grenoble-x"}"#),
        ])
        defer { server.stop() }
        let sink = SocketSink(socketPath: server.path)
        #expect {
            try sink.write(try sampleAppends(1))
        } throws: { error in
            "\(error)".contains("version conflict") && "\(error)".contains("versionConflict")
        }
    }

    @Test func aServerRefusingPastBusinessTimesIsExplained() throws {
        let server = try FakeAppendServer(responses: [
            (422, #"{"error":"ruleViolated","rule":"clock.businessTimeTooFar","eventIndex":0}"#),
        ])
        defer { server.stop() }
        let sink = SocketSink(socketPath: server.path)
        #expect {
            try sink.write(try sampleAppends(1))
        } throws: { error in
            "\(error)".contains("--business-clock-skew unlimited")
        }
    }

    @Test func aMissingSocketIsAClearError() throws {
        let sink = SocketSink(socketPath: "/nonexistent/registre.sock")
        #expect {
            try sink.write(try sampleAppends(1))
        } throws: { error in
            "\(error)".contains("/nonexistent/registre.sock")
        }
    }
}
