import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// TCP peers (any user on the host, with no credentials) have a connection limit of their own,
/// counted apart from the Unix socket's: however many TCP connections are open, the services on
/// the socket keep their places.
@Suite(.serialized) struct ServerTCPLimitTests {
    /// A connection that `/health` answered on. One that has just closed (the start-up probe)
    /// holds its place until the server has seen it go, and the TCP listener is bound a moment
    /// after the socket the start-up waits for, so each admission is retried a moment.
    static func admitted(_ connect: () throws -> TestHTTPClient) -> TestHTTPClient? {
        for _ in 0..<100 {
            if let c = try? connect(), let r = try? c.send("GET", "/health"), r.status == 200 { return c }
            usleep(20_000)
        }
        return nil
    }

    static func append(_ c: TestHTTPClient, _ k: Int) throws -> Int {
        try c.postJSON("/append", #"{"events":[{"stream":"ops-tcp-limit","type":"T","data":{"k":\#(k)}}]}"#).status
    }

    @Test func tcpConnectionsPastTheirOwnLimitAreRefusedWhileTheUnixSocketStillServes() throws {
        let port = try freeLoopbackPort()
        let server = try RunningServer("tcp-limit", extra: ["--tcp-port", String(port), "--max-connections", "3", "--max-tcp-connections", "2"])
        defer { server.stop() }
        let tcp = (0..<2).compactMap { _ in Self.admitted { try server.tcpClient(port) } }
        #expect(tcp.count == 2, "TCP connections up to their limit are served")
        let refused = try server.tcpClient(port)
        let answer = try refused.readResponse()
        #expect(answer.status == 503, "\(answer)")
        #expect(answer.text.contains("tooManyConnections") && answer.text.contains("limit of 2 TCP connections"), "\(answer)")
        #expect(refused.isClosedByServer())

        // Every TCP place taken: the socket's services still get all three of theirs, and are served.
        let unix = (0..<3).compactMap { _ in Self.admitted { try server.client() } }
        #expect(unix.count == 3, "the TCP connections took the Unix socket's places")
        for (k, c) in unix.enumerated() { #expect(try Self.append(c, k) == 200, "an authorized service is served") }
        let fourth = try server.client().readResponse()
        #expect(fourth.status == 503 && fourth.text.contains("limit of 3 connections"), "\(fourth)")

        for c in tcp { #expect(try c.send("GET", "/health").status == 200, "a held TCP connection keeps working") }
        tcp[0].close()
        #expect(Self.admitted { try server.tcpClient(port) } != nil, "a TCP place is freed when its connection closes")
    }

    @Test func tcpConnectionsDoNotCountAgainstTheUnixSocketsLimit() throws {
        let port = try freeLoopbackPort()
        // The TCP limit left at its default (64): only the socket's is set, below what TCP opens.
        let server = try RunningServer("tcp-apart", extra: ["--tcp-port", String(port), "--max-connections", "2"])
        defer { server.stop() }
        let tcp = (0..<5).compactMap { _ in Self.admitted { try server.tcpClient(port) } }
        #expect(tcp.count == 5, "TCP connections were counted against --max-connections")
        let unix = (0..<2).compactMap { _ in Self.admitted { try server.client() } }
        #expect(unix.count == 2, "the TCP connections took the Unix socket's places")
        for (k, c) in unix.enumerated() { #expect(try Self.append(c, k) == 200) }
        // The socket's limit still holds, counting the socket's connections only.
        let third = try server.client().readResponse()
        #expect(third.status == 503 && third.text.contains("limit of 2 connections"), "\(third)")
        for c in tcp { #expect(try c.send("GET", "/health").status == 200) }
    }

    /// Shutdown closes the TCP connections as it does the socket's (idle ones at once), so it
    /// does not wait for their idle timeout.
    @Test func aShutdownClosesTheTCPConnectionsAndCompletes() throws {
        let port = try freeLoopbackPort()
        let server = try RunningServer("tcp-drain", extra: ["--tcp-port", String(port), "--max-tcp-connections", "2", "--idle-timeout", "60"])
        let idle = try #require(Self.admitted { try server.tcpClient(port) })
        let halfHead = try server.tcpClient(port)
        try halfHead.sendRaw(Array("GET /health HTTP/1.1\r\nHost: x\r\n".utf8))
        let unix = try #require(Self.admitted { try server.client() })
        let refused = try server.tcpClient(port).readResponse()
        #expect(refused.status == 503, "both TCP places were held: \(refused)")
        let started = ContinuousClock.now
        let outcome = server.stop(timeout: 30)
        #expect(outcome.exited(0), "\(outcome)")
        #expect(ContinuousClock.now - started < .seconds(15), "the shutdown waited for the TCP connections' idle timeout")
        for c in [idle, halfHead, unix] { #expect(c.isClosedByServer()) }
    }

    @Test(arguments: ["0", "1000001"])
    func aTCPConnectionLimitOutsideItsRangeIsRefusedAtStart(limit: String) throws {
        let result = try registre(["serve", "--journal", NSTemporaryDirectory() + "unused-\(UUID())", "--socket", "/tmp/x.sock", "--max-tcp-connections", limit])
        #expect(!result.exited(0), "\(result)")
        #expect(result.err.contains("--max-tcp-connections must be from 1 to 1000000, not \(limit)"), "\(result)")
    }
}
