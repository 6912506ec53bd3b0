import Foundation
import Journal

/// A deterministic mix of appointment and dossier events of about 300 bytes, for benchmarks and
/// the demo until the simulator provides the real thing. Identity keys and fingerprints are
/// random hex, as salted hashes are, so compression is not flattered.
struct SyntheticEvents {
    private var rng: SplitMix64
    private var sequence = 0
    private let identities: [String]
    private let fingerprints: [String]
    private static let sites = ["grenoble", "vienne", "la-tour-du-pin"]
    private static let categories = ["student", "worker", "family", "visitor", "humanitarian", "other"]

    init(seed: UInt64) {
        rng = SplitMix64(seed: seed)
        var r = SplitMix64(seed: seed ^ 0x9E37_79B9)
        identities = (0..<20_000).map { _ in r.hex(64) }
        fingerprints = (0..<400).map { _ in r.hex(64) }
    }

    mutating func next() -> ProposedEvent {
        sequence += 1
        let identity = identities[Int(rng.next() % UInt64(identities.count))]
        let site = Self.sites[Int(rng.next() % 3)]
        let category = Self.categories[Int(rng.next() % 6)]
        let day = 1 + Int(rng.next() % 28), hour = 8 + Int(rng.next() % 9), minute = Int(rng.next() % 4) * 15
        let start = String(format: "2024-%02d-%02dT%02d:%02d:00Z", 1 + sequence % 12, day, hour, minute)
        let slot = "\(site)-\(rng.next() % 900_000)"
        switch rng.next() % 10 {
        case 0, 1, 2:
            let fp = fingerprints[Int(rng.next() % UInt64(fingerprints.count))]
            return ProposedEvent(stream: "slot-\(slot)", type: "AppointmentBooked", id: rng.uuid(),
                                 data: Array(#"{"schemaVersion":1,"appointmentId":"\#(rng.uuid().uuidString.lowercased())","identityKey":"\#(identity)","slotId":"\#(slot)","site":"\#(site)","motif":"filing","category":"\#(category)","start":"\#(start)","clientFingerprint":"\#(fp)","occurredAt":"\#(start)"}"#.utf8),
                                 metadata: Array(#"{"source":"booking-site"}"#.utf8))
        case 3, 4:
            return ProposedEvent(stream: "slot-\(slot)", type: "SlotPublished", id: rng.uuid(),
                                 data: Array(#"{"schemaVersion":1,"slotId":"\#(slot)","releaseId":"release-\#(sequence / 500)","site":"\#(site)","motif":"filing","category":"\#(category)","start":"\#(start)","durationMinutes":15,"counter":\#(1 + rng.next() % 12),"capacity":1,"occurredAt":"\#(start)"}"#.utf8),
                                 metadata: Array(#"{"source":"planning"}"#.utf8))
        case 5, 6:
            return ProposedEvent(stream: "dossier-\(rng.next() % 50_000)", type: "DocumentsReceived", id: rng.uuid(),
                                 data: Array(#"{"schemaVersion":1,"dossierId":"\#(rng.uuid().uuidString.lowercased())","documents":["passport-copy","proof-of-address"],"channel":"counter","site":"\#(site)","occurredAt":"\#(start)"}"#.utf8),
                                 metadata: Array(#"{"source":"case-handling","agent":"\#(rng.hex(16))"}"#.utf8))
        case 7:
            return ProposedEvent(stream: "applicant-\(identity)", type: "AppointmentCancelledByApplicant", id: rng.uuid(),
                                 data: Array(#"{"schemaVersion":1,"appointmentId":"\#(rng.uuid().uuidString.lowercased())","identityKey":"\#(identity)","slotId":"\#(slot)","occurredAt":"\#(start)"}"#.utf8),
                                 metadata: Array(#"{"source":"booking-site"}"#.utf8))
        default:
            return ProposedEvent(stream: "dossier-\(rng.next() % 50_000)", type: "DossierDeclaredComplete", id: rng.uuid(),
                                 data: Array(#"{"schemaVersion":1,"dossierId":"\#(rng.uuid().uuidString.lowercased())","category":"\#(category)","site":"\#(site)","completedAt":"\#(start)","occurredAt":"\#(start)"}"#.utf8),
                                 metadata: Array(#"{"source":"case-handling"}"#.utf8))
        }
    }
}

/// A small, fast, seedable generator (SplitMix64), so every run writes the same events.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func hex(_ count: Int) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count)
        var bits = next(), left = 16
        for _ in 0..<count {
            if left == 0 { bits = next(); left = 16 }
            out.append(digits[Int(bits & 0xF)])
            bits >>= 4
            left -= 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func uuid() -> UUID {
        let a = next(), b = next()
        var bytes = [UInt8](repeating: 0, count: 16)
        withUnsafeBytes(of: a) { for i in 0..<8 { bytes[i] = $0[i] } }
        withUnsafeBytes(of: b) { for i in 0..<8 { bytes[8 + i] = $0[i] } }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
