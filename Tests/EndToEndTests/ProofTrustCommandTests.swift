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

    // MARK: receipt --journal

    @Test func aForeignCheckpointInTheJournalIsSkippedByReceiptNotTakenForARewrite() throws {
        let scratch = ScratchDirectory("receipt-foreign")
        let history = try SignedHistory.get()
        let copy = try history.copy(into: scratch)
        let (id, position, covering) = try booking(history)
        // Another journal's checkpoint, signed by the same key, is the first to cover the event.
        try write(try foreignCheckpoint(history, position: position + 1), to: copy + "/checkpoints/" + Checkpoint.fileName(position: position + 1))
        let out = scratch.file("receipt.json")
        let made = try registre(["receipt", "--journal", copy, "--event", id, "--public-key", history.publicKey, "--out", out])
        #expect(!(made.out + made.err).contains("rewritten"), "an intact journal is accused: \(made)")
        #expect(made.exited(0), "\(made)")
        #expect(made.err.contains("another journal") && made.err.contains(Checkpoint.fileName(position: position + 1)), "\(made.err)")
        // The receipt is made under the genuine checkpoint, and it holds.
        #expect(try jsonFile(out)["treeSize"] as? Int == Int(covering))
        #expect(try registre(["verify-receipt", out, "--public-key", history.publicKey]).exited(0))
    }

    @Test func aForgedCheckpointInTheJournalIsReportedAsUntrustedByReceiptNotAsARewrite() throws {
        let scratch = ScratchDirectory("receipt-forged")
        let history = try SignedHistory.get()
        let copy = try history.copy(into: scratch)
        let (id, _, covering) = try booking(history)
        // The genuine covering checkpoint with one byte of its Merkle root changed: its signature breaks.
        let path = copy + "/checkpoints/" + Checkpoint.fileName(position: covering)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[80] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        // Without the public key the forgery cannot be told from a rewrite: neither is claimed.
        let blind = try registre(["receipt", "--journal", copy, "--event", id, "--out", scratch.file("blind.json")])
        #expect(!(blind.out + blind.err).contains("rewritten"), "an intact journal is accused: \(blind)")
        #expect(blind.exited(2), "\(blind)")
        #expect(blind.err.contains("signature was not checked") && blind.err.contains(Checkpoint.fileName(position: covering)), "\(blind.err)")
        // With it, the forged checkpoint is named and skipped, and the next genuine one is used.
        let out = scratch.file("receipt.json")
        let keyed = try registre(["receipt", "--journal", copy, "--event", id, "--public-key", history.publicKey, "--out", out])
        #expect(keyed.exited(0), "\(keyed)")
        #expect(keyed.err.contains("not signed by the public key") && keyed.err.contains(Checkpoint.fileName(position: covering)), "\(keyed.err)")
        #expect(try registre(["verify-receipt", out, "--public-key", history.publicKey]).exited(0))
    }

    // MARK: verify-consistency --journal

    @Test func forgedOrForeignCheckpointsGivenToVerifyConsistencyAreUntrustedNotARewrite() throws {
        let scratch = ScratchDirectory("consistency-untrusted")
        let history = try SignedHistory.get()
        let genuineOld = history.checkpointFiles[0], genuineNew = history.checkpointFiles[history.checkpointFiles.count - 1]
        func consistency(_ old: String, _ new: String) throws -> Outcome {
            try registre(["verify-consistency", "--journal", history.journal, "--old", old, "--new", new, "--public-key", history.publicKey])
        }
        func untrusted(_ outcome: Outcome, _ words: [String], _ what: Comment) {
            #expect(outcome.exited(2), "\(what): \(outcome)")
            #expect(!outcome.out.contains("rewritten") && !outcome.out.contains("rolled back") && !outcome.out.contains("does NOT hold"),
                    "\(what): an intact journal is accused: \(outcome.out)")
            for word in words { #expect((outcome.out + outcome.err).contains(word), "\(what): \(outcome)") }
        }

        // Forged: the last checkpoint claiming 100 more events than the journal holds (its
        // signature no longer covers it).
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: genuineNew)))
        let beyond = UInt64(history.events + 100)
        withUnsafeBytes(of: beyond.littleEndian) { bytes.replaceSubrange(32..<40, with: $0) }
        let forgedBeyond = scratch.file("forged-beyond.ckpt")
        try Data(bytes).write(to: URL(fileURLWithPath: forgedBeyond))
        untrusted(try consistency(genuineOld, forgedBeyond), ["untrusted checkpoint", "new", "not signed by the public key"], "forged, beyond the end")

        // Forged: the first checkpoint with a byte of its root changed.
        bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: genuineOld)))
        bytes[80] ^= 1
        let forgedOld = scratch.file("forged-old.ckpt")
        try Data(bytes).write(to: URL(fileURLWithPath: forgedOld))
        untrusted(try consistency(forgedOld, genuineNew), ["untrusted checkpoint", "old", "not signed by the public key"], "forged old")

        // Foreign: two checkpoints of another journal, signed by the same key.
        let foreignOld = scratch.file("foreign-old.ckpt"), foreignNew = scratch.file("foreign-new.ckpt")
        let otherJournal = UUID()
        try write(try foreignCheckpoint(history, journalID: otherJournal, position: 10, root: 0x01), to: foreignOld)
        try write(try foreignCheckpoint(history, journalID: otherJournal, position: 600, root: 0x02), to: foreignNew)
        untrusted(try consistency(foreignOld, foreignNew), ["foreign checkpoint", "another journal"], "both foreign")
        // One foreign and one genuine.
        untrusted(try consistency(genuineOld, foreignNew), ["foreign checkpoint", "another journal"], "new foreign")

        // The genuine pair still holds.
        #expect(try consistency(genuineOld, genuineNew).exited(0))
    }

    @Test func aKeptCheckpointThatIsForgedOrForeignIsUntrustedInAnOfflineCheck() throws {
        let scratch = ScratchDirectory("consistency-kept-untrusted")
        let history = try SignedHistory.get()
        let old = history.checkpointFiles[0], new = history.checkpointFiles[history.checkpointFiles.count - 1]
        let proof = scratch.file("proof.json")
        #expect(try registre(["verify-consistency", "--journal", history.journal, "--old", old, "--new", new,
                              "--public-key", history.publicKey, "--out", proof]).exited(0))
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: old)))
        bytes[80] ^= 1
        let forged = scratch.file("forged.ckpt")
        try Data(bytes).write(to: URL(fileURLWithPath: forged))
        let outcome = try registre(["verify-consistency", "--proof", proof, "--old", forged, "--public-key", history.publicKey])
        #expect(outcome.exited(2), "\(outcome)")
        #expect((outcome.out + outcome.err).contains("untrusted checkpoint") && !outcome.out.contains("does NOT hold"), "\(outcome)")
        // Kept from another journal signed by the same key: a genuine anchor that this proof does
        // not extend (exit 1, as for a proof from another checkpoint of the same journal).
        let foreign = scratch.file("foreign.ckpt")
        try write(try foreignCheckpoint(history, position: 10), to: foreign)
        let other = try registre(["verify-consistency", "--proof", proof, "--old", foreign, "--public-key", history.publicKey])
        #expect(other.exited(1), "\(other)")
        #expect(other.out.contains("does NOT hold") && other.out.contains("not of journal"), "\(other)")
        // A proof whose own signatures fail is judged on that, whatever the kept anchor.
        var document = try jsonFile(proof)
        let oldText = try #require(document["old"] as? String)
        var oldField = [UInt8](try #require(Data(base64Encoded: oldText)))
        oldField[80] ^= 1
        document["old"] = Data(oldField).base64EncodedString()
        let broken = scratch.file("broken.json")
        try writeJSON(document, to: broken)
        let brokenOutcome = try registre(["verify-consistency", "--proof", broken, "--old", foreign, "--public-key", history.publicKey])
        #expect(!brokenOutcome.exited(0) && !(brokenOutcome.out + brokenOutcome.err).contains("not of journal"), "\(brokenOutcome)")
        // The genuine kept checkpoint still pins the proof.
        #expect(try registre(["verify-consistency", "--proof", proof, "--old", old, "--public-key", history.publicKey]).exited(0))
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

    /// Signed earlier than the event it covers: the proof holds (the key signed that state), so
    /// the receipt holds, with a note that the signed time bounds nothing; a writer before
    /// 2026-11-29 signed at its bare clock, so an honest journal whose clock was set back has such
    /// checkpoints. A covered event recorded after the checkpoint's own last event does not hold.
    @Test func aReceiptSignedBeforeItsEventWasRecordedHoldsWithANote() throws {
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
        #expect(outcome.exited(0), "\(outcome)")
        #expect(outcome.out.contains("receipt holds") && outcome.out.contains("note:"), "\(outcome.out)")
        #expect(outcome.out.contains(WireFormat.timestamp(micros: recordedAt)) && outcome.out.contains(WireFormat.timestamp(micros: backdated.signedAtMicros)),
                "the note names both times: \(outcome.out)")

        // The checkpoint's own last event said to be earlier than this one: that does not hold.
        let shortened = try signer(history).sign(journalID: checkpoint.journalID, position: checkpoint.position, chainHash: checkpoint.chainHash,
                                                 merkleRoot: checkpoint.merkleRoot, signedAtMicros: checkpoint.signedAtMicros,
                                                 lastRecordedAtMicros: recordedAt - 1)
        document["checkpoint"] = Data(shortened.encoded()).base64EncodedString()
        summary["signedAt"] = WireFormat.timestamp(micros: shortened.signedAtMicros)
        document["checkpointSummary"] = summary
        try writeJSON(document, to: path)
        let refused = try registre(["verify-receipt", path, "--public-key", history.publicKey])
        #expect(refused.exited(1) && refused.out.contains("receipt does NOT hold"), "\(refused)")
        #expect(refused.out.contains(WireFormat.timestamp(micros: recordedAt)), "\(refused.out)")
    }
}
