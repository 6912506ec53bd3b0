import Foundation
import Journal

/// Proof that a later checkpoint extends an earlier one: the RFC 6962 consistency proof between
/// their Merkle trees. It holds only if the first `old.position` events are exactly the same in
/// both, so it catches a history rewritten by someone who holds the signing key too.
public struct ConsistencyProof: Sendable, Equatable {
    public static let format = "registre-consistency/1"

    public var old: Checkpoint
    public var new: Checkpoint
    public var proof: [Digest32]

    public init(old: Checkpoint, new: Checkpoint, proof: [Digest32]) {
        self.old = old
        self.new = new
        self.proof = proof
    }

    /// Computes the proof from the journal; it holds only if the journal still agrees with both.
    /// A checkpoint that says nothing about this journal is refused first, as
    /// `untrustedCheckpoint`, so that it is never taken for the journal's rewrite or rollback:
    /// one of another journal, and with `publicKey`, one that the key did not sign.
    public static func make(directory: String, old: Checkpoint, new: Checkpoint,
                            publicKey: CheckpointPublicKey? = nil) throws(ProofError) -> ConsistencyProof {
        let (reader, journalID) = try ProofError.openJournal(directory)
        for (name, c) in [("old", old), ("new", new)] {
            if let publicKey, !c.isSigned(by: publicKey) {
                throw .untrustedCheckpoint("untrusted checkpoint: the \(name) checkpoint (position \(c.position)) is not signed by the public key \(publicKey.keyID.hex.prefix(16))…"
                    + (c.keyID == publicKey.keyID ? " (its signature does not match its contents: forged or altered)" : " (it names key \(c.keyID.hex.prefix(16))…)")
                    + ": it proves nothing about the journal")
            }
            guard c.journalID == journalID else {
                throw .untrustedCheckpoint("foreign checkpoint: the \(name) checkpoint is of another journal (\(c.journalID.uuidString.lowercased())), the journal in \(directory) is \(journalID.uuidString.lowercased()): it proves nothing about this journal")
            }
        }
        guard old.position <= new.position else {
            throw .malformed("the old checkpoint (position \(old.position)) is later than the new one (position \(new.position)); swap them")
        }
        do {
            let hashes = try MerkleProof.hashes(of: MerkleProof.consistencyRanges(oldSize: old.position, newSize: new.position), inJournal: reader)
            return ConsistencyProof(old: old, new: new, proof: hashes)
        } catch let short as MerkleProof.TooFewEvents {
            throw .doesNotHold("the journal holds \(short.held) events, fewer than the \(new.position) the new checkpoint signs: it was cut or rolled back behind it")
        } catch { throw .unusableJournal("\(error)") }
    }

    /// Checks signatures, journal ids, and the proof. Throws with the reason when it does not hold.
    public func verify(publicKey: CheckpointPublicKey) throws(ProofError) {
        guard old.isSigned(by: publicKey) else { throw .doesNotHold("the old checkpoint's signature does not verify with the public key") }
        guard new.isSigned(by: publicKey) else { throw .doesNotHold("the new checkpoint's signature does not verify with the public key") }
        guard old.journalID == new.journalID else { throw .doesNotHold("the checkpoints are of two different journals") }
        guard old.position <= new.position else { throw .doesNotHold("the old checkpoint covers more events than the new one") }
        if old.position == new.position, old.chainHash != new.chainHash {
            throw .doesNotHold("both checkpoints cover \(old.position) events but sign different chain hashes: two different histories")
        }
        guard MerkleProof.verifyConsistency(oldSize: old.position, newSize: new.position, oldRoot: old.merkleRoot, newRoot: new.merkleRoot, proof: proof) else {
            throw .doesNotHold("the first \(old.position) events under the new checkpoint are not those signed by the old one: history was rewritten")
        }
    }

    public func json() -> [UInt8] {
        let text = """
        {
          "format": "\(Self.format)",
          "old": "\(Data(old.encoded()).base64EncodedString())",
          "new": "\(Data(new.encoded()).base64EncodedString())",
          "proof": [\(proof.map { "\"\($0.hex)\"" }.joined(separator: ", "))],
          "oldSummary": \(CheckpointSummary(old).json),
          "newSummary": \(CheckpointSummary(new).json)
        }

        """
        return Array(text.utf8)
    }

    public init(json bytes: [UInt8]) throws(ProofError) {
        let object = try ProofJSON.object(bytes, what: "consistency proof", fields: ["format", "old", "new", "proof", "oldSummary", "newSummary"])
        guard object["format"] as? String == Self.format else { throw .malformed("\"format\" must be \"\(Self.format)\"") }
        old = try ProofJSON.checkpoint(object["old"], field: "old")
        new = try ProofJSON.checkpoint(object["new"], field: "new")
        proof = try ProofJSON.digests(object["proof"], field: "proof")
        // A summary that says something else than its signed checkpoint is a readable part that
        // lies, as a receipt's `checkpointSummary` or `event` would be: the proof does not hold
        // (exit 1), the same verdict as for a receipt; it is not unreadable input.
        for (field, checkpoint) in [("oldSummary", old), ("newSummary", new)] {
            if let summary = object[field], !ProofJSON.sameJSON(summary, as: Array(CheckpointSummary(checkpoint).json.utf8)) {
                throw .doesNotHold("\"\(field)\" does not say what the checkpoint it summarises says")
            }
        }
    }
}
