import Foundation
import NIOCore
import NIOEmbedded
import Testing
@testable import Server

@Suite struct ConnectionTrackerTests {
    @Test func refusalsAreLoggedAtMostOnceASecondWithTheCountSinceTheLastLine() {
        let tracker = ConnectionTracker()
        let start = ContinuousClock.now
        #expect(tracker.noteRefusal(.unix, now: start) == 1)
        for k in 1...3 { #expect(tracker.noteRefusal(.unix, now: start + .milliseconds(100 * k)) == nil) }
        #expect(tracker.noteRefusal(.unix, now: start + .milliseconds(1100)) == 4, "the three held back and this one")
        #expect(tracker.noteRefusal(.unix, now: start + .milliseconds(1200)) == nil)
    }

    /// A TCP client looping on connect must not hide, behind its own lines, that services on the
    /// socket are being refused too.
    @Test func refusalsOfTheTCPListenerDoNotHoldBackTheSocketsLogLine() {
        let tracker = ConnectionTracker()
        let start = ContinuousClock.now
        #expect(tracker.noteRefusal(.tcp, now: start) == 1)
        #expect(tracker.noteRefusal(.tcp, now: start + .milliseconds(100)) == nil)
        #expect(tracker.noteRefusal(.unix, now: start + .milliseconds(200)) == 1, "the socket's refusal is logged at once")
        #expect(tracker.noteRefusal(.tcp, now: start + .milliseconds(1100)) == 2, "the TCP count holds only TCP refusals")
    }

    private static func connected() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    private static func refusal(_ result: Result<ConnectionTracker.Slot, ConnectionTracker.Refusal>) -> ConnectionTracker.Refusal? {
        if case .failure(let refusal) = result { refusal } else { nil }
    }

    @Test func eachListenersConnectionsAreCountedAgainstItsOwnLimitOnly() throws {
        let tracker = ConnectionTracker()
        func register(_ origin: ConnectionTracker.Origin, limit: Int) throws -> Result<ConnectionTracker.Slot, ConnectionTracker.Refusal> {
            tracker.register(try Self.connected(), origin: origin, idleTimeout: .seconds(30), limit: limit)
        }
        let tcp = try (0..<2).map { _ in try register(.tcp, limit: 2).get() }
        #expect(Self.refusal(try register(.tcp, limit: 2)) == .full(limit: 2, origin: .tcp))
        // Every TCP place taken: the socket still has all of its own.
        let unix = try (0..<3).map { _ in try register(.unix, limit: 3).get() }
        #expect(Self.refusal(try register(.unix, limit: 3)) == .full(limit: 3, origin: .unix))
        #expect(tracker.count == 5 && tracker.count(.tcp) == 2 && tracker.count(.unix) == 3)
        // A place given back is its own origin's.
        tracker.remove(tcp[0])
        tracker.remove(tcp[0])
        #expect(tracker.count(.tcp) == 1 && tracker.count(.unix) == 3, "a slot removed twice is counted once")
        #expect(Self.refusal(try register(.unix, limit: 3)) == .full(limit: 3, origin: .unix))
        #expect(Self.refusal(try register(.tcp, limit: 2)) == nil)
        withExtendedLifetime(unix) {}
    }

    /// The drain that shutdown starts covers TCP connections as it does the socket's.
    @Test func aDrainClosesTheIdleConnectionsOfBothListenersAndRefusesNewOnes() async throws {
        let tracker = ConnectionTracker()
        let idleTCP = try Self.connected(), idleUnix = try Self.connected(), busyTCP = try Self.connected()
        let slots = [try tracker.register(idleTCP, origin: .tcp, idleTimeout: .seconds(30), limit: 2).get(),
                     try tracker.register(idleUnix, origin: .unix, idleTimeout: .seconds(30), limit: 2).get(),
                     try tracker.register(busyTCP, origin: .tcp, idleTimeout: .seconds(30), limit: 2).get()]
        tracker.set(slots[2], .responding)
        tracker.drain()
        #expect(!idleTCP.isActive && !idleUnix.isActive, "idle connections are closed at once")
        #expect(busyTCP.isActive, "a connection answering finishes its answer")
        for origin in ConnectionTracker.Origin.allCases {
            #expect(Self.refusal(tracker.register(try Self.connected(), origin: origin, idleTimeout: .seconds(30))) == .draining)
        }
        for slot in slots { tracker.remove(slot) }
        await tracker.waitUntilEmpty()
        #expect(tracker.count == 0 && tracker.count(.tcp) == 0)
    }
}
