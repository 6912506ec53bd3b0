import Foundation
import Journal
import Testing
@testable import Projections

/// Seeded rounds of random bytes in a real checkpoint file, its `Checksum64` made right each
/// time, so the reader gets past the checksum to the trailer, the steps and the state behind it.
/// Loading must refuse the file with a `ProjectionError` or load a state, and never trap (a trap
/// would end this test process); a state that loads is streamed, checked against its journal,
/// and resumed from.
@Suite("Checkpoints: random damage with a sound checksum")
struct RandomCheckpointDamageTests {
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
    }

    /// Rewrites the checksum (the 8 bytes before the end marker) over every byte before it.
    static func reseal(_ bytes: inout [UInt8]) {
        var sum = Checksum64()
        sum.update(bytes[0..<(bytes.count - 16)])
        withUnsafeBytes(of: sum.value.littleEndian) { for (i, b) in $0.enumerated() { bytes[bytes.count - 16 + i] = b } }
    }

    @Test("a checkpoint altered at random with its checksum made right is refused with a ProjectionError or loads, and never traps")
    func randomlyAlteredCheckpointsWithSoundChecksumsAreRefusedOrLoadNeverTrap() throws {
        let f = try CheckpointConsistencyTests.Fixture()
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: f.checkpoint)))
        _ = try CheckpointReader(path: f.checkpoint)
        let stateStart = CheckpointFile.headerSize + Int(f.parts.trailer.steps) * CheckpointFile.stepSize
        let trailerStart = original.count - CheckpointFile.trailerSize
        #expect(f.parts.trailer.steps > 0 && stateStart < trailerStart)

        var random = SplitMix(state: 0xC4EC_4B01)
        var refused = 0, loaded = 0, resumed = 0
        let rounds = 400
        for round in 0..<rounds {
            var bytes = original
            for _ in 0..<(1 + random.below(3)) {
                // Mostly the state, the part decoded field by field; the steps, the trailer
                // (not its checksum) and the header too.
                let at: Int
                switch random.below(8) {
                case 0: at = random.below(CheckpointFile.headerSize)
                case 1: at = CheckpointFile.headerSize + random.below(stateStart - CheckpointFile.headerSize)
                case 2: at = trailerStart + random.below(CheckpointFile.trailerSize - 16)
                default: at = stateStart + random.below(trailerStart - stateStart)
                }
                // A small change half the time (a count off by a little), any byte otherwise.
                bytes[at] = random.below(2) == 0 ? bytes[at] &+ UInt8(1 + random.below(3)) : UInt8(truncatingIfNeeded: random.next())
            }
            Self.reseal(&bytes)
            try Data(bytes).write(to: URL(fileURLWithPath: f.checkpoint))
            let reader: CheckpointReader
            do {
                reader = try CheckpointReader(path: f.checkpoint)
            } catch {
                guard case .checkpoint = error else { Issue.record("round \(round): \(error)"); continue }
                refused += 1
                continue
            }
            loaded += 1
            // What loads is streamed, checked against its journal, and folded on from.
            do { try reader.forEachStep { _ in } } catch { continue }
            do { try ProjectionCheckpoint.check(reader, journal: f.journal, limit: .end, thresholds: AbuseThresholds()) } catch { continue }
            let out = f.dir.path + "/resumed-\(round)"
            if (try? ProjectionRebuild.export(journal: f.journal, to: out, format: .csv, checkpoint: f.checkpoint)) != nil { resumed += 1 }
            try? FileManager.default.removeItem(atPath: out)
        }
        #expect(refused + loaded == rounds)
        #expect(refused > rounds / 2, "\(refused) refused, \(loaded) loaded, \(resumed) resumed from")
    }
}
