@testable import Audit
import Foundation
import Testing
@testable import Journal

/// Receipts and proofs whose signed parts contradict each other, and checkpoints that prove
/// nothing about a journal (forged, or another journal's), as the library sees them; the
/// commands' statuses are in EndToEndTests/ProofTrustCommandTests.
@Suite("Receipts and proofs: trust and self-consistency")
struct ProofTrustTests {
    static func reason(_ error: any Error) -> (kind: String, message: String) {
        switch error as! ProofError {
        case .malformed(let m): return ("malformed", m)
        case .doesNotHold(let m): return ("doesNotHold", m)
        case .notFound(let m): return ("notFound", m)
        case .unusableJournal(let m): return ("unusableJournal", m)
        }
    }

    // MARK: Summaries

    @Test("a consistency proof whose summary differs from its checkpoint does not hold, as a receipt's does not")
    func consistencySummary() throws {
        let dir = TemporaryDirectory("consistency-summary")
        try History.write(slots: 3, into: dir.path)
        let names = dir.checkpointNames
        let old = dir.checkpoint(names[1]), new = dir.checkpoint(names[names.count - 1])
        #expect(old.position != new.position)
        let text = String(decoding: try ConsistencyProof.make(directory: dir.path, old: old, new: new).json(), as: UTF8.self)
        for (field, checkpoint) in [("oldSummary", old), ("newSummary", new)] {
            let summary = CheckpointSummary(checkpoint).json
            let altered = text.replacingOccurrences(of: "\"\(field)\": " + summary,
                                                    with: "\"\(field)\": " + summary.replacingOccurrences(of: "\"position\": \(checkpoint.position)", with: "\"position\": 99999"))
            #expect(altered != text, "the alteration applies to \(field)")
            #expect { try ConsistencyProof(json: Array(altered.utf8)) } throws: { error in
                let (kind, message) = Self.reason(error)
                return kind == "doesNotHold" && message.contains(field)
            }
        }
        // Text that is not a proof at all is still malformed.
        #expect { try ConsistencyProof(json: Array("[1]".utf8)) } throws: { Self.reason($0).kind == "malformed" }
    }
}
