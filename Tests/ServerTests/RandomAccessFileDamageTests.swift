import Foundation
import Testing
@testable import Server

/// Seeded rounds of random changes to a valid access file's bytes: parsing must refuse with an
/// `AccessFile.Problem` naming the file, or give a policy, and never trap (a trap would end this
/// test process).
@Suite struct RandomAccessFileDamageTests {
    /// A SplitMix64 generator: the same seed gives the same rounds on every run.
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }
    }

    static let valid = Array("""
    {"version":1,"grants":[
      {"user":"booking","role":"appender","eventTypes":["AppointmentBooked"],"streamPrefixes":["slot-","applicant-"]},
      {"uid":1001,"role":"reader"},
      {"group":"audit","role":"auditor"},
      {"gid":4000,"role":"admin"},
      {"uid":4294967295,"role":"appender","eventTypes":["DecisionRecorded","AppointmentCancelledByApplicant"]}
    ]}
    """.utf8)

    /// Characters that keep a text JSON-like, and numbers' edges.
    static let jsonish = Array(#"{}[]:,"\ 0123456789-+.eEtrufalsn/u"#.utf8)

    private func parse(_ bytes: [UInt8]) throws(AccessFile.Problem) -> AccessPolicy {
        try AccessFile.parse(bytes, origin: "fuzz.json",
                             resolveUser: { ["booking": 1001, "agent": 1002][$0] },
                             resolveGroup: { ["audit": 3000][$0] })
    }

    @Test func randomlyAlteredAccessFilesAreRefusedByNameOrParsedNeverTrap() throws {
        _ = try parse(Self.valid)
        var random = SplitMix(state: 0xACCE_55)
        var refused = 0, parsed = 0
        let rounds = 2_000
        for round in 0..<rounds {
            var bytes = Self.valid
            for _ in 0..<(1 + random.below(4)) {
                let at = random.below(bytes.count)
                switch random.below(6) {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(contentsOf: random.pick([Array("1e309".utf8), Array("-0".utf8), Array("4294967296".utf8), Array("1.0".utf8),
                                                              Array("true".utf8), Array("null".utf8), Array("[]".utf8), Array("{}".utf8),
                                                              Array(#""\ud800""#.utf8), Array("99999999999999999999".utf8)]), at: at)
                default: bytes[at] = random.pick(Self.jsonish)
                }
            }
            do {
                let policy = try parse(bytes)
                parsed += 1
                // What parses answers for any peer.
                for uid: UInt32 in [0, 1001, 4000, .max] {
                    let p = policy.permissions(for: PeerCredentials(pid: 1, uid: uid, gid: 3000), groups: [4000])
                    _ = p.appendRefusal(stream: "slot-x", type: "AppointmentBooked")
                }
            } catch {
                #expect(error.description.hasPrefix("fuzz.json"), "round \(round): \(error)")
                refused += 1
            }
        }
        #expect(refused + parsed == rounds)
        #expect(refused > rounds / 2, "\(refused) refused, \(parsed) parsed")
    }
}
