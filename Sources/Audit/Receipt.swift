import Foundation
import Journal

/// Proof, checkable offline with the public key alone, that an event is in the journal: the
/// event's exact record bytes, its RFC 6962 audit path, and a signed checkpoint whose Merkle
/// root the path leads to (docs/AUDIT.md, "Receipts").
public struct Receipt: Sendable, Equatable {
    public static let format = "registre-receipt/1"

    /// The record exactly as stored (the Merkle leaf's contents).
    public var record: [UInt8]
    public var inclusionProof: [Digest32]
    public var checkpoint: Checkpoint

    public init(record: [UInt8], inclusionProof: [Digest32], checkpoint: Checkpoint) {
        self.record = record
        self.inclusionProof = inclusionProof
        self.checkpoint = checkpoint
    }

    /// Builds the receipt of the event with `id` under the first checkpoint of this journal that
    /// covers it and (when `publicKey` is given) is signed by that key. A checkpoint of another
    /// journal, or with the key one it did not sign, proves nothing about this journal: it is
    /// skipped, and `note` says which and why. The proof is checked before it is returned; a
    /// journal that does not match the checkpoint is called rewritten only when the key signed
    /// that checkpoint (without a key, `untrustedCheckpoint`: a forged checkpoint looks the same).
    public static func make(directory: String, eventID id: UUID, publicKey: CheckpointPublicKey?,
                            note: (String) -> Void = { _ in }) throws(ProofError) -> Receipt {
        let (reader, journalID) = try ProofError.openJournal(directory)
        var found: [UInt8]? = nil
        do {
            try reader.forEachEvent { view in
                if view.id == id { found = Array(view.record) }
                return found == nil
            }
        } catch { throw .unusableJournal("\(error)") }
        guard let record = found, let event = record.withUnsafeBytes({ raw in EventView.validating(raw).map { (position: $0.position, recordedAt: $0.recordedAtMicros) } }) else {
            throw .notFound("no event with id \(id.uuidString.lowercased()) in \(directory)")
        }
        let position = event.position
        let covering = Checkpoint.files(inJournal: directory)
            .compactMap { file in (try? file.checkpoint.get()).map { (file: "checkpoints/" + file.name, checkpoint: $0) } }
            .filter { $0.checkpoint.position > position }
            .sorted { $0.checkpoint.position < $1.checkpoint.position }
        var chosen: (file: String, checkpoint: Checkpoint)? = nil
        for candidate in covering {
            let c = candidate.checkpoint
            if c.journalID != journalID {
                note("\(candidate.file) is a checkpoint of another journal (\(c.journalID.uuidString.lowercased()); this one is \(journalID.uuidString.lowercased())): skipped, it proves nothing about this journal")
            } else if let publicKey, !c.isSigned(by: publicKey) {
                note("\(candidate.file) is not signed by the public key \(publicKey.keyID.hex.prefix(16))…\(c.keyID == publicKey.keyID ? " (its signature does not match its contents)" : ""): skipped, it proves nothing about this journal")
            } else {
                chosen = candidate
                break
            }
        }
        guard let chosen else {
            throw .notFound("no checkpoint of this journal\(publicKey == nil ? "" : " signed by the public key") covers position \(position) yet; the writer signs every few events and at close")
        }
        let (file, checkpoint) = chosen
        let proof: [Digest32]
        do {
            proof = try MerkleProof.hashes(of: MerkleProof.inclusionRanges(leaf: position, treeSize: checkpoint.position), inJournal: reader)
        } catch { throw .unusableJournal("\(error)") }
        let receipt = Receipt(record: record, inclusionProof: proof, checkpoint: checkpoint)
        guard receipt.proofHolds else {
            guard publicKey != nil else {
                throw .untrustedCheckpoint("untrusted checkpoint: the journal does not match \(file) (position \(checkpoint.position)), whose signature was not checked (no public key given): without the key a forged checkpoint cannot be told from a changed journal; give the public key, or run `registre audit`")
            }
            throw .doesNotHold("the journal no longer matches \(file), the checkpoint of position \(checkpoint.position) signed by the key: it was rewritten (run `registre audit`)")
        }
        if let contradiction = timeContradiction(recordedAt: event.recordedAt, checkpoint: checkpoint) {
            throw .doesNotHold("\(file) contradicts itself: \(contradiction)")
        }
        for n in timeNotes(recordedAt: event.recordedAt, checkpoint: checkpoint) { note("\(file): \(n)") }
        return receipt
    }

