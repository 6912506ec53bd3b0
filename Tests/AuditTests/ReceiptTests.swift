import Audit
import Foundation
import Testing
@testable import Journal

@Suite("Receipts and consistency proofs")
struct ReceiptTests {
    @Test("a receipt verifies offline, and fails once any part of it is altered")
    func receipts() throws {
        let dir = TemporaryDirectory("receipt")
        try History.write(slots: 3, into: dir.path)
        let events = try JournalReader(directory: dir.path).read()
        let booking = events.first { $0.type == "AppointmentBooked" && $0.position > 12 }!
        let receipt = try Receipt.make(directory: dir.path, eventID: booking.id, publicKey: testSigner.publicKey)
        #expect(receipt.checkpoint.position > booking.position)
        #expect(receipt.checkpoint.position <= booking.position + 12, "the first checkpoint after the event is used")
        let json = receipt.json()
        let verified = try Receipt.verify(json: json, publicKey: testSigner.publicKey)
        #expect(verified.event == booking)

        let text = String(decoding: json, as: UTF8.self)
        func fails(_ altered: String, _ what: String) {
            #expect(throws: ProofError.self, "\(what)") { try Receipt.verify(json: Array(altered.utf8), publicKey: testSigner.publicKey) }
        }
        // The readable event.
        fails(text.replacingOccurrences(of: "\"type\":\"AppointmentBooked\"", with: "\"type\":\"AppointmentCancelledByApplicant\""), "event type")
        // The record bytes.
        var record = receipt.record
        record[record.count - 3] ^= 1
        fails(text.replacingOccurrences(of: Data(receipt.record).base64EncodedString(), with: Data(record).base64EncodedString()), "record")
        // A proof hash.
        let first = receipt.inclusionProof[0].hex
        fails(text.replacingOccurrences(of: first, with: String(first.reversed())), "proof hash")
        // The checkpoint's root, so its signature breaks.
        var checkpoint = receipt.checkpoint.encoded()
        checkpoint[75] ^= 1
        fails(text.replacingOccurrences(of: Data(receipt.checkpoint.encoded()).base64EncodedString(), with: Data(checkpoint).base64EncodedString()), "checkpoint")
        // Another key.
        #expect(throws: ProofError.self) { try Receipt.verify(json: json, publicKey: CheckpointSigner().publicKey) }
        // Garbage.
        #expect(throws: ProofError.self) { try Receipt.verify(json: Array("[1,2]".utf8), publicKey: testSigner.publicKey) }
    }

    @Test("a receipt's readable parts cannot be edited: no repeated key, no field it does not define, no summary or size that differs")
    func receiptReadablePartsAreBound() throws {
        let dir = TemporaryDirectory("receipt-readable")
        try History.write(slots: 3, into: dir.path)
        let booking = try JournalReader(directory: dir.path).read().first { $0.type == "AppointmentBooked" }!
        let receipt = try Receipt.make(directory: dir.path, eventID: booking.id, publicKey: testSigner.publicKey)
        let text = String(decoding: receipt.json(), as: UTF8.self)
        func refused(_ altered: String, _ what: String) {
            #expect(altered != text, "the alteration applies: \(what)")
            #expect(throws: ProofError.self, "\(what)") { try Receipt.verify(json: Array(altered.utf8), publicKey: testSigner.publicKey) }
        }
        // A reader that keeps the first of two values would see this type.
        refused(text.replacingOccurrences(of: "\"type\":\"AppointmentBooked\"", with: "\"type\":\"AppointmentCancelledByApplicant\",\"type\":\"AppointmentBooked\""),
                "a repeated key inside the event")
        refused(text.replacingOccurrences(of: "{\n  \"format\"", with: "{\n  \"note\": \"this booking was cancelled\",\n  \"format\""), "an unknown field")
        let size = "\"treeSize\": \(receipt.checkpoint.position)"
        refused(text.replacingOccurrences(of: size, with: size + ".9"), "a fractional tree size")
        refused(text.replacingOccurrences(of: "\"position\": \(receipt.checkpoint.position)", with: "\"position\": \(receipt.checkpoint.position + 1000)"),
                "the checkpoint summary's position")
        #expect(try Receipt.verify(json: receipt.json(), publicKey: testSigner.publicKey).event == booking)
    }

