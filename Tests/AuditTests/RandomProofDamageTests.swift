import Audit
import Foundation
import Testing
@testable import Journal

/// Seeded rounds of random changes to genuine receipts and consistency proofs, and of JSON-ish
/// garbage: verification must refuse with a `ProofError` or hold, never trap (a trap would end
/// this test process), and what holds proves the genuine event.
@Suite("Receipts and consistency proofs: random damage")
struct RandomProofDamageTests {
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

    /// Characters that keep a text JSON-like: structure, digits, escapes, base64 and hex.
    static let jsonish = Array(#"{}[]:,"\ 0123456789-+.eEtrufalsn/=abcdefABCDEF"#.utf8)

    /// Changes 1 to 4 bytes of `bytes`: mostly to a JSON-ish character, sometimes to any byte,
    /// sometimes removing or doubling one.
    static func mutate(_ bytes: [UInt8], _ random: inout SplitMix) -> [UInt8] {
        var out = bytes
        for _ in 0..<(1 + random.below(4)) where !out.isEmpty {
            let at = random.below(out.count)
            switch random.below(6) {
            case 0: out[at] = UInt8(truncatingIfNeeded: random.next())
            case 1: out.remove(at: at)
            case 2: out.insert(out[at], at: at)
            default: out[at] = random.pick(jsonish)
            }
        }
        return out
    }

    /// A text of JSON-ish characters, sometimes starting as an object.
    static func garbage(_ random: inout SplitMix) -> [UInt8] {
        var out: [UInt8] = random.below(2) == 0 ? Array("{\"".utf8) : []
        for _ in 0..<random.below(200) { out.append(random.pick(jsonish)) }
        return out
    }

    /// A journal of three slots' history with its checkpoints, and the receipt of a booking.
    static func genuine() throws -> (dir: TemporaryDirectory, receipt: Receipt, event: RecordedEvent) {
        let dir = TemporaryDirectory("receipt-random")
        try History.write(slots: 3, into: dir.path)
        let events = try JournalReader(directory: dir.path).read()
        let booking = try #require(events.first { $0.type == "AppointmentBooked" && $0.position > 12 })
        let receipt = try Receipt.make(directory: dir.path, eventID: booking.id, publicKey: testSigner.publicKey)
        return (dir, receipt, booking)
    }

    /// Verifies `json`: it must throw a `ProofError` (typed, so anything thrown is one) or prove
    /// `expected`. Returns whether it held.
    static func verifies(_ json: [UInt8], proving expected: RecordedEvent, _ what: @autoclosure () -> String) -> Bool {
        do {
            let verified = try Receipt.verify(json: json, publicKey: testSigner.publicKey)
            #expect(verified.event == expected, "\(what()): a changed receipt verified and proves another event")
            return true
        } catch {
            return false
        }
    }

    @Test("a genuine receipt with characters changed at random, or JSON-ish garbage, is refused with a ProofError or proves the genuine event, and never traps")
    func randomlyAlteredReceiptTextIsRefusedOrProvesTheGenuineEvent() throws {
        let (_, receipt, booking) = try Self.genuine()
        let json = receipt.json()
        #expect(Self.verifies(json, proving: booking, "genuine"))
        var random = SplitMix(state: 0x2EC1_E1B7)
        var held = 0
        for round in 0..<600 {
            if Self.verifies(Self.mutate(json, &random), proving: booking, "round \(round)") { held += 1 }
        }
        for round in 0..<300 {
            #expect(!Self.verifies(Self.garbage(&random), proving: booking, "garbage \(round)"))
        }
        #expect(held < 300, "most changes are refused: \(held) of 600 held")
    }

    @Test("a receipt whose record bytes are changed at random, or whose checkpoint is re-signed with random fields and its proof changed, is refused with a ProofError or proves the genuine event, and never traps")
    func randomlyAlteredReceiptRecordsAndResignedCheckpointsAreRefusedOrProveTheGenuineEvent() throws {
        let (_, receipt, booking) = try Self.genuine()
        let text = String(decoding: receipt.json(), as: UTF8.self)
        let record64 = Data(receipt.record).base64EncodedString()
        #expect(text.contains(record64))
        var random = SplitMix(state: 0x5EC0_4D)
        // The record: past the signature check, to the record's own decoding.
        for round in 0..<400 {
            var record = receipt.record
            for _ in 0..<(1 + random.below(3)) {
                let at = random.below(record.count)
                record[at] = random.below(2) == 0 ? record[at] &+ UInt8(1 + random.below(2)) : UInt8(truncatingIfNeeded: random.next())
            }
            if random.below(8) == 0 { record.removeLast(1 + random.below(min(8, record.count))) }
            let altered = text.replacingOccurrences(of: record64, with: Data(record).base64EncodedString())
            _ = Self.verifies(Array(altered.utf8), proving: booking, "record round \(round)")
        }
        // The checkpoint, re-signed by the key with other fields: past the signature, to the
        // audit path's arithmetic and the times.
        let c = receipt.checkpoint
        let positions: [UInt64] = [0, 1, 2, booking.position, booking.position + 1, c.position - 1, c.position, c.position + 1,
                                   c.position * 2, 1 << 32, 1 << 63, .max - 1, .max]
        let times: [Int64] = [.min, .min + 1, -1, 0, 1, c.signedAtMicros, c.lastRecordedAtMicros, booking.recordedAtMicros,
                              253_402_300_799_999_999, 253_402_300_800_000_000, .max - 1, .max]
        for round in 0..<400 {
            let position = random.below(3) == 0 ? random.next() : random.pick(positions)
            let root = random.below(4) == 0 ? Digest32(bytes: (0..<32).map { _ in UInt8(truncatingIfNeeded: random.next()) }) : c.merkleRoot
            let resigned = testSigner.sign(journalID: c.journalID, position: position, chainHash: c.chainHash, merkleRoot: root,
                                           signedAtMicros: random.pick(times), lastRecordedAtMicros: random.pick(times))
            var proof = receipt.inclusionProof
            switch random.below(5) {
            case 0: if !proof.isEmpty { proof.removeLast(1 + random.below(proof.count)) }
            case 1: for _ in 0..<(1 + random.below(70)) { proof.append(random.pick(receipt.inclusionProof + [c.merkleRoot])) }
            case 2: if !proof.isEmpty { proof.swapAt(random.below(proof.count), random.below(proof.count)) }
            default: break
            }
            let json = Receipt(record: receipt.record, inclusionProof: proof, checkpoint: resigned).json()
            let held = Self.verifies(json, proving: booking, "checkpoint round \(round)")
            // An audit path also leads to the same root under some other tree sizes; never to another root.
            if held { #expect(root == c.merkleRoot, "checkpoint round \(round): a proof held for another tree") }
        }
    }

    @Test("a genuine consistency proof with characters changed at random, re-signed with other positions, or JSON-ish garbage, is refused with a ProofError or holds, and never traps")
    func randomlyAlteredConsistencyProofsAreRefusedOrHold() throws {
        let dir = TemporaryDirectory("consistency-random")
        try History.write(slots: 3, into: dir.path)
        let checkpoints = dir.checkpointNames.map(dir.checkpoint)
        let old = try #require(checkpoints.dropLast().last), new = try #require(checkpoints.last)
        let proof = try ConsistencyProof.make(directory: dir.path, old: old, new: new)
        try proof.verify(publicKey: testSigner.publicKey)
        let json = proof.json()
        func holds(_ bytes: [UInt8]) -> Bool {
            do {
                let read = try ConsistencyProof(json: bytes)
                try read.verify(publicKey: testSigner.publicKey)
                return true
            } catch {
                return false
            }
        }
        var random = SplitMix(state: 0xC0_5157)
        var held = 0
        for _ in 0..<600 where holds(Self.mutate(json, &random)) { held += 1 }
        #expect(held < 300, "most changes are refused: \(held) of 600 held")
        for round in 0..<300 { #expect(!holds(Self.garbage(&random)), "garbage \(round)") }
        // Re-signed with other sizes: past the signatures, to the proof's arithmetic.
        let sizes: [UInt64] = [0, 1, 2, 3, 4, old.position - 1, old.position, old.position + 1, new.position - 1, new.position, new.position + 1,
                               1 << 32, (1 << 32) + 1, 1 << 63, .max - 1, .max]
        for round in 0..<400 {
            let (a, b) = (random.below(3) == 0 ? random.next() : random.pick(sizes), random.below(3) == 0 ? random.next() : random.pick(sizes))
            let o = testSigner.sign(journalID: old.journalID, position: a, chainHash: old.chainHash, merkleRoot: random.pick([old.merkleRoot, new.merkleRoot, MerkleHash.empty]),
                                    signedAtMicros: old.signedAtMicros, lastRecordedAtMicros: old.lastRecordedAtMicros)
            let n = testSigner.sign(journalID: new.journalID, position: b, chainHash: new.chainHash, merkleRoot: random.pick([old.merkleRoot, new.merkleRoot]),
                                    signedAtMicros: new.signedAtMicros, lastRecordedAtMicros: new.lastRecordedAtMicros)
            var hashes = proof.proof
            switch random.below(4) {
            case 0: if !hashes.isEmpty { hashes.removeLast(1 + random.below(hashes.count)) }
            case 1: for _ in 0..<(1 + random.below(130)) { hashes.append(random.pick(proof.proof + [old.merkleRoot])) }
            default: break
            }
            let altered = ConsistencyProof(old: o, new: n, proof: hashes)
            // A proof's path also fits some other pairs of sizes (61 and 65 for 60 and 66); never
            // other roots: what holds links the genuine roots, or a root to itself or the empty tree.
            if holds(altered.json()) {
                #expect((o.merkleRoot == old.merkleRoot && n.merkleRoot == new.merkleRoot) || o.merkleRoot == n.merkleRoot || (a == 0 && o.merkleRoot == MerkleHash.empty),
                        "round \(round): a proof held between sizes \(a) and \(b) for other roots")
            }
        }
    }
}
