import Foundation
import Testing
@testable import Journal

/// What the receipt and proof commands conclude from checkpoints they cannot trust, and from
/// receipts and proofs whose parts contradict each other (docs/AUDIT.md, "Receipts" and
/// "Consistency proofs"). A checkpoint the key did not sign, or one of another journal, proves
/// nothing about a journal: it must never be reported as that journal's rewrite.
@Suite(.serialized) struct ProofTrustCommandTests {
    /// The signer of the shared history, read from its private key file (signing touches no record).
    func signer(_ history: SignedHistory) throws -> CheckpointSigner {
        var signer = try CheckpointSigner(file: history.privateKey)
        signer.signedRecord = nil
        return signer
    }

    /// A checkpoint of another journal signed by the same key: a valid signature over another
    /// journal id, position `position`, and a root that is not this journal's.
    func foreignCheckpoint(_ history: SignedHistory, journalID: UUID = UUID(), position: UInt64, root: UInt8 = 0x5A) throws -> Checkpoint {
        try signer(history).sign(journalID: journalID, position: position, chainHash: Digest32(bytes: Array(repeating: 0x11, count: 32)),
                                 merkleRoot: Digest32(bytes: Array(repeating: root, count: 32)),
                                 signedAtMicros: 1_800_000_000_000_000, lastRecordedAtMicros: 1_790_000_000_000_000)
    }

    func write(_ checkpoint: Checkpoint, to path: String) throws {
        try Data(checkpoint.encoded()).write(to: URL(fileURLWithPath: path))
    }

    /// A booking in the middle of the history and the first genuine checkpoint that covers it.
    func booking(_ history: SignedHistory) throws -> (id: String, position: UInt64, covering: UInt64) {
        let booking = try #require(try allEvents(history.journal).first { $0.type == "AppointmentBooked" && $0.position > 700 })
        let covering = try #require(history.checkpointPositions.first { $0 > booking.position })
        #expect(covering > booking.position + 1, "room for a checkpoint between the event and the first genuine one")
        return (booking.id.uuidString.lowercased(), booking.position, covering)
    }

    // MARK: summaries

    @Test func aSummaryThatDiffersFromItsCheckpointDoesNotHoldWithStatusOneInEveryCommand() throws {
        let scratch = ScratchDirectory("summary-status")
        let history = try SignedHistory.get()
        // A consistency proof whose old summary claims another position.
        let proof = scratch.file("proof.json")
        #expect(try registre(["verify-consistency", "--journal", history.journal, "--old", history.checkpointFiles[0],
                              "--new", history.checkpointFiles[history.checkpointFiles.count - 1], "--public-key", history.publicKey, "--out", proof]).exited(0))
        var document = try jsonFile(proof)
        var summary = try #require(document["oldSummary"] as? [String: Any])
        summary["position"] = (summary["position"] as? Int ?? 0) + 1000
        document["oldSummary"] = summary
        try writeJSON(document, to: proof)
        let consistency = try registre(["verify-consistency", "--proof", proof, "--public-key", history.publicKey])
        #expect(consistency.exited(1), "\(consistency)")
        #expect(consistency.out.contains("consistency does NOT hold") && consistency.out.contains("\"oldSummary\""), "\(consistency)")

        // A receipt whose checkpoint summary claims another position: the same status.
        let (id, _, _) = try booking(history)
        let receipt = scratch.file("receipt.json")
        #expect(try registre(["receipt", "--journal", history.journal, "--event", id, "--public-key", history.publicKey, "--out", receipt]).exited(0))
        document = try jsonFile(receipt)
        summary = try #require(document["checkpointSummary"] as? [String: Any])
        summary["position"] = (summary["position"] as? Int ?? 0) + 1000
        document["checkpointSummary"] = summary
        try writeJSON(document, to: receipt)
        let verified = try registre(["verify-receipt", receipt, "--public-key", history.publicKey])
        #expect(verified.exited(1), "\(verified)")
        #expect(verified.out.contains("receipt does NOT hold") && verified.out.contains("\"checkpointSummary\""), "\(verified)")
    }

    // MARK: times

    @Test func aReceiptWhoseEventWasRecordedAfterItsCheckpointWasSignedDoesNotHold() throws {
        let scratch = ScratchDirectory("receipt-times")
        let history = try SignedHistory.get()
        let (id, _, _) = try booking(history)
        let path = scratch.file("receipt.json")
        #expect(try registre(["receipt", "--journal", history.journal, "--event", id, "--public-key", history.publicKey, "--out", path]).exited(0))
        var document = try jsonFile(path)
        let checkpoint = try Checkpoint(decoding: try base64Field(document, "checkpoint"))
        let record = try base64Field(document, "record")
        let recordedAt = try #require(record.withUnsafeBytes { EventView.validating($0)?.recordedAtMicros })
        // The key holder signs the same state, dated one second before the event was recorded.
        let backdated = try signer(history).sign(journalID: checkpoint.journalID, position: checkpoint.position, chainHash: checkpoint.chainHash,
                                                 merkleRoot: checkpoint.merkleRoot, signedAtMicros: recordedAt - 1_000_000,
                                                 lastRecordedAtMicros: checkpoint.lastRecordedAtMicros)
        document["checkpoint"] = Data(backdated.encoded()).base64EncodedString()
        var summary = try #require(document["checkpointSummary"] as? [String: Any])
        summary["signedAt"] = WireFormat.timestamp(micros: backdated.signedAtMicros)
        document["checkpointSummary"] = summary
        try writeJSON(document, to: path)
        let outcome = try registre(["verify-receipt", path, "--public-key", history.publicKey])
        #expect(outcome.exited(1), "\(outcome)")
        #expect(outcome.out.contains("receipt does NOT hold"), "\(outcome.out)")
        #expect(outcome.out.contains(WireFormat.timestamp(micros: recordedAt)) && outcome.out.contains(WireFormat.timestamp(micros: backdated.signedAtMicros)),
                "the message names both times: \(outcome.out)")
    }
}