    @Test("the receipt of a journal's only event, under a checkpoint of one event, verifies (treeSize 1)")
    func receiptOfTheOnlyEvent() throws {
        let dir = TemporaryDirectory("receipt-one")
        let journal = try Journal.open(directory: dir.path, options: auditOptions(every: 10))
        let only = ProposedEvent(stream: "note-1", type: "Noted", id: UUID(), data: Array(#"{"n":1}"#.utf8))
        _ = try journal.appendAndWait(AppendRequest(events: [only]))
        journal.close()
        let receipt = try Receipt.make(directory: dir.path, eventID: only.id!, publicKey: testSigner.publicKey)
        #expect(receipt.checkpoint.position == 1)
        #expect(String(decoding: receipt.json(), as: UTF8.self).contains("\"treeSize\": 1,"))
        #expect(try Receipt.verify(json: receipt.json(), publicKey: testSigner.publicKey).event.id == only.id)
    }

    @Test("no receipt for an unknown event, nor from a journal that no longer matches its checkpoint")
    func receiptRefusals() throws {
        let dir = TemporaryDirectory("receipt-refused")
        try History.write(slots: 2, into: dir.path)
        #expect(throws: ProofError.self) { try Receipt.make(directory: dir.path, eventID: UUID(), publicKey: testSigner.publicKey) }
        var events = try JournalReader(directory: dir.path).read()
        let target = events[20]
        events[3].metadata = Array(#"{"edited":true}"#.utf8)
        try Forger.rewrite(dir.path, events: events)
        #expect(throws: ProofError.self) { try Receipt.make(directory: dir.path, eventID: target.id, publicKey: testSigner.publicKey) }
    }

    @Test("a journal rolled back behind the new checkpoint does not hold it: that is the journal's fault, not unusable input")
    func consistencyAgainstARolledBackJournal() throws {
        let (dir, before, _) = try historyWithEarlierCopy("consistency-rollback", slots: 3, split: 20, options: auditOptions(every: 10))
        let old = dir.checkpoint(dir.checkpointNames.first!), new = dir.checkpoint(dir.checkpointNames.last!)
        #expect { try ConsistencyProof.make(directory: before.path, old: old, new: new) } throws: { error in
            guard case ProofError.doesNotHold(let reason) = error as! ProofError else { return false }
            return reason.contains("rolled back")
        }
    }

    @Test("checkpoints of one history are consistent pairwise; across a rewritten history they are not")
    func consistency() throws {
        let dir = TemporaryDirectory("consistency")
        try History.write(slots: 3, into: dir.path)
        let checkpoints = dir.checkpointNames.map(dir.checkpoint)
        #expect(checkpoints.count >= 5)
        for (i, old) in checkpoints.enumerated() {
            for new in checkpoints[i...] {
                let proof = try ConsistencyProof.make(directory: dir.path, old: old, new: new)
                try proof.verify(publicKey: testSigner.publicKey)
                let reread = try ConsistencyProof(json: proof.json())
                #expect(reread == proof)
            }
        }
        // The key holder rewrites event 4 and re-signs the new history: each new checkpoint is
        // validly signed, yet none extends an old one taken after position 4.
        let old = checkpoints[1]
        var events = try JournalReader(directory: dir.path).read()
        events[4].metadata = Array(#"{"edited":true}"#.utf8)
        try Forger.rewrite(dir.path, events: events)
        let reader = try JournalReader(directory: dir.path)
        let all = try reader.read()
        var frontier = MerkleFrontier()
        for e in all { frontier.append(leaf: Array(WireRecord.bytes(of: e)).withUnsafeBytes { MerkleHash.leaf($0) }) }
        let resigned = testSigner.sign(journalID: old.journalID, position: UInt64(all.count), chainHash: .zero, merkleRoot: frontier.root,
                                       signedAtMicros: 0, lastRecordedAtMicros: 0)
        let proof = try ConsistencyProof.make(directory: dir.path, old: old, new: resigned)
        #expect(throws: ProofError.self) { try proof.verify(publicKey: testSigner.publicKey) }
    }
}

/// The record bytes of a materialised event, as the journal stores them.
enum WireRecord {
    static func bytes(of e: RecordedEvent) -> [UInt8] {
        var w = ByteWriter()
        RecordCodec.append(position: e.position, version: e.version, id: e.id, recordedAtMicros: e.recordedAtMicros, endsAppend: e.endsAppend,
                           stream: e.stream, type: e.type, metadata: e.metadata, data: e.data, to: &w)
        return w.bytes
    }
}
