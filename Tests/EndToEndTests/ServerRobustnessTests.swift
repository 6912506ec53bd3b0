import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Hostile and broken clients: the server never crashes, never writes partial data, and times
/// out connections that idle or dribble.
@Suite(.serialized) struct ServerRobustnessTests {
    /// Requests no well-behaved client sends, each on its own connection.
    static func hostileRequests(_ k: Int) -> [UInt8] {
        let junk = (0..<64).map { UInt8(truncatingIfNeeded: ($0 &* 131) &+ k &* 7) }
        switch k % 12 {
        case 0: return Array("POST /append HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"events\":[".utf8)
        case 1: return Array("POST /append HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}".utf8)
        case 2: return Array("GET /\(String(repeating: "a", count: 70_000)) HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        case 3: return Array("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "b", count: 60_000))\r\n\r\n".utf8)
        case 4: return Array("POST /append HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n".utf8) + [0xC3, 0x28, 0xFF, 0xFE] + Array(repeating: 0x7B, count: 36)
        case 5: return junk
        case 6: return Array("BREW /coffee HTCPCP/1.0\r\n\r\n".utf8)
        case 7: return Array("DELETE /streams/x HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        case 8: return Array("POST /append HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n".utf8)
        case 9: return Array("POST /append HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".utf8)
        case 10: return Array(#"POST /append HTTP/1.1\#r\#nHost: x\#r\#nContent-Type: application/json\#r\#nContent-Length: 58\#r\#n\#r\#n{"events":[{"stream":"slot-x","type":"T","data":{"a":1}}]}"#.utf8)
        default: return Array("GET /streams/%ZZ%C3?from=-1 HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        }
    }

    @Test func thousandsOfHostileRequestsLeaveTheServerUpAndTheJournalSound() throws {
        let count = Int(ProcessInfo.processInfo.environment["REGISTRE_SOAK_COUNT"] ?? "") ?? 2000
        // Short timeouts: the truncated requests are closed by them, and the test waits for that.
        let server = try RunningServer("hostile", extra: ["--idle-timeout", "0.25", "--request-timeout", "0.25"])
        // A few good appends around the storm, to check nothing partial slipped in between.
        #expect(try server.request("POST", "/append", json: #"{"events":[{"stream":"ops-good","type":"T","data":{"k":0}}]}"#).status == 200)
        let shared = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for k in stride(from: worker, to: count, by: 8) {
                guard let c = try? TestHTTPClient(path: server.socket, receiveTimeout: 5) else { continue }
                let bytes = Self.hostileRequests(k)
                // Some clients send half and vanish (a disconnect in the middle of an append).
                let cut = k % 5 == 0 ? bytes.count / 2 : bytes.count
                try? c.sendRaw(Array(bytes[..<cut]))
                if k % 5 == 0 { continue }
                if (try? c.readHead()) != nil { shared.withLock { $0 += 1 } }
            }
        }
        let answered = shared.value
        #expect(answered > count / 2, "\(answered) of \(count) got an answer")
        let health = try server.request("GET", "/health")
        #expect(health.status == 200, "\(health)")
        #expect(try server.request("POST", "/append", json: #"{"events":[{"stream":"ops-good","type":"T","data":{"k":1}}]}"#).status == 200)
        let outcome = server.stop()
        #expect(outcome.exited(0), "\(outcome)")
        let events = try allEvents(server.journal)
        #expect(events.map(\.stream) == ["ops-good", "ops-good"], "only the good appends are in the journal")
        let verify = try registre(["verify", "--journal", server.journal])
        #expect(verify.exited(0), "\(verify)")
    }

    @Test func idleSilentAndDribblingConnectionsAreClosed() throws {
        let server = try RunningServer("slowloris", extra: ["--idle-timeout", "0.5", "--request-timeout", "0.5"])
        defer { server.stop() }
        let silent = try TestHTTPClient(path: server.socket, receiveTimeout: 5)
        let dribbling = try TestHTTPClient(path: server.socket, receiveTimeout: 5)
        let slowBody = try TestHTTPClient(path: server.socket, receiveTimeout: 5)
        try slowBody.sendRaw(Array("POST /append HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{".utf8))
        let started = Date()
        for byte in Array("GET /health HTTP/1.1\r\nHost: x".utf8).prefix(8) {
            try? dribbling.sendRaw([byte])
            usleep(200_000)
        }
        #expect(silent.isClosedByServer())
        #expect(dribbling.isClosedByServer())
        #expect(slowBody.isClosedByServer())
        #expect(Date().timeIntervalSince(started) < 4)
        // A keep-alive connection is closed after it idles, too.
        let idle = try server.client()
        #expect(try idle.send("GET", "/health").status == 200)
        #expect(idle.isClosedByServer())
        #expect(try server.request("GET", "/health").status == 200)
    }

    /// A large body that comes in pieces is under the request timeout from its head on, not the
    /// idle timeout of the connection: a bulk append whose body takes longer than the idle timeout
    /// to arrive is answered.
    @Test func aLargeBodyArrivingSlowerThanTheIdleTimeoutIsServedWithinTheRequestTimeout() throws {
        let server = try RunningServer("slow-large-body", extra: ["--idle-timeout", "0.4", "--request-timeout", "10"])
        defer { server.stop() }
        let events = (0..<100).map { k in
            #"{"stream":"bulk-\#(k % 7)","type":"Loaded","data":{"k":\#(k),"padding":"\#(String(repeating: "p", count: 300))"}}"#
        }
        let body = Array(#"{"events":[\#(events.joined(separator: ","))]}"#.utf8)
        let head = Array("POST /append HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
        let client = try TestHTTPClient(path: server.socket, receiveTimeout: 10)
        try client.sendRaw(head + body[0..<1000])
        usleep(500_000)
        try client.sendRaw(Array(body[1000..<20_000]))
        usleep(500_000)
        try client.sendRaw(Array(body[20_000...]))
        let response = try client.readResponse()
        #expect(response.status == 200, "\(response.text)")
        #expect(response.text.contains(#""lastPosition":99"#))
    }

    @Test func connectionsPastTheLimitAreAnswered503AndTheHeldOnesStillWork() throws {
        let server = try RunningServer("connlimit", extra: ["--max-connections", "3"])
        defer { server.stop() }
        // A connection that has just closed (the start-up probe, a refused one) holds its place
        // until the server has seen it go, so each admission is retried for a moment.
        func admitted() throws -> TestHTTPClient? {
            for _ in 0..<100 {
                let c = try server.client()
                if let r = try? c.send("GET", "/health"), r.status == 200 { return c }
                usleep(20_000)
            }
            return nil
        }
        let held = try (0..<3).compactMap { _ in try admitted() }
        #expect(held.count == 3)
        let refused = try server.client()
        let answer = try refused.readResponse()
        #expect(answer.status == 503, "\(answer)")
        #expect(answer.text.contains("tooManyConnections"), "\(answer)")
        #expect(refused.isClosedByServer())
        for c in held { #expect(try c.send("GET", "/health").status == 200, "a held connection keeps working") }
        // A connection closed frees its place.
        held[0].close()
        #expect(try admitted() != nil, "a new connection is served once one of the three has closed")
    }

    @Test func aConnectionLimitOutsideItsRangeIsRefusedAtStart() throws {
        let result = try registre(["serve", "--journal", NSTemporaryDirectory() + "unused-\(UUID())", "--socket", "/tmp/x.sock", "--max-connections", "0"])
        #expect(!result.exited(0), "\(result)")
        #expect(result.err.contains("--max-connections"), "\(result)")
    }
}
