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
        case .untrustedCheckpoint(let m): return ("untrustedCheckpoint", m)
        }
    }

    // MARK: Times

    @Test("a receipt signed before its event, or its checkpoint's last event, was recorded holds with a note naming both times; an event later than the checkpoint's last one does not hold")
    func recordedAfterSigned() throws {
        let dir = TemporaryDirectory("receipt-times")
        try History.write(slots: 3, into: dir.path)
        var found: (RecordedEvent, Receipt)? = nil
        for e in try JournalReader(directory: dir.path).read() where e.type == "AppointmentBooked" {
            let r = try Receipt.make(directory: dir.path, eventID: e.id, publicKey: testSigner.publicKey)
            if e.recordedAtMicros < r.checkpoint.lastRecordedAtMicros { found = (e, r); break }
        }
        let (event, genuine) = try #require(found, "a booking recorded before the last event its checkpoint covers")
        let c = genuine.checkpoint
        #expect(c.lastRecordedAtMicros <= c.signedAtMicros, "the writer signed after the last event it covers")
        func signed(at time: Int64) -> [UInt8] {
            var r = genuine
            r.checkpoint = testSigner.sign(journalID: c.journalID, position: c.position, chainHash: c.chainHash, merkleRoot: c.merkleRoot,
                                           signedAtMicros: time, lastRecordedAtMicros: c.lastRecordedAtMicros)
            return r.json()
        }
        let stamp = { (micros: Int64) in WireFormat.timestamp(micros: micros) }

        // Signed a microsecond before the event was recorded: holds, and says so.
        let early = event.recordedAtMicros - 1
        let first = try Receipt.verify(json: signed(at: early), publicKey: testSigner.publicKey)
        #expect(first.notes.count == 1 && first.notes[0].contains(stamp(early)) && first.notes[0].contains(stamp(c.lastRecordedAtMicros)), "\(first.notes)")
        // Signed at the event's time, but before the last event the checkpoint itself says it covers.
        let second = try Receipt.verify(json: signed(at: event.recordedAtMicros), publicKey: testSigner.publicKey)
        #expect(second.notes.count == 1 && second.notes[0].contains(stamp(c.lastRecordedAtMicros)), "\(second.notes)")
        // A checkpoint whose last covered event is earlier than this event, which it covers:
        // recorded-at times never go down along the log.
        var backdated = genuine
        backdated.checkpoint = testSigner.sign(journalID: c.journalID, position: c.position, chainHash: c.chainHash, merkleRoot: c.merkleRoot,
                                               signedAtMicros: c.signedAtMicros, lastRecordedAtMicros: event.recordedAtMicros - 1)
        #expect { try Receipt.verify(json: backdated.json(), publicKey: testSigner.publicKey) } throws: { error in
            let (kind, message) = Self.reason(error)
            return kind == "doesNotHold" && message.contains(stamp(event.recordedAtMicros)) && message.contains(stamp(event.recordedAtMicros - 1))
        }
        // At or after both, it holds without a note: "not later than", equal times included.
        #expect(try Receipt.verify(json: signed(at: c.lastRecordedAtMicros), publicKey: testSigner.publicKey).notes == [])
        #expect(try Receipt.verify(json: genuine.json(), publicKey: testSigner.publicKey).notes == [])
    }

    /// The writer records an event at no earlier time than the last one (`max(clock, last)`), so
    /// after its clock is set back it must sign no earlier than the events it covers either.
    @Test("a writer whose clock went back signs no checkpoint before the last event it covers, and its receipts hold")
    func clockSetBack() throws {
        let dir = TemporaryDirectory("clock-back")
        let clock = SettableClock(1_725_354_000_000_000)
        var options = auditOptions(every: 1_000)
        options.clock = { clock.now }
        let journal = try Journal.open(directory: dir.path, options: options)
        let first = ProposedEvent(stream: "note-1", type: "Noted", id: UUID(), data: Array(#"{"n":1}"#.utf8))
        _ = try journal.appendAndWait(AppendRequest(events: [first]))
        clock.now -= 3_600_000_000  // an hour back
        let second = ProposedEvent(stream: "note-1", type: "Noted", id: UUID(), data: Array(#"{"n":2}"#.utf8))
        _ = try journal.appendAndWait(AppendRequest(events: [second]))
        journal.close()
        let checkpoint = dir.checkpoint(try #require(dir.checkpointNames.last))
        #expect(checkpoint.position == 2)
        #expect(checkpoint.lastRecordedAtMicros == 1_725_354_000_000_000, "the second event was recorded at the first one's time")
        #expect(checkpoint.signedAtMicros >= checkpoint.lastRecordedAtMicros, "signed at \(checkpoint.signedAtMicros), last event at \(checkpoint.lastRecordedAtMicros)")
        #expect(try Audit.Auditor.audit(directory: dir.path, options: { var o = AuditOptions(); o.publicKey = testSigner.publicKey; return o }()).isClean)
        for id in [first.id!, second.id!] {
            let receipt = try Receipt.make(directory: dir.path, eventID: id, publicKey: testSigner.publicKey)
            #expect(try Receipt.verify(json: receipt.json(), publicKey: testSigner.publicKey).event.id == id)
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

    // MARK: Checkpoints of another journal, or forged

    @Test("a checkpoint of another journal, signed by the same key, is skipped by a receipt, not taken for a rewrite")
    func receiptSkipsAForeignCheckpoint() throws {
        let dir = TemporaryDirectory("receipt-foreign")
        try History.write(slots: 3, into: dir.path)
        let event = try #require(try JournalReader(directory: dir.path).read().first { $0.type == "AppointmentBooked" && $0.position > 12 })
        let genuine = try Receipt.make(directory: dir.path, eventID: event.id, publicKey: testSigner.publicKey)
        #expect(genuine.checkpoint.position > event.position + 1)
        let foreign = testSigner.sign(journalID: UUID(), position: event.position + 1, chainHash: .zero, merkleRoot: Digest32(bytes: Array(repeating: 3, count: 32)),
                                      signedAtMicros: genuine.checkpoint.signedAtMicros, lastRecordedAtMicros: event.recordedAtMicros)
        let name = Checkpoint.fileName(position: event.position + 1)
        try Data(foreign.encoded()).write(to: URL(fileURLWithPath: dir.path + "/checkpoints/" + name))
        for key in [testSigner.publicKey, nil] {
            var notes: [String] = []
            let receipt = try Receipt.make(directory: dir.path, eventID: event.id, publicKey: key) { notes.append($0) }
            #expect(receipt == genuine)
            #expect(notes.count == 1 && notes[0].contains(name) && notes[0].contains("another journal"), "\(notes)")
        }
    }

    @Test("a forged checkpoint is skipped by a receipt with the key, and without it is untrusted, not a rewrite")
    func receiptAndAForgedCheckpoint() throws {
        let dir = TemporaryDirectory("receipt-forged")
        try History.write(slots: 3, into: dir.path)
        let event = try #require(try JournalReader(directory: dir.path).read().first { $0.type == "AppointmentBooked" && $0.position > 12 })
        let genuine = try Receipt.make(directory: dir.path, eventID: event.id, publicKey: testSigner.publicKey)
        let name = Checkpoint.fileName(position: genuine.checkpoint.position)
        modify(dir.file("checkpoints/" + name)) { $0[80] ^= 1 }  // its Merkle root: the signature breaks
        var notes: [String] = []
        let receipt = try Receipt.make(directory: dir.path, eventID: event.id, publicKey: testSigner.publicKey) { notes.append($0) }
        #expect(receipt.checkpoint.position > genuine.checkpoint.position)
        #expect(try Receipt.verify(json: receipt.json(), publicKey: testSigner.publicKey).event == event)
        #expect(notes.count == 1 && notes[0].contains(name) && notes[0].contains("not signed by the public key"), "\(notes)")
        #expect { try Receipt.make(directory: dir.path, eventID: event.id, publicKey: nil) } throws: { error in
            guard case ProofError.untrustedCheckpoint(let message) = error as! ProofError else { return false }
            return message.contains(name) && message.contains("signature was not checked") && !message.contains("rewritten")
        }
    }

    @Test("consistency between checkpoints forged, or of another journal, is untrusted input, never a rewrite or a rollback")
    func consistencyAndUntrustedCheckpoints() throws {
        let dir = TemporaryDirectory("consistency-untrusted")
        let end = try History.write(slots: 3, into: dir.path)
        let names = dir.checkpointNames
        let old = dir.checkpoint(names[1]), new = dir.checkpoint(names[names.count - 1])
        let key = testSigner.publicKey
        func untrusted(_ o: Checkpoint, _ n: Checkpoint, _ words: [String], _ what: Comment) {
            #expect(what) { try ConsistencyProof.make(directory: dir.path, old: o, new: n, publicKey: key) } throws: { error in
                guard case ProofError.untrustedCheckpoint(let message) = error as! ProofError else { return false }
                return words.allSatisfy(message.contains) && !message.contains("rewritten") && !message.contains("rolled back")
            }
        }
        // Forged: a byte of the root changed; or a position beyond the journal's end.
        var bytes = new.encoded()
        bytes[80] ^= 1
        untrusted(old, try Checkpoint(decoding: bytes), ["new checkpoint", "not signed by the public key"], "forged new")
        bytes = new.encoded()
        withUnsafeBytes(of: (end + 100).littleEndian) { bytes.replaceSubrange(32..<40, with: $0) }
        untrusted(old, try Checkpoint(decoding: bytes), ["new checkpoint", "not signed by the public key"], "forged new, beyond the end")
        bytes = old.encoded()
        bytes[bytes.count - 1] ^= 1
        untrusted(try Checkpoint(decoding: bytes), new, ["old checkpoint", "not signed by the public key"], "forged old")
        // Another journal's, signed by the same key: both, or one.
        let other = UUID()
        let foreignOld = testSigner.sign(journalID: other, position: old.position, chainHash: .zero, merkleRoot: Digest32(bytes: Array(repeating: 1, count: 32)),
                                         signedAtMicros: old.signedAtMicros, lastRecordedAtMicros: old.lastRecordedAtMicros)
        let foreignNew = testSigner.sign(journalID: other, position: new.position, chainHash: .zero, merkleRoot: Digest32(bytes: Array(repeating: 2, count: 32)),
                                         signedAtMicros: new.signedAtMicros, lastRecordedAtMicros: new.lastRecordedAtMicros)
        untrusted(foreignOld, foreignNew, ["old checkpoint", "another journal", other.uuidString.lowercased(), old.journalID.uuidString.lowercased()], "both foreign")
        untrusted(old, foreignNew, ["new checkpoint", "another journal"], "new foreign")
        // The genuine pair holds, through the same call.
        try ConsistencyProof.make(directory: dir.path, old: old, new: new, publicKey: key).verify(publicKey: key)
    }

    // MARK: The audit and other journals' checkpoints

    @Test("an audit reports another journal's checkpoint, in the journal or given as trusted, as such (otherJournal), and nothing else")
    func otherJournalInTheAudit() throws {
        let dir = TemporaryDirectory("audit-other-journal")
        let end = try History.write(slots: 3, into: dir.path, options: auditOptions(every: 10))
        var options = AuditOptions()
        options.publicKey = testSigner.publicKey
        options.checkRules = false
        #expect(try Auditor.audit(directory: dir.path, options: options).isClean)
        let genuine = dir.checkpoint(dir.checkpointNames.last!)
        let other = UUID()
        // Signed by the same key, for the same position, chain hash and root, but another journal id.
        let foreign = testSigner.sign(journalID: other, position: genuine.position, chainHash: genuine.chainHash, merkleRoot: genuine.merkleRoot,
                                      signedAtMicros: genuine.signedAtMicros, lastRecordedAtMicros: genuine.lastRecordedAtMicros)

        options.trustedCheckpoint = ("trusted.ckpt", foreign)
        let trusted = try Auditor.audit(directory: dir.path, options: options)
        #expect(trusted.findings.map(\.rule) == ["trusted.otherJournal"], "\(trusted.findings)")
        #expect(trusted.findings.first.map { $0.file == "trusted.ckpt" && $0.message.contains(other.uuidString.lowercased())
            && $0.message.contains(genuine.journalID.uuidString.lowercased()) } == true, "\(trusted.findings)")

        options.trustedCheckpoint = nil
        let name = Checkpoint.fileName(position: end + 5)
        let misplaced = testSigner.sign(journalID: other, position: end + 5, chainHash: .zero, merkleRoot: Digest32(bytes: Array(repeating: 4, count: 32)),
                                        signedAtMicros: genuine.signedAtMicros, lastRecordedAtMicros: genuine.lastRecordedAtMicros)
        try Data(misplaced.encoded()).write(to: URL(fileURLWithPath: dir.file("checkpoints/" + name)))
        let inside = try Auditor.audit(directory: dir.path, options: options)
        // Its position is beyond the end and its root is not the log's: neither is held against the journal.
        #expect(inside.findings.map(\.rule) == ["checkpoint.otherJournal"], "\(inside.findings)")
        #expect(inside.findings.first?.file == "checkpoints/" + name)
        #expect(inside.checkpointsVerified == dir.checkpointNames.count - 1)
    }

    @Test("an offline consistency proof between checkpoints of two journals does not hold")
    func offlineProofAcrossTwoJournals() throws {
        let dir = TemporaryDirectory("proof-two-journals")
        try History.write(slots: 3, into: dir.path)
        let names = dir.checkpointNames
        let old = dir.checkpoint(names[1]), new = dir.checkpoint(names[names.count - 1])
        let genuine = try ConsistencyProof.make(directory: dir.path, old: old, new: new)
        var crossed = genuine
        crossed.new = testSigner.sign(journalID: UUID(), position: new.position, chainHash: new.chainHash, merkleRoot: new.merkleRoot,
                                      signedAtMicros: new.signedAtMicros, lastRecordedAtMicros: new.lastRecordedAtMicros)
        #expect { try ConsistencyProof(json: crossed.json()).verify(publicKey: testSigner.publicKey) } throws: { error in
            let (kind, message) = Self.reason(error)
            return kind == "doesNotHold" && message.contains("two different journals")
        }
        try ConsistencyProof(json: genuine.json()).verify(publicKey: testSigner.publicKey)
    }
}

final class SettableClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int64
    init(_ start: Int64) { value = start }
    var now: Int64 {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}
