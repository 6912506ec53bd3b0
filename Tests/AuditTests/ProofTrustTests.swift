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

    // MARK: Times

    @Test("a receipt whose event, or whose checkpoint's last event, was recorded after the checkpoint was signed does not hold, and names both times")
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

        // Signed a microsecond before the event was recorded.
        let early = event.recordedAtMicros - 1
        #expect { try Receipt.verify(json: signed(at: early), publicKey: testSigner.publicKey) } throws: { error in
            let (kind, message) = Self.reason(error)
            return kind == "doesNotHold" && message.contains(stamp(event.recordedAtMicros)) && message.contains(stamp(early)) && message.contains("recorded")
        }
        // Signed at the event's time, but before the last event the checkpoint itself says it covers.
        #expect { try Receipt.verify(json: signed(at: event.recordedAtMicros), publicKey: testSigner.publicKey) } throws: { error in
            let (kind, message) = Self.reason(error)
            return kind == "doesNotHold" && message.contains(stamp(c.lastRecordedAtMicros)) && message.contains(stamp(event.recordedAtMicros))
        }
        // At or after both, it holds: the relation is "not later than", equal times included.
        #expect(try Receipt.verify(json: signed(at: c.lastRecordedAtMicros), publicKey: testSigner.publicKey).event == event)
        #expect(try Receipt.verify(json: genuine.json(), publicKey: testSigner.publicKey).event == event)
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
