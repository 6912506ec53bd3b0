import Domain
import Foundation
import Simulator

/// The demo's live storm: a new release is published through the server, then bots and genuine
/// applicants race for it with `POST /commands/book`, each on its own connection and thread.
struct LiveStorm {
    struct Outcome {
        var perSecond: [DemoReport.StormSecond]
        var summary: String
        var overbooked: Bool
    }

    let socket: String
    let release: PlannedRelease
    let applicants: Int
    let seed: UInt64

    private final class Log: @unchecked Sendable {
        let lock = NSLock()
        var bookings: [(seconds: Double, bot: Bool, slot: UUID)] = []
        var refused: [String: Int] = [:]
        var attempts = 0
        var failures: [String] = []
    }

    func run() throws -> Outcome {
        let publisher = UnixHTTPClient(socketPath: socket)
        let body = try Self.publicationBody(release)
        let published = try publisher.send(method: "POST", path: "/append", body: body)
        guard published.status == 200 else { throw StormFailure(message: "publishing the release failed: HTTP \(published.status) \(published.bodyText.prefix(300))") }
        publisher.disconnect()

        let slots = release.publications.map { (site: $0.site, slotId: $0.slotId, capacity: $0.capacity) }
        let capacity = slots.reduce(0) { $0 + $1.capacity }
        var generator = SeededGenerator(seed: seed ^ 0xD3_3D)
        let bots = release.botFingerprints.isEmpty ? (0..<3).map { _ in generator.hex(64) } : release.botFingerprints.map(\.description)
        let log = Log()
        let start = Date()
        let group = DispatchGroup()

        @Sendable func book(_ client: UnixHTTPClient, slot: (site: Site, slotId: UUID, capacity: Int), identity: String, fingerprint: String, bot: Bool) {
            let body = #"{"site":"\#(slot.site.rawValue)","slotId":"\#(slot.slotId.uuidString.lowercased())","identityKey":"\#(identity)","fingerprint":"\#(fingerprint)"}"#
            let response = try? client.send(method: "POST", path: "/commands/book", body: Array(body.utf8))
            log.lock.withLock {
                log.attempts += 1
                guard let response else { log.failures.append("no answer"); return }
                if response.status == 200 {
                    log.bookings.append((Date().timeIntervalSince(start), bot, slot.slotId))
                } else if response.status == 422 || response.status == 409 {
                    let rule = Self.rule(in: response.bodyText) ?? "HTTP \(response.status)"
                    log.refused[rule, default: 0] += 1
                } else {
                    log.failures.append("HTTP \(response.status): \(response.bodyText.prefix(120))")
                }
            }
        }

        // Bots: a few fingerprints, a fresh identity key for every slot, as fast as the socket goes.
        for (b, fingerprint) in bots.enumerated() {
            var rng = SeededGenerator(seed: seed &+ UInt64(b) &* 7919)
            let order = slots.shuffled(using: &rng)
            let identities = order.map { _ in rng.hex(64) }
            group.enter()
            Thread.detachNewThread {
                let client = UnixHTTPClient(socketPath: socket)
                for (slot, identity) in zip(order, identities) { book(client, slot: slot, identity: identity, fingerprint: fingerprint, bot: true) }
                client.disconnect()
                group.leave()
            }
        }
        // Genuine applicants: one identity and device each, a human reaction time, a few tries.
        for a in 0..<applicants {
            var rng = SeededGenerator(seed: seed &+ 100_000 &+ UInt64(a))
            let delay = 0.15 + Double(rng.next() % 1_500) / 1_000
            let identity = rng.hex(64), fingerprint = rng.hex(64)
            let choices = (0..<3).map { _ in slots[Int(rng.next() % UInt64(slots.count))] }
            group.enter()
            Thread.detachNewThread {
                Thread.sleep(forTimeInterval: delay)
                let client = UnixHTTPClient(socketPath: socket)
                for slot in choices {
                    let before = log.lock.withLock { log.bookings.count }
                    book(client, slot: slot, identity: identity, fingerprint: fingerprint, bot: false)
                    let booked = log.lock.withLock { log.bookings.count > before && log.bookings.last?.slot == slot.slotId && log.bookings.last?.bot == false }
                    if booked { break }
                    Thread.sleep(forTimeInterval: 0.2)
                }
                client.disconnect()
                group.leave()
            }
        }
        guard group.wait(timeout: .now() + 90) == .success else { throw StormFailure(message: "the storm did not finish within 90 s") }

        let (bookings, refused, attempts, failures) = log.lock.withLock { (log.bookings, log.refused, log.attempts, log.failures) }
        if !failures.isEmpty { throw StormFailure(message: "\(failures.count) requests failed, first: \(failures[0])") }
        var perSlot: [UUID: Int] = [:]
        for b in bookings { perSlot[b.slot, default: 0] += 1 }
        let overbooked = slots.contains { (perSlot[$0.slotId] ?? 0) > $0.capacity }
        let seconds = Int((bookings.map(\.seconds).max() ?? 0).rounded(.up)) + 1
        var perSecond = (0..<max(1, min(seconds, 60))).map { DemoReport.StormSecond(second: $0, bots: 0, genuine: 0) }
        for b in bookings where Int(b.seconds) < perSecond.count {
            if b.bot { perSecond[Int(b.seconds)].bots += 1 } else { perSecond[Int(b.seconds)].genuine += 1 }
        }
        let botWins = bookings.filter(\.bot).count
        let lastBot = bookings.filter(\.bot).map(\.seconds).max() ?? 0
        let refusedText = refused.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let summary = "\(capacity) places in \(slots.count) slots; \(bots.count) bot fingerprints took \(botWins) of them within \(String(format: "%.2f", lastBot)) s, "
            + "\(applicants) genuine applicants got \(bookings.count - botWins); \(attempts) attempts, refused by rule: \(refusedText.isEmpty ? "none" : refusedText); "
            + (overbooked ? "OVERBOOKED" : "no slot overbooked, no identity with two active appointments")
        return Outcome(perSecond: perSecond, summary: summary, overbooked: overbooked)
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