    /// Why an event recorded at `recordedAt` cannot be covered by `checkpoint`, or nil.
    /// Recorded-at times never go down along the log (the writer records at the later of its
    /// clock and the last time), so no covered event is later than the last one the checkpoint
    /// covers, whose time it signs itself (offset 112).
    static func timeContradiction(recordedAt: Int64, checkpoint c: Checkpoint) -> String? {
        guard recordedAt > c.lastRecordedAtMicros else { return nil }
        return "the event was recorded at \(WireFormat.timestamp(micros: recordedAt)), after the last event the checkpoint covers (\(WireFormat.timestamp(micros: c.lastRecordedAtMicros))); recorded-at times never go down along the log"
    }

    /// A checkpoint signed earlier than an event it covers: the writer's clock was behind the
    /// times it had recorded (set back, or a writer before 2026-11-29, which signed at its bare
    /// clock), or the key holder backdated the signature. The proof still holds, so this is said,
    /// not failed: the signed time is then no bound on when the event was in the journal.
    static func timeNotes(recordedAt: Int64, checkpoint c: Checkpoint) -> [String] {
        let signed = WireFormat.timestamp(micros: c.signedAtMicros)
        let latest = max(recordedAt, c.lastRecordedAtMicros)
        guard latest > c.signedAtMicros else { return [] }
        return ["the checkpoint was signed at \(signed), before \(recordedAt == latest ? "the event" : "the last event it covers") was recorded (\(WireFormat.timestamp(micros: latest))): the writer's clock was behind (or the signature backdated), so the signed time bounds nothing"]
    }

    /// True when the audit path leads from the record to the checkpoint's Merkle root.
    var proofHolds: Bool {
        guard let position = record.withUnsafeBytes({ EventView.validating($0)?.position }) else { return false }
        let leaf = record.withUnsafeBytes { MerkleHash.leaf($0) }
        return MerkleProof.verifyInclusion(leafHash: leaf, leafIndex: position, treeSize: checkpoint.position,
                                           proof: inclusionProof, root: checkpoint.merkleRoot)
    }

    // MARK: JSON

    /// The receipt document. `event` is the wire form of the record, for people; verification
    /// recomputes it from `record` and refuses a receipt where they differ.
    public func json() -> [UInt8] {
        var out: [UInt8] = []
        func line(_ key: String, _ value: String, last: Bool = false) {
            out += Array("  \"\(key)\": \(value)\(last ? "" : ",")\n".utf8)
        }
        out += Array("{\n".utf8)
        line("format", "\"\(Self.format)\"")
        var event: [UInt8] = []
        record.withUnsafeBytes { raw in
            if let view = EventView.validating(raw) { WireFormat.appendJSON(of: view, to: &event) }
        }
        out += Array("  \"event\": ".utf8) + event + Array(",\n".utf8)
        line("record", "\"\(Data(record).base64EncodedString())\"")
        line("leafHash", "\"\(record.withUnsafeBytes { MerkleHash.leaf($0) }.hex)\"")
        line("treeSize", "\(checkpoint.position)")
        line("inclusionProof", "[" + inclusionProof.map { "\"\($0.hex)\"" }.joined(separator: ", ") + "]")
        line("checkpoint", "\"\(Data(checkpoint.encoded()).base64EncodedString())\"")
        line("checkpointSummary", CheckpointSummary(checkpoint).json, last: true)
        out += Array("}\n".utf8)
        return out
    }

    /// What a verified receipt proves, for the person reading it.
    public struct Verified: Sendable, Equatable {
        public var event: RecordedEvent
        public var checkpoint: Checkpoint
        /// What holds but deserves saying (`timeNotes`).
        public var notes: [String] = []
    }

