import Domain
import Foundation
import Simulator

/// The demo's live storm: a new release is published through the server, then bots and genuine
/// applicants race for it with `POST /commands/book`, each on its own connection and thread.
struct LiveStorm {
    struct Outcome {
        var perSecond: [StormTally.Second]
        var summary: String
        var tally: StormTally
        /// A slot holds more bookings than places, or an identity was given two appointments
        /// for one motif: what the domain's rules exist to prevent.
        var broken: Bool { !tally.overbookedSlots.isEmpty || tally.identitiesWithTwoAppointments > 0 }
    }

    typealias Answer = StormAnswer

    let socket: String
    let release: PlannedRelease
    let applicants: Int
    let seed: UInt64

    private final class Log: @unchecked Sendable {
        let lock = NSLock()
        var tally: StormTally
        init(_ tally: StormTally) { self.tally = tally }
    }

    func run() throws -> Outcome {
        let publisher = UnixHTTPClient(socketPath: socket)
        let body = try Self.publicationBody(release)
        let published = try publisher.send(method: "POST", path: "/append", body: body)
        guard published.status == 200 else { throw StormFailure(message: "publishing the release failed: HTTP \(published.status) \(published.bodyText.prefix(300))") }
        publisher.disconnect()

        let slots = release.publications.map { StormSlot(site: $0.site, slotId: $0.slotId, motif: $0.motif, capacity: $0.capacity) }
        var generator = SeededGenerator(seed: seed ^ 0xD3_3D)
        let bots = release.botFingerprints.isEmpty ? (0..<3).map { _ in generator.hex(64) } : release.botFingerprints.map(\.description)
        let log = Log(StormTally(slots: slots, botFingerprints: bots.count, applicants: applicants))
        let start = Date()
        let group = DispatchGroup()

        /// One attempt, recorded with its answer, which it returns: each thread learns its own
        /// outcome from the server, not from what the other threads have logged meanwhile.
        @Sendable func book(_ client: UnixHTTPClient, slot: StormSlot, identity: String, fingerprint: String, bot: Bool) -> Answer {
            let body = #"{"site":"\#(slot.site.rawValue)","slotId":"\#(slot.slotId.uuidString.lowercased())","identityKey":"\#(identity)","fingerprint":"\#(fingerprint)"}"#
            let answer: Answer
            if let response = try? client.send(method: "POST", path: "/commands/book", body: Array(body.utf8)) {
                switch response.status {
                case 200: answer = .booked
                case 409, 422: answer = .refused(rule: Self.rule(in: response.bodyText) ?? "HTTP \(response.status)")
                default: answer = .failed("HTTP \(response.status): \(response.bodyText.prefix(120))")
                }
            } else {
                answer = .failed("no answer")
            }
            let seconds = Date().timeIntervalSince(start)
            log.lock.withLock { log.tally.record(answer, seconds: seconds, slot: slot, identity: identity, bot: bot) }
            return answer
        }

        // Bots: a few fingerprints, a fresh identity key for every slot, as fast as the socket goes.
        for (b, fingerprint) in bots.enumerated() {
            var rng = SeededGenerator(seed: seed &+ UInt64(b) &* 7919)
            let order = slots.shuffled(using: &rng)
            let identities = order.map { _ in rng.hex(64) }
            group.enter()
            Thread.detachNewThread {
                let client = UnixHTTPClient(socketPath: socket)
                for (slot, identity) in zip(order, identities) { _ = book(client, slot: slot, identity: identity, fingerprint: fingerprint, bot: true) }
                client.disconnect()
                group.leave()
            }
        }
        // Genuine applicants: one identity and device each, a human reaction time, a few tries,
        // stopping at the first place the server grants them.
        for a in 0..<applicants {
            var rng = SeededGenerator(seed: seed &+ 100_000 &+ UInt64(a))
            let delay = 0.15 + Double(rng.next() % 1_500) / 1_000
            let identity = rng.hex(64), fingerprint = rng.hex(64)
            let choices = (0..<3).map { _ in slots[Int(rng.next() % UInt64(slots.count))] }
            group.enter()
            Thread.detachNewThread {
                Thread.sleep(forTimeInterval: delay)
                let client = UnixHTTPClient(socketPath: socket)
                StormTally.tryInTurn(choices, book: { book(client, slot: $0, identity: identity, fingerprint: fingerprint, bot: false) },
                               pause: { Thread.sleep(forTimeInterval: 0.2) })
                client.disconnect()
                group.leave()
            }
        }
        guard group.wait(timeout: .now() + 90) == .success else { throw StormFailure(message: "the storm did not finish within 90 s") }

        let tally = log.lock.withLock { log.tally }
        if !tally.failures.isEmpty { throw StormFailure(message: "\(tally.failures.count) requests failed, first: \(tally.failures[0])") }
        return Outcome(perSecond: tally.perSecond(), summary: tally.summary, tally: tally)
    }

    private static func rule(in body: String) -> String? {
        guard let r = body.range(of: #""rule":""#) else { return nil }
        let rest = body[r.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }

    /// One atomic append publishing every slot of the release.
    static func publicationBody(_ release: PlannedRelease) throws -> [UInt8] {
        var events: [String] = []
        var expectations: [String] = []
        for plan in try release.publicationAppends() {
            for e in plan.events {
                events.append(#"{"stream":"\#(e.stream)","type":"\#(e.event.typeName)","data":\#(String(decoding: e.event.encodedData(), as: UTF8.self)),"metadata":{"source":"registre-demo"}}"#)
            }
            for (stream, expected) in plan.expectedVersions {
                let wire: String
                switch expected {
                case .any: wire = #""any""#
                case .noStream: wire = #""noStream""#
                case .streamExists: wire = #""streamExists""#
                case .exact(let v): wire = String(v)
                }
                expectations.append(#""\#(stream)":\#(wire)"#)
            }
        }
        return Array(#"{"events":[\#(events.joined(separator: ","))],"expectedVersions":{\#(expectations.joined(separator: ","))}}"#.utf8)
    }
}

struct StormFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// SplitMix64 with hex helpers, for the storm's identities and fingerprints.
struct SeededGenerator: RandomNumberGenerator {
    private var inner: SplitMix64
    init(seed: UInt64) { inner = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { inner.next() }
    mutating func hex(_ n: Int) -> String { inner.hex(n) }
}
