import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Starting, shutting down, stale and live sockets, and the client commands.
@Suite(.serialized) struct ServerLifecycleTests {
    /// SIGTERM while 16 clients append: every acknowledged append is in the journal afterwards,
    /// the journal verifies, and the socket is gone.
    @Test func shutdownWithAppendsInFlightKeepsEveryAcknowledgedAppend() throws {
        let server = try RunningServer("shutdown")
        let shared = Locked([String]())
        let stop = DispatchSemaphore(value: 0)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.7) {
            server.child.signal(SIGTERM)
            stop.signal()
        }
        DispatchQueue.concurrentPerform(iterations: 16) { client in
            guard let c = try? server.client() else { return }
            for k in 0..<100_000 {
                let id = Fixture.newID()
                guard let r = try? c.postJSON("/append", #"{"events":[{"stream":"ops-\#(client)","type":"T","id":"\#(id)","data":{"k":\#(k)}}]}"#) else { return }
                if r.status == 200 { shared.withLock { $0.append(id) } } else { return }
            }
        }
        stop.wait()
        let acknowledged = shared.value
        let outcome = server.stop()
        #expect(outcome.exited(0), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: server.socket))
        let ids = Set(try allEvents(server.journal).map { $0.id.uuidString.lowercased() })
        #expect(acknowledged.count > 100, "\(acknowledged.count) appends acknowledged before the shutdown")
        #expect(acknowledged.allSatisfy(ids.contains), "an acknowledged append is missing")
        #expect(try registre(["verify", "--journal", server.journal]).exited(0))
    }

    @Test func aStaleSocketIsReplacedAndALiveServerIsNot() throws {
        let first = try RunningServer("stale")
        // A second server on the same socket (another journal) refuses to start.
        let scratch = ScratchDirectory("second")
        let refused = try registre(["serve", "--journal", scratch.file("j"), "--socket", first.socket], timeout: 30)
        #expect(refused.exited(1) && refused.err.contains("already listening"), "\(refused)")
        #expect(try first.request("GET", "/health").status == 200)
        // A crash leaves the socket file behind; the next start replaces it.
        first.crash()
        #expect(FileManager.default.fileExists(atPath: first.socket))
        let child = try Child(["serve", "--journal", scratch.file("j2"), "--socket", first.socket, "--log-level", "error"])
        #expect(eventually(timeout: 30) { RunningServer.accepts(first.socket) })
        child.signal(SIGTERM)
        let stopped = child.wait(timeout: 30)
        #expect(stopped.exited(0), "\(stopped)")
    }

    @Test func clientCommandsAppendReadAndTail() throws {
        let server = try RunningServer("clients")
        defer { server.stop() }
        let appended = try registre(["append", "--socket", server.socket, "--stream", "ops-cli", "--type", "Note", "--data", #"{"n":1}"#, "--expected-version", "noStream"])
        #expect(appended.exited(0) && appended.out.contains(#""firstPosition":0"#), "\(appended)")
        let conflict = try registre(["append", "--socket", server.socket, "--stream", "ops-cli", "--type", "Note", "--data", #"{"n":2}"#, "--expected-version", "noStream"])
        #expect(conflict.exited(1) && conflict.err.contains("409"), "\(conflict)")

        let scratch = ScratchDirectory("cli-file")
        let lines = (2...30).map { #"{"stream":"ops-cli","type":"Note","data":{"n":\#($0)}}"# }.joined(separator: "\n") + "\n"
        try lines.write(toFile: scratch.file("events.ndjson"), atomically: true, encoding: .utf8)
        let fromFile = try registre(["append", "--socket", server.socket, "--file", scratch.file("events.ndjson"), "--batch", "10"])
        #expect(fromFile.exited(0) && completeLines(fromFile.stdout).count == 3, "\(fromFile)")

        let stream = try registre(["read", "--socket", server.socket, "--stream", "ops-cli"])
        #expect(stream.exited(0) && completeLines(stream.stdout).count == 30, "\(stream)")
        let tailOfLog = try registre(["read", "--socket", server.socket, "--from", "25"])
        #expect(completeLines(tailOfLog.stdout).compactMap { jsonObject(Array($0.utf8))?["position"] as? Int } == Array(25..<30))

        let tail = try Child(["tail", "--socket", server.socket, "--from", "28", "--count", "4"])
        _ = try registre(["append", "--socket", server.socket, "--stream", "ops-cli", "--type", "Note", "--data", #"{"n":31}"#])
        _ = try registre(["append", "--socket", server.socket, "--stream", "ops-cli", "--type", "Note", "--data", #"{"n":32}"#])
        let tailed = tail.wait(timeout: 20)
        #expect(tailed.exited(0), "\(tailed)")
        #expect(completeLines(tailed.stdout).compactMap { jsonObject(Array($0.utf8))?["position"] as? Int } == [28, 29, 30, 31])
    }

    /// TCP only when asked, on loopback only, and a TCP peer has no credentials, so no role.
    @Test func aTCPListenerIsLoopbackOnlyAndGrantsNothing() throws {
        let port = 20_000 + Int(getpid() % 20_000)
        let server = try RunningServer("tcp", extra: ["--tcp-port", String(port)])
        defer { server.stop() }
        let health = try shell(#"curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$0/health""#, [String(port)], timeout: 30)
        #expect(health.out == "200", "\(health)")
        let events = try shell(#"curl -s -w ' %{http_code}' "http://127.0.0.1:$0/events""#, [String(port)], timeout: 30)
        #expect(events.out.hasSuffix(" 403") && events.out.contains("TCP peer"), "\(events)")
        let listening = try shell("cat /proc/net/tcp /proc/net/tcp6 2>/dev/null", [], timeout: 30).out
        let hexPort = String(format: "%04X", port)
        let lines = listening.split(separator: "\n").filter { $0.contains(":\(hexPort) ") && $0.contains(" 0A ") }
        #expect(!lines.isEmpty && lines.allSatisfy { $0.contains("0100007F:\(hexPort)") }, "\(lines)")
    }

    @Test func clientCommandsSayClearlyWhenNoServerRuns() throws {
        let nowhere = "/tmp/rs-none-\(UUID().uuidString.prefix(6)).sock"
        for arguments in [["append", "--stream", "s", "--type", "T", "--data", "{}"], ["read"], ["tail"]] {
            let o = try registre(arguments + ["--socket", nowhere])
            #expect(o.exited(3) && o.err.contains("no server is running on \(nowhere)"), "\(arguments): \(o)")
        }
    }
}