    /// Checks a receipt document against a public key, with nothing else: signature, record,
    /// audit path, and agreement of the readable event with the record.
    public static func verify(json bytes: [UInt8], publicKey: CheckpointPublicKey) throws(ProofError) -> Verified {
        let object = try ProofJSON.object(bytes, what: "receipt", fields: ["format", "event", "record", "leafHash", "treeSize", "inclusionProof",
                                                                          "checkpoint", "checkpointSummary"])
        guard object["format"] as? String == format else { throw .malformed("\"format\" must be \"\(format)\"") }
        let checkpoint = try ProofJSON.checkpoint(object["checkpoint"], field: "checkpoint")
        guard checkpoint.isSigned(by: publicKey) else {
            throw .doesNotHold("the checkpoint's signature does not verify with the public key \(publicKey.keyID.hex.prefix(16))…")
        }
        let record = try ProofJSON.base64(object["record"], field: "record", limit: 2 << 20)
        guard let event = record.withUnsafeBytes({ EventView.validating($0)?.materialize() }) else {
            throw .malformed("\"record\" is not a well-formed event record")
        }
        let leaf = record.withUnsafeBytes { MerkleHash.leaf($0) }
        if let given = object["leafHash"] {
            guard let text = given as? String, Digest32(hex: text) == leaf else { throw .doesNotHold("\"leafHash\" is not the hash of \"record\"") }
        }
        if let size = object["treeSize"] {
            // Compared as written: 1500.9 is not 1500, though a conversion to an integer says so.
            // (No test for a JSON boolean here: on Linux the number 1 casts to Bool as well.)
            guard let n = size as? NSNumber, n.stringValue == String(checkpoint.position) else {
                throw .doesNotHold("\"treeSize\" differs from the checkpoint's position")
            }
        }
        let proof = try ProofJSON.digests(object["inclusionProof"], field: "inclusionProof")
        guard event.position < checkpoint.position else {
            throw .doesNotHold("the event's position \(event.position) is not covered by a checkpoint of \(checkpoint.position) events")
        }
        guard MerkleProof.verifyInclusion(leafHash: leaf, leafIndex: event.position, treeSize: checkpoint.position, proof: proof, root: checkpoint.merkleRoot) else {
            throw .doesNotHold("the inclusion proof does not lead from the record to the signed Merkle root")
        }
        if let contradiction = timeContradiction(recordedAt: event.recordedAtMicros, checkpoint: checkpoint) {
            throw .doesNotHold(contradiction)
        }
        guard ProofJSON.sameJSON(object["event"], as: WireFormat.json(of: event)) else {
            throw .doesNotHold("\"event\" does not say what the signed record says")
        }
        if let summary = object["checkpointSummary"], !ProofJSON.sameJSON(summary, as: Array(CheckpointSummary(checkpoint).json.utf8)) {
            throw .doesNotHold("\"checkpointSummary\" does not say what the signed checkpoint says")
        }
        return Verified(event: event, checkpoint: checkpoint, notes: timeNotes(recordedAt: event.recordedAtMicros, checkpoint: checkpoint))
    }

}

/// Why a receipt or a consistency proof could not be made or does not hold.
public enum ProofError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A reader of the journal a proof is made from, and its id; a journal that cannot be read
    /// is `unusableJournal`.
    static func openJournal(_ directory: String) throws(ProofError) -> (JournalReader, UUID) {
        do {
            let reader = try JournalReader(directory: directory)
            return (reader, try reader.journalID())
        } catch { throw .unusableJournal("\(error)") }
    }

    case malformed(String)
    case doesNotHold(String)
    case notFound(String)
    case unusableJournal(String)
    /// A checkpoint that proves nothing about the journal in question: one the public key did
    /// not sign, one of another journal, or (no key given) one whose signature was not checked
    /// and that the journal does not match. Never evidence that the journal was rewritten.
    case untrustedCheckpoint(String)

    public var description: String {
        switch self {
        case .malformed(let m): return "malformed: \(m)"
        case .doesNotHold(let m): return "does not hold: \(m)"
        case .notFound(let m): return m
        case .unusableJournal(let m): return m
        case .untrustedCheckpoint(let m): return m
        }
    }
}

