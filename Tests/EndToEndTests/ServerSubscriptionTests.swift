import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `GET /subscribe`: catch-up then live NDJSON, heartbeats, resuming, and slow subscribers.
@Suite(.serialized) struct ServerSubscriptionTests {
    private func appendNotes(_ server: RunningServer, _ range: Range<Int>, padding: Int = 0) throws {
        let pad = String(repeating: "x", count: padding)
        for start in stride(from: range.lowerBound, to: range.upperBound, by: 200) {
            let events = (start..<min(start + 200, range.upperBound)).map { #"{"stream":"ops-sub","type":"Note","data":{"k":\#($0),"pad":"\#(pad)"}}"# }
            let r = try server.request("POST", "/append", json: #"{"events":[\#(events.joined(separator: ","))]}"#)
            guard r.status == 200 else { throw ServerTestError("append failed: \(r)") }
        }
    }

    /// Reads NDJSON lines of a subscription until `count` events arrived; returns them and any other lines.
    private func readEvents(_ c: TestHTTPClient, count: Int) throws -> (events: [[String: Any]], others: [[String: Any]]) {
        var events: [[String: Any]] = [], others: [[String: Any]] = []
        var pending: [UInt8] = []
        while events.count < count, let chunk = try c.readChunk() {
            pending += chunk
            while let nl = pending.firstIndex(of: 0x0A) {
                let line = jsonObject(pending[..<nl]) ?? [:]
                pending.removeFirst(nl + 1)
                if line["position"] != nil { events.append(line) } else { others.append(line) }
            }
        }
        return (events, others)
    }

    /// The `registre_subscribers` gauge of `/metrics`.
    func subscriberGauge(_ server: RunningServer) throws -> Double? {
        let text = try server.request("GET", "/metrics").text
        return text.split(separator: "\n").first { $0.hasPrefix("registre_subscribers ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test func catchUpThenLiveThenResumeAfterADisconnect() throws {
        let server = try RunningServer("subscribe", extra: ["--heartbeat", "0.3"])
        defer { server.stop() }
        try appendNotes(server, 0..<50)
        let first = try server.client()
        try first.sendRaw(Array("GET /subscribe?from=10 HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let head = try first.readHead()
        #expect(head.status == 200 && head.headers["content-type"] == "application/x-ndjson")
        let caughtUp = try readEvents(first, count: 40)
        #expect(caughtUp.events.map { $0["position"] as? Int } == Array(10..<50))

        // Live: events appended now arrive on the open subscription.
        try appendNotes(server, 50..<60)
        let live = try readEvents(first, count: 10)
        #expect(live.events.map { $0["position"] as? Int } == Array(50..<60))
        // Nothing happens: a heartbeat line.
        let quiet = Date()
        var heartbeat: [String: Any]?
        var pending: [UInt8] = []
        while heartbeat == nil, Date().timeIntervalSince(quiet) < 5, let chunk = try first.readChunk() {
            pending += chunk
            if let nl = pending.firstIndex(of: 0x0A) { heartbeat = jsonObject(pending[..<nl]) }
        }
        #expect(heartbeat?["heartbeat"] is String && heartbeat?["endPosition"] as? Int == 60, "\(String(describing: heartbeat))")

        // Disconnect, more events, resume from the last position seen: nothing lost, nothing twice.
        let last = live.events.last?["position"] as? Int ?? -1
        #expect(try subscriberGauge(server) == 1)
        first.close()
        var gone = false
        for _ in 0..<100 where !gone {
            gone = try subscriberGauge(server) == 0
            if !gone { usleep(20_000) }
        }
        #expect(gone, "the server still counts the closed subscriber")
        try appendNotes(server, 60..<80)
        let second = try server.client()
        try second.sendRaw(Array("GET /subscribe?from=\(last + 1) HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(try second.readHead().status == 200)
        #expect(try readEvents(second, count: 20).events.map { $0["position"] as? Int } == Array(60..<80))
    }

    /// A shutdown while a subscriber is not reading is noticed at once, not after the stall
    /// timeout: the subscriber is sent `shuttingDown` and given the grace period to read it, so
    /// the server exits after the grace period even though the client never reads again.
    @Test func aShutdownReachesASubscriberThatIsNotReadingBeforeItsStallTimeout() throws {
        let server = try RunningServer("stalled-shutdown", extra: ["--subscriber-stall-timeout", "30", "--subscriber-grace-period", "1"])
        defer { server.stop() }
        let total = 6000
        try appendNotes(server, 0..<total, padding: 300)
        let slow = try server.client()
        var small: Int32 = 4096
        setsockopt(slow.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        try slow.sendRaw(Array("GET /subscribe?from=0 HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        sleep(1)  // not reading, ever: the server's writes stall
        let started = Date()
        let outcome = server.stop(timeout: 60)
        let took = Date().timeIntervalSince(started)
        #expect(!outcome.timedOut && !outcome.signaled && outcome.status == 0, "\(outcome)")
        #expect(took < 10, "the shutdown took \(took) s: it waited for the 30 s stall timeout")
        withExtendedLifetime(slow) {}
    }

    /// A subscriber that leaves while the server shuts down: its task must end before the event
    /// loops do (it used to outlive them, its last write then scheduled on a loop already shut
    /// down: a crash in a debug build, a hang in a release one).
    @Test func aSubscriberLeavingDuringShutdownDoesNotOutliveTheServer() throws {
        for round in 0..<6 {
            let server = try RunningServer("subscriber-leaves-\(round)")
            try appendNotes(server, 0..<3)
            let subscriber = try server.client()
            try subscriber.sendRaw(Array("GET /subscribe?from=0 HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(try subscriber.readHead().status == 200)
            _ = try readEvents(subscriber, count: 3)
            usleep(UInt32(round) * 40_000)
            server.child.signal(SIGTERM)
            usleep(20_000)
            subscriber.close()
            let outcome = server.stop(timeout: 30)
            #expect(!outcome.timedOut && !outcome.signaled && outcome.status == 0, "round \(round): \(outcome)")
            #expect(!outcome.err.contains("Cannot schedule") && !outcome.err.contains("leaking"), "round \(round): \(outcome.err.suffix(600))")
        }
    }

    /// While a server drains (here, waiting for a subscriber that does not read), its socket no
    /// longer answers, so a new server may take the path as stale; the first must then leave the
    /// new socket in place when it exits (it removes only the file it made).
    @Test func aServerStartedWhileAnotherDrainsKeepsItsSocket() throws {
        let first = try RunningServer("draining", extra: ["--subscriber-stall-timeout", "30", "--subscriber-grace-period", "6"])
        try appendNotes(first, 0..<6000, padding: 300)
        let slow = try first.client()
        var small: Int32 = 4096
        setsockopt(slow.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        try slow.sendRaw(Array("GET /subscribe?from=0 HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        sleep(1)
        first.child.signal(SIGTERM)
        #expect(eventually(timeout: 10) { !RunningServer.accepts(first.socket) }, "the first server still accepts while draining")
        let scratch = ScratchDirectory("second")
        let second = try Child(["serve", "--journal", scratch.file("j"), "--socket", first.socket, "--log-level", "error"])
        #expect(eventually(timeout: 30) { RunningServer.accepts(first.socket) }, "the second server did not start")
        let outcome = first.stop(timeout: 60)
        #expect(!outcome.timedOut && outcome.status == 0, "\(outcome)")
        #expect(RunningServer.accepts(first.socket), "the first server removed the second one's socket")
        second.signal(SIGTERM)
        let stopped = second.wait(timeout: 30)
        #expect(stopped.exited(0), "\(stopped)")
        #expect(!FileManager.default.fileExists(atPath: first.socket), "the second server left its socket behind")
        withExtendedLifetime(slow) {}
    }

    /// A subscriber that stops reading fills its socket; the server keeps at most a bounded buffer,
    /// disconnects it with `tooSlow` and the position to resume from, and the resume is exact.
    @Test func aSlowSubscriberIsDisconnectedWithAResumePositionAndLosesNothing() throws {
        let server = try RunningServer("slow", extra: ["--subscriber-stall-timeout", "0.5", "--subscriber-grace-period", "20"])
        defer { server.stop() }
        let total = 6000
        try appendNotes(server, 0..<total, padding: 300)  // about 2.2 MB of NDJSON, far beyond the socket buffers
        let slow = try server.client()
        var small: Int32 = 4096
        setsockopt(slow.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        try slow.sendRaw(Array("GET /subscribe?from=0 HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        sleep(2)  // not reading: the server stalls, then queues the last line
        #expect(try slow.readHead().status == 200)
        var received: [Int] = []
        var final: [String: Any]?
        var pending: [UInt8] = []
        while final == nil, let chunk = try slow.readChunk() {
            pending += chunk
            while let nl = pending.firstIndex(of: 0x0A) {
                let line = jsonObject(pending[..<nl]) ?? [:]
                pending.removeFirst(nl + 1)
                if let p = line["position"] as? Int { received.append(p) } else if line["error"] != nil { final = line }
            }
        }
        let resume = try #require(final?["resumeFrom"] as? Int, "no tooSlow line")
        #expect(final?["error"] as? String == "tooSlow")
        #expect(received == Array(0..<resume))
        #expect(resume < total, "the subscriber should have been cut before the end")

        let again = try server.client()
        try again.sendRaw(Array("GET /subscribe?from=\(resume) HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(try again.readHead().status == 200)
        #expect(try readEvents(again, count: total - resume).events.map { $0["position"] as? Int } == Array(resume..<total))
        let metrics = try server.request("GET", "/metrics").text
        #expect(metrics.contains(#"registre_subscriber_disconnects_total{reason="tooSlow"} 1"#), "\(metrics)")
    }
}
