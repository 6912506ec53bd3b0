import Foundation
import Journal
import Testing

/// `registre simulate --socket`: the same history written through a real server, one decision per
/// request, as a live service would write it.
@Suite(.serialized) struct SimulateThroughSocketTests {
    static let history = ["--seed", "11", "--scale", "0.01"]

    @Test func aHistoryWrittenThroughTheServerHoldsTheSameEventsAsOneWrittenDirectly() throws {
        let scratch = ScratchDirectory("simulate-socket")
        let keys = scratch.file("writer")
        #expect(try registre(["keygen", "--out", keys]).exited(0))
        let server = try RunningServer("simulate-socket", extra: ["--business-clock-skew", "unlimited", "--signing-key", keys + ".key"], scratch: scratch)
        let throughServer = try registre(["simulate", "--journal", server.journal, "--socket", server.socket] + Self.history, timeout: 300)
        #expect(throughServer.exited(0), "\(throughServer)")
        #expect(server.stop().exited(0))

        let direct = scratch.file("direct")
        let written = try registre(["simulate", "--journal", direct] + Self.history, timeout: 300)
        #expect(written.exited(0), "\(written)")

        let served = try allEvents(server.journal), bulk = try allEvents(direct)
        #expect(served.count > 1_000)
        #expect(served.count == bulk.count)
        for (a, b) in zip(served, bulk) where a.id != b.id || a.stream != b.stream || a.version != b.version || a.type != b.type || a.data != b.data {
            Issue.record("position \(a.position) differs: \(a.stream)@\(a.version) \(a.type) vs \(b.stream)@\(b.version) \(b.type)")
            break
        }
        // The server checked every rule again on the way in; the audit checks them once more.
        let audit = try registre(["audit", "--journal", server.journal, "--public-key", keys + ".pub"], timeout: 300)
        #expect(audit.exited(0), "\(audit)")
    }

    @Test func aServerKeepingTheDefaultClockSkewRefusesAPastHistoryAndSaysWhichFlagAllowsIt() throws {
        let server = try RunningServer("simulate-socket-refused")
        defer { server.stop() }
        let outcome = try registre(["simulate", "--journal", server.journal, "--socket", server.socket] + Self.history, timeout: 120)
        #expect(!outcome.exited(0))
        #expect(outcome.err.contains("--business-clock-skew unlimited"), "\(outcome)")
        #expect(try allEvents(server.journal).isEmpty)
    }

    @Test func aMalformedClockSkewIsRefusedBeforeTheServerStarts() throws {
        let scratch = ScratchDirectory("skew-flag")
        for bad in ["0", "-5", "soon", "nan"] {
            let outcome = try registre(["serve", "--journal", scratch.file("j"), "--socket", "/tmp/rs-skew-\(bad).sock", "--business-clock-skew", bad])
            #expect(outcome.exited(64), "\(bad): \(outcome)")
            #expect(outcome.err.contains("--business-clock-skew"), "\(bad): \(outcome)")
        }
    }
}