/// A readable copy of a checkpoint's fields; never trusted, the encoded bytes are.
struct CheckpointSummary {
    var json: String

    init(_ c: Checkpoint) {
        json = "{\"journalId\": \"\(c.journalID.uuidString.lowercased())\", \"position\": \(c.position), "
            + "\"chainHash\": \"\(c.chainHash.hex)\", \"merkleRoot\": \"\(c.merkleRoot.hex)\", "
            + "\"signedAt\": \"\(WireFormat.timestamp(micros: c.signedAtMicros))\", \"keyId\": \"\(c.keyID.hex)\"}"
    }
}

/// Strict readers for the fields of proof documents: hostile input gets a message naming the field.
enum ProofJSON {
    /// The document's fields, when it is strict JSON holding only `fields`. A parser keeps one
    /// value of a repeated key (which one differs between parsers), and a field no verifier reads
    /// is text nobody checked: either would let a reader be shown what the signature does not say.
    static func object(_ bytes: [UInt8], what: String, fields: Set<String>) throws(ProofError) -> [String: Any] {
        guard bytes.count <= 8 << 20 else { throw .malformed("a \(what) is at most 8 MiB, this one is \(bytes.count) bytes") }
        do throws(JSONValidation.Failure) {
            // The event's data was validated at depth 64 when appended; a receipt holds it two levels down.
            try JSONValidation.validateObject(bytes, maximumDepth: JSONValidation.maximumDepth + 4)
        } catch {
            throw .malformed("the \(what) is not a JSON object in strict JSON (one value per key): \(error)")
        }
        guard let any = try? JSONSerialization.jsonObject(with: Data(bytes)), let object = any as? [String: Any] else {
            throw .malformed("the \(what) is not a JSON object")
        }
        if let unknown = object.keys.filter({ !fields.contains($0) }).sorted().first {
            throw .malformed("the \(what) has a field \"\(unknown.prefix(60))\" that it does not define (\(fields.sorted().joined(separator: ", ")))")
        }
        return object
    }

    /// `shown` and `expected` (a JSON text) hold the same values, compared parsed and
    /// re-serialised canonically, so whitespace and key order do not matter and every value does.
    static func sameJSON(_ shown: Any?, as expected: [UInt8]) -> Bool {
        guard let shown, JSONSerialization.isValidJSONObject(shown),
              let parsed = try? JSONSerialization.jsonObject(with: Data(expected)),
              let a = try? JSONSerialization.data(withJSONObject: shown, options: [.sortedKeys]),
              let b = try? JSONSerialization.data(withJSONObject: parsed, options: [.sortedKeys]) else { return false }
        return a == b
    }

    static func base64(_ value: Any?, field: String, limit: Int) throws(ProofError) -> [UInt8] {
        guard let text = value as? String, text.utf8.count <= limit * 4 / 3 + 4, let data = Data(base64Encoded: text) else {
            throw .malformed("\"\(field)\" must be a base64 string")
        }
        return [UInt8](data)
    }

    static func checkpoint(_ value: Any?, field: String) throws(ProofError) -> Checkpoint {
        let bytes = try base64(value, field: field, limit: Checkpoint.encodedSize)
        do { return try Checkpoint(decoding: bytes) } catch { throw .malformed("\"\(field)\": \(error)") }
    }

    static func digests(_ value: Any?, field: String) throws(ProofError) -> [Digest32] {
        guard let list = value as? [Any], list.count <= 128 else { throw .malformed("\"\(field)\" must be a list of at most 128 hashes") }
        var out: [Digest32] = []
        for (i, item) in list.enumerated() {
            guard let text = item as? String, text.utf8.count == 64, let d = Digest32(hex: text) else {
                throw .malformed("\"\(field)\"[\(i)] is not a 64-digit hex SHA-256 hash")
            }
            out.append(d)
        }
        return out
    }
}
