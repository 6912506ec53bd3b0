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

    /// A bulk append of a hundred events (about 35 KB), as head and body bytes.
    private static func bulkAppend(stream: String) -> (head: [UInt8], body: [UInt8]) {
        let events = (0..<100).map { k in
            #"{"stream":"\#(stream)-\#(k % 7)","type":"Loaded","data":{"k":\#(k),"padding":"\#(String(repeating: "p", count: 300))"}}"#
        }
        let body = Array(#"{"events":[\#(events.joined(separator: ","))]}"#.utf8)
        let head = Array("POST /append HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
        return (head, body)
    }

    /// Resident memory of a process, in bytes (Linux).
    private static func residentBytes(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    /// A client that sends requests and never reads the answers: once its answers pass the write
    /// high-water mark the server stops reading from it, so the client's sends block instead of
    /// the server buffering answers without end.
    @Test func aClientThatNeverReadsIsNotAnsweredIntoUnboundedMemory() throws {
        let server = try RunningServer("unread")
        defer { server.stop() }
        let before = Self.residentBytes(server.child.pid)
        let flood = try server.client()
        var small: Int32 = 4096
        setsockopt(flood.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(flood.fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let chunk = Array(String(repeating: "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", count: 4096).utf8)
        var sent = 0, blocked = false
        let started = Date()
        while sent < 200 << 20, Date().timeIntervalSince(started) < 15 {
            let n = chunk.withUnsafeBytes { Glibc.send(flood.fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 {  // the send timed out: the server stopped reading
                blocked = true
                break
            }
            sent += n
        }
        #expect(blocked, "the server went on reading (\(sent >> 20) MiB of requests whose answers nobody read)")
        #expect(sent < 64 << 20, "the server went on reading \(sent) bytes of requests whose answers nobody read")
        let grown = Self.residentBytes(server.child.pid) - before
        #expect(grown < 256 << 20, "the server grew by \(grown >> 20) MiB")
        #expect(try server.request("GET", "/health").status == 200, "other clients are served")
    }

    /// A last answer (the connection closes after it) that the client never reads holds its
    /// connection no longer than the idle timeout: it cannot keep every connection slot taken.
    @Test func anUnreadLastAnswerFreesItsConnectionAfterTheIdleTimeout() throws {
        let server = try RunningServer("unread-last", extra: ["--idle-timeout", "1", "--request-timeout", "1", "--max-connections", "3"])
        defer { server.stop() }
        // About 5 MB of events, so that their answer cannot all go into the sockets' buffers.
        let padding = String(repeating: "p", count: 10_000)
        for k in 0..<10 {
            let events = (0..<50).map { i in #"{"stream":"big-\#(k)","type":"Loaded","data":{"i":\#(i),"padding":"\#(padding)"}}"# }
            #expect(try server.request("POST", "/append", json: #"{"events":[\#(events.joined(separator: ","))]}"#).status == 200)
        }
        var holders: [TestHTTPClient] = []
        for _ in 0..<2 {
            let c = try server.client()
            var small: Int32 = 4096
            setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            try c.sendRaw(Array("GET /events?limit=10000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            holders.append(c)
        }
        sleep(3)
        // Two slots were pinned by the unread answers; the third and the fourth connection both
        // get in only if those were closed.
        let third = try server.client(), fourth = try server.client()
        #expect(try third.send("GET", "/health").status == 200)
        #expect(try fourth.send("GET", "/health").status == 200, "the unread answers still hold their connections")
        withExtendedLifetime(holders) {}
    }

    /// Reads stop at about 16 MiB of answer whatever the limit asked, and say where to go on:
    /// events may be 1 MiB each, and a limit of 10,000 would be built whole in memory.
    @Test func readsStopAtTheirByteBudgetAndSayWhereToGoOn() throws {
        let server = try RunningServer("read-budget")
        defer { server.stop() }
        let padding = String(repeating: "p", count: 900_000)
        for k in 0..<2 {
            let events = (0..<15).map { i in #"{"stream":"big","type":"Loaded","data":{"i":\#(k * 15 + i),"padding":"\#(padding)"}}"# }
            let appended = try server.request("POST", "/append", json: #"{"events":[\#(events.joined(separator: ","))]}"#)
            #expect(appended.status == 200, "\(appended.text.prefix(200))")
        }
        for target in ["/events?limit=10000", "/streams/big?limit=10000"] {
            let answer = try server.request("GET", target)
            #expect(answer.status == 200)
            #expect(answer.body.count < (16 << 20) + (1 << 20), "\(target): \(answer.body.count) bytes")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])
            let events = object["events"] as? [Any] ?? []
            #expect(events.count > 0 && events.count < 30, "\(target): \(events.count) events")
            #expect(object["nextFrom"] as? Int == events.count, "\(target): nextFrom \(object["nextFrom"] ?? "nil") after \(events.count) events")
        }
    }

    /// A client that asks to be told before it sends its body (`Expect: 100-continue`, as curl
    /// does past 1 KiB) hears `100 Continue` at once, then the final answer.
    @Test func aClientExpectingContinueIsToldToSendItsBody() throws {
        let server = try RunningServer("continue")
        defer { server.stop() }
        let events = (0..<20).map { #"{"stream":"s","type":"T","data":{"i":\#($0),"padding":"\#(String(repeating: "p", count: 100))"}}"# }
        let body = Array(#"{"events":[\#(events.joined(separator: ","))]}"#.utf8)
        let client = try TestHTTPClient(path: server.socket, receiveTimeout: 0.5)
        try client.sendRaw(Array("POST /append HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nExpect: 100-continue\r\n\r\n".utf8))
        let interim = try client.readHead()
        #expect(interim.status == 100, "\(interim)")
        try client.sendRaw(body)
        #expect(try client.readResponse().status == 200)
    }

    /// A large body that comes in pieces is under the request timeout from its head on, not the
    /// idle timeout of the connection: a bulk append whose body takes longer than the idle timeout
    /// to arrive is answered.
    @Test func aLargeBodyArrivingSlowerThanTheIdleTimeoutIsServedWithinTheRequestTimeout() throws {
        let server = try RunningServer("slow-large-body", extra: ["--idle-timeout", "0.4", "--request-timeout", "10"])
        defer { server.stop() }
        let (head, body) = Self.bulkAppend(stream: "bulk")
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

    /// The same, when the large body's head came while an earlier append of the same connection
    /// was being committed: it is timed from when that one is answered, by the request timeout.
    @Test func aLargeBodySentBehindAnAppendInFlightIsServedWithinTheRequestTimeout() throws {
        let server = try RunningServer("pipelined-large-body", extra: ["--idle-timeout", "0.4", "--request-timeout", "10"])
        defer { server.stop() }
        let first = Array(#"{"events":[{"stream":"first-1","type":"Loaded","data":{"k":0}}]}"#.utf8)
        let firstRequest = Array("POST /append HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(first.count)\r\n\r\n".utf8) + first
        let (head, body) = Self.bulkAppend(stream: "bulk")
        let client = try TestHTTPClient(path: server.socket, receiveTimeout: 10)
        try client.sendRaw(firstRequest + head + body[0..<1000])
        usleep(600_000)
        try client.sendRaw(Array(body[1000...]))
        let answers = [try client.readResponse(), try client.readResponse()]
        #expect(answers.map(\.status) == [200, 200], "\(answers.map(\.text))")
        #expect(answers[1].text.contains(#""lastPosition":100"#))
    }

    /// A shutdown that begins while an admitted body is on its way waits for it and answers it,
    /// as it does for a request NIO's decoder reads; the append is in the journal afterwards.
    @Test func aShutdownDuringALargeBodyAnswersItAndKeepsTheAppend() throws {
        let server = try RunningServer("drain-large-body", extra: ["--idle-timeout", "0.4", "--request-timeout", "10"])
        let (head, body) = Self.bulkAppend(stream: "drained")
        let client = try TestHTTPClient(path: server.socket, receiveTimeout: 10)
        try client.sendRaw(head + body[0..<1000])
        usleep(200_000)
        server.child.signal(SIGTERM)
        usleep(300_000)
        try client.sendRaw(Array(body[1000...]))
        let response = try client.readResponse()
        #expect(response.status == 200, "\(response.text)")
        #expect(server.stop().status == 0)
        #expect(try allEvents(server.journal).count == 100, "the acknowledged append is in the journal")
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

    @Test(arguments: ["1023", "1073741825", "8589934592"])
    func aBodyLimitOutsideItsRangeIsRefusedAtStart(limit: String) throws {
        let result = try registre(["serve", "--journal", NSTemporaryDirectory() + "unused-\(UUID())", "--socket", "/tmp/x.sock", "--max-body-bytes", limit])
        #expect(!result.exited(0), "\(result)")
        #expect(result.err.contains("--max-body-bytes must be from 1024 to 1073741824"), "\(result)")
    }
}
