@testable import Audit
import Domain
import Foundation
import Testing
@testable import Journal

/// Each way of rewriting history is caught, and the finding says where.
@Suite("Tampered journals")
struct TamperTests {
    static func audit(_ dir: TemporaryDirectory, trusted: Checkpoint? = nil, rules: Bool = true) throws -> AuditReport {
        var options = AuditOptions()
        options.publicKey = testSigner.publicKey
        options.checkRules = rules
        if let trusted { options.trustedCheckpoint = ("trusted.ckpt", trusted) }
        return try Auditor.audit(directory: dir.path, options: options)
    }

    static func rules(_ r: AuditReport) -> Set<String> { Set(r.findingCounts.keys) }

    /// A valid history over several sealed segments, signed every 10 events.
    static func original(_ label: String) throws -> (TemporaryDirectory, UInt64) {
        let dir = TemporaryDirectory(label)
        let end = try History.write(slots: 4, into: dir.path, options: auditOptions(segmentSize: 6_000, every: 10))
        return (dir, end)
    }

    @Test("an untouched journal is clean: every checkpoint verified, every event replayed")
    func cleanJournal() throws {
        let (dir, end) = try Self.original("clean")
        #expect(dir.segments.count >= 3)
        let report = try Self.audit(dir)
        #expect(report.findings == [])
        #expect(report.isClean)
        #expect(report.events == end)
        #expect(report.eventsRuleChecked == Int(end))
        #expect(report.checkpointsVerified == dir.checkpointNames.count)
        #expect(report.signedThrough == end)
        #expect(report.journalID != nil)
    }

    /// Appointment ids are checked per slot and per applicant, so a booking that reuses another
    /// applicant's appointment id in another slot passes both streams' rules; only the whole
    /// history shows it, whichever audit shards the two applicants' streams went to.
    @Test("an appointment id booked again for another applicant in another slot is found, at the later booking")
    func reusedAppointmentID() throws {
        let dir = TemporaryDirectory("reused-appointment")
        let journal = try Journal.open(directory: dir.path, options: auditOptions(segmentSize: 6_000, every: 10))
        for request in try History.appends(slots: 3) { _ = try journal.appendAndWait(request) }
        // Slot 3 was published by the history; applicant 0x7000 is new; the id is slot 1's first booking's.
        let reused = History.uuid(0x1000_0000)
        let slot = try #require(try journal.readStream(StreamName.slot(site: Site.allCases[2], slotId: History.uuid(3)).description, from: 0, limit: 1).first)
        guard case .slotPublished(let publication) = try DomainEvent.decode(type: slot.type, data: slot.data, eventIndex: 0) else { Issue.record("no publication"); return }
        var state = SlotState(site: publication.site, slotId: publication.slotId)
        state.apply(.slotPublished(publication))
        for e in try journal.readStream(slot.stream, from: 1, limit: 100) { state.apply(try DomainEvent.decode(type: e.type, data: e.data, eventIndex: 0)) }
        let stranger = IdentityKey(History.hash(0x7000))
        let plan = try Decide.book(reused, in: state, for: ApplicantState(identityKey: stranger), from: Fingerprint(History.hash(0x7001)),
                                   at: History.release.addingTimeInterval(30))
        let appended = try journal.appendAndWait(AppendRequest(events: plan.events.map { ProposedEvent(stream: $0.stream, type: $0.event.typeName, data: $0.event.encodedData()) }))
        journal.close()
        let report = try Self.audit(dir)
        let found = report.findings.filter { $0.rule == "appointment.idReused" }
        #expect(found.count == 1, "\(report.findings)")
        #expect(found.first?.position == appended.lastPosition && found.first?.eventID != nil && found.first?.file != nil, "\(found)")
    }

    @Test("one byte changed in a sealed segment is found in that segment, at its frame")
    func flippedByte() throws {
        let (dir, _) = try Self.original("byte")
        let segment = dir.segments[1]
        let frames = frameOffsets(ofSegment: dir.file(segment))
        let target = Int(frames[1]) + 100
        modify(dir.file(segment)) { $0[target] ^= 0x20 }
        let report = try Self.audit(dir)
        #expect(!report.isClean)
        let crc = report.findings.first { $0.rule == "journal.badChecksum" }
        #expect(crc?.file == segment)
        #expect(crc?.offset == frames[1])
    }

    @Test("one byte changed in a packed sealed segment is found in that segment, at its block")
    func flippedByteInAPackedSegment() throws {
        let dir = TemporaryDirectory("packed-byte")
        var packing = SegmentPacking()
        packing.blockBytes = 2_048
        _ = try History.write(slots: 4, into: dir.path, options: auditOptions(segmentSize: 6_000, every: 10, packing: packing))
        #expect(try Self.audit(dir).isClean)
        let segment = dir.segments[1]
        let blocks = frameOffsets(ofSegment: dir.file(segment))
        #expect(blocks.count >= 2)
        modify(dir.file(segment)) { bytes in
            #expect(Array(bytes[Int(blocks[1])..<Int(blocks[1] + 4)]) == Array("RGBK".utf8))
            bytes[Int(blocks[1]) + 70] ^= 0x20
        }
        let report = try Self.audit(dir)
        #expect(!report.isClean)
        let crc = report.findings.first { $0.rule == "journal.badChecksum" }
        #expect(crc?.file == segment)
        #expect(crc?.offset == blocks[1])
    }

    @Test("an event removed, with every CRC, chain hash and index recomputed, is caught by the signatures alone")
    func removedEventRecomputed() throws {
        let (dir, end) = try Self.original("removed")
        var events = try JournalReader(directory: dir.path).read()
        // Evidence obeys no rule and is alone in its stream: removing it breaks no rule and no version.
        let victim = events.firstIndex { $0.type == "RateLimitTriggered" && $0.position > 30 }!
        let removedPosition = events[victim].position
        events.remove(at: victim)
        try Forger.rewrite(dir.path, events: events)
        #expect(try JournalVerifier.verify(directory: dir.path).isClean, "the forgery is sound frame by frame")
        let report = try Self.audit(dir)
        #expect(!report.isClean)
        // Only the signed checkpoints object; the positions after the removal moved by one, so a
        // signed position may now fall inside a frame.
        #expect(Self.rules(report).isSubset(of: ["checkpoint.mismatch", "checkpoint.notAtFrameEnd", "checkpoint.beyondEnd"]))
        let mismatch = report.findings.filter { $0.rule.hasPrefix("checkpoint.") }.min { $0.position! < $1.position! }!
        // The first signed state after the removal no longer matches; those before it still do.
        #expect(mismatch.position! > removedPosition)
        #expect(mismatch.position! <= removedPosition + 12)
        #expect(report.checkpointsVerified > 0)
        #expect(mismatch.file!.hasPrefix("checkpoints/"))
        #expect(report.findings.contains { $0.rule == "checkpoint.beyondEnd" && $0.position == end })
    }

    @Test("two frames swapped are found at the first displaced frame")
    func swappedFrames() throws {
        let (dir, _) = try Self.original("swap")
        let segment = dir.segments[0]
        let frames = frameOffsets(ofSegment: dir.file(segment))
        let (a, b, c) = (Int(frames[2]), Int(frames[3]), Int(frames[4]))
        modify(dir.file(segment)) { bytes in
            let first = Array(bytes[a..<b]), second = Array(bytes[b..<c])
            bytes.replaceSubrange(a..<c, with: second + first)
        }
        let report = try Self.audit(dir)
        #expect(!report.isClean)
        let located = report.findings.filter { $0.file == segment && $0.offset == UInt64(a) }
        #expect(located.contains { $0.rule == "journal.positionGap" || $0.rule == "journal.brokenChain" })
    }

    @Test("the last frames zeroed, to pass for the writer's preallocated space, are caught by the checkpoint signed at close")
    func zeroedLastFrames() throws {
        let (dir, end) = try Self.original("zeroed-last")
        let last = dir.segments.last!
        let frames = frameOffsets(ofSegment: dir.file(last))
        #expect(frames.count >= 2)
        let from = Int(frames[frames.count - 2])
        modify(dir.file(last)) { bytes in
            for k in from..<bytes.count { bytes[k] = 0 }
        }
        // The log alone reads as a shorter, sound journal: zeros are where its frames end.
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
        let report = try Self.audit(dir)
        #expect(report.findings.contains { $0.rule == "checkpoint.beyondEnd" && $0.position == end }, "\(report.findings)")
        #expect(!report.isClean)
    }

    /// A checkpoint re-signed by the key holder with another time for its last event (backdating
    /// when the history was written) no longer matches the log, though chain and root do.
    @Test("a checkpoint whose signed last-event time is not the log's is a finding")
    func aBackdatedCheckpointIsCaught() throws {
        let (dir, _) = try Self.original("backdated")
        #expect(try Self.audit(dir).isClean)
        let name = dir.checkpointNames[1]
        let c = dir.checkpoint(name)
        let backdated = testSigner.sign(journalID: c.journalID, position: c.position, chainHash: c.chainHash, merkleRoot: c.merkleRoot,
                                        signedAtMicros: c.signedAtMicros, lastRecordedAtMicros: c.lastRecordedAtMicros - 86_400_000_000)
        try Data(backdated.encoded()).write(to: URL(fileURLWithPath: dir.path + "/checkpoints/" + name))
        let report = try Self.audit(dir, rules: false)
        #expect(!report.isClean)
        #expect(report.findings.contains { $0.rule == "checkpoint.mismatch" && $0.position == c.position && $0.message.contains("recorded at") }, "\(report.findings)")
    }

    /// The writer's own guard: a journal rewritten and stripped of its checkpoints does not get
    /// the key to sign the rewrite when a writer opens it again (the key keeps, outside the
    /// journal, the last checkpoint it signed for it); an honest reopening signs as before.
    @Test("a key does not sign a rewritten history whose checkpoints were deleted, and signs an honest one")
    func aKeyDoesNotSignARewrite() throws {
        let record = TemporaryDirectory("signed-record")
        var signer = testSigner
        signer.signedRecord = record.path + "/key.signed"
        var options = auditOptions(segmentSize: 6_000, every: 10)
        options.checkpointSigner = signer
        let dir = TemporaryDirectory("rewrite-unsigned")
        let end = try History.write(slots: 4, into: dir.path, options: options)
        let journalID = try Forger.journalIDOf(JournalDirectory(path: dir.path))
        let recorded = try Checkpoint(contentsOfFile: signer.signedRecord! + "/" + journalID.uuidString.lowercased() + ".ckpt")
        #expect(recorded.position == end, "the record holds the last checkpoint signed")

        // Honest: reopened, appended to, closed: signed, and the record follows.
        do {
            let j = try Journal.open(directory: dir.path, options: options)
            _ = try j.appendAndWait(AppendRequest(events: [ProposedEvent(stream: "honest", type: "T", data: Array(#"{"a":1}"#.utf8))]))
            j.close()
        }
        #expect(dir.checkpointNames.last.map { dir.checkpoint($0).position } == end + 1)

        // Rewritten (one event's metadata), every checkpoint deleted, reopened with the key.
        var events = try JournalReader(directory: dir.path).read()
        events[5].metadata = Array(#"{"source":"rewritten"}"#.utf8)
        try Forger.rewrite(dir.path, events: events)
        try FileManager.default.removeItem(atPath: dir.path + "/checkpoints")
        let rewrittenEnd = try JournalReader(directory: dir.path).read().count
        let j = try Journal.open(directory: dir.path, options: options)
        #expect {
            try j.appendAndWait(AppendRequest(events: [ProposedEvent(stream: "after", type: "T", data: Array(#"{"a":2}"#.utf8))]))
        } throws: { error in
            guard case JournalError.writerFailed(let reason) = error else { return false }
            return reason.contains("rewritten")
        }
        j.close()
        #expect(dir.checkpointNames.isEmpty, "nothing signed over the rewrite: \(dir.checkpointNames)")
        #expect(try JournalReader(directory: dir.path).read().count == rewrittenEnd, "nothing appended to it either")
    }

    /// Without the key a forged checkpoint and a changed log look the same: the finding must not
    /// accuse the log alone.
    @Test("an audit without a public key words a checkpoint that does not match as forged or the log changed, never the log alone")
    func unsignedAuditDoesNotAccuseTheLogAlone() throws {
        let (dir, _) = try Self.original("unsigned-forged")
        let name = try #require(dir.checkpointNames.last)
        let c = dir.checkpoint(name)
        let forger = CheckpointSigner()
        let forged = forger.sign(journalID: c.journalID, position: c.position, chainHash: Digest32(bytes: [UInt8](repeating: 7, count: 32)), merkleRoot: c.merkleRoot,
                                 signedAtMicros: c.signedAtMicros, lastRecordedAtMicros: c.lastRecordedAtMicros)
        try Data(forged.encoded()).write(to: URL(fileURLWithPath: dir.file("checkpoints/" + name)))
        let unsigned = try Auditor.audit(directory: dir.path, options: AuditOptions())
        let finding = try #require(unsigned.findings.first { $0.rule == "checkpoint.mismatch" }, "\(unsigned.findings)")
        #expect(finding.message.contains("not genuine") && finding.message.contains("public key"), "\(finding.message)")
        // With the key, the forgery is named for what it is.
        let keyed = try Self.audit(dir)
        #expect(Self.rules(keyed).contains("checkpoint.badSignature"), "\(keyed.findings)")
    }

    @Test("an event inserted, its chain hash recomputed, is caught by the signatures")
    func insertedEvent() throws {
        let (dir, _) = try Self.original("insert")
        var events = try JournalReader(directory: dir.path).read()
        var extra = events.first { $0.type == "RateLimitTriggered" }!
        extra.id = UUID()
        extra.stream = "fingerprint-" + String(repeating: "b", count: 64)
        events.insert(extra, at: 15)
        try Forger.rewrite(dir.path, events: events)
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
        let report = try Self.audit(dir)
        let mismatch = report.findings.first { $0.rule == "checkpoint.mismatch" }
        #expect(mismatch != nil)
        #expect(mismatch.map { $0.position! > 15 && $0.position! <= 26 } == true)
    }

    @Test("a sealed segment cut short is found at its cut; a cut last segment, by the checkpoint signed at close")
    func truncatedSegments() throws {
        let (dir, end) = try Self.original("truncate")
        let sealed = dir.segments[0]
        let frames = frameOffsets(ofSegment: dir.file(sealed))
        let cut = Int(frames[frames.count - 1]) + 20
        modify(dir.file(sealed)) { $0.removeSubrange(cut...) }
        let report = try Self.audit(dir)
        #expect(report.findings.contains { $0.rule == "journal.truncatedSealedSegment" && $0.file == sealed && $0.offset == frames[frames.count - 1] })

        let (other, otherEnd) = try Self.original("truncate-last")
        let last = other.segments.last!
        let lastFrames = frameOffsets(ofSegment: other.file(last))
        modify(other.file(last)) { $0.removeSubrange(Int(lastFrames[lastFrames.count - 1])...) }
        let second = try Self.audit(other)
        #expect(second.findings.contains { $0.rule == "checkpoint.beyondEnd" && $0.position == otherEnd })
        #expect(end == otherEnd)
    }

    @Test("a checkpoint with a forged signature, or signed by another key, is refused")
    func forgedSignature() throws {
        let (dir, _) = try Self.original("forged")
        let name = dir.checkpointNames[1]
        modify(dir.file("checkpoints/" + name)) { $0[80] ^= 1 }  // its Merkle root
        let stranger = CheckpointSigner()
        let c = dir.checkpoint(dir.checkpointNames[2])
        let other = stranger.sign(journalID: c.journalID, position: c.position, chainHash: c.chainHash, merkleRoot: c.merkleRoot,
                                  signedAtMicros: c.signedAtMicros, lastRecordedAtMicros: c.lastRecordedAtMicros)
        try Data(other.encoded()).write(to: URL(fileURLWithPath: dir.file("checkpoints/" + dir.checkpointNames[2])))
        let report = try Self.audit(dir)
        let forged = report.findings.filter { $0.rule == "checkpoint.badSignature" }
        #expect(forged.map(\.file) == ["checkpoints/" + name, "checkpoints/" + dir.checkpointNames[2]])
        #expect(report.findingTotal == 2)
    }

    @Test("a journal rolled back behind a trusted checkpoint, or rewritten under it, is caught")
    func rolledBackBehindTrusted() throws {
        let (dir, before, end) = try historyWithEarlierCopy("rollback", slots: 4, split: 40, options: auditOptions(segmentSize: 6_000, every: 10))
        let trusted = dir.checkpoint(dir.checkpointNames.last!)
        #expect(trusted.position == end)
        #expect(try Self.audit(dir, trusted: trusted, rules: false).isClean)

        // The operator restores the older copy: it holds a valid history, but not the trusted one.
        let rolledBack = try Self.audit(before, trusted: trusted, rules: false)
        #expect(rolledBack.findings.map(\.rule) == ["trusted.rolledBack"])
        #expect(rolledBack.findings.first?.file == "trusted.ckpt")

        // Or rewrites it with one event changed, re-signing nothing.
        var events = try JournalReader(directory: dir.path).read()
        events[5].metadata = Array(#"{"edited":true}"#.utf8)
        try Forger.rewrite(dir.path, events: events)
        let rewritten = try Self.audit(dir, trusted: trusted, rules: false)
        #expect(rewritten.findings.contains { $0.rule == "trusted.rewritten" && $0.position == end })
    }

    @Test("a trusted checkpoint whose signature does not verify anchors nothing: it is a finding, not 'extended'")
    func forgedTrustedCheckpoint() throws {
        let (dir, end) = try Self.original("forged-trusted")
        let genuine = dir.checkpoint(dir.checkpointNames.last!)
        #expect(genuine.position == end)
        var bytes = genuine.encoded()
        bytes[bytes.count - 1] ^= 1  // its signature
        let forged = try Checkpoint(decoding: bytes)
        let report = try Self.audit(dir, trusted: forged, rules: false)
        #expect(report.findings.map(\.rule) == ["trusted.badSignature"])
        #expect(report.findings.first?.file == "trusted.ckpt")

        let stranger = CheckpointSigner()
        let other = stranger.sign(journalID: genuine.journalID, position: genuine.position, chainHash: genuine.chainHash, merkleRoot: genuine.merkleRoot,
                                  signedAtMicros: genuine.signedAtMicros, lastRecordedAtMicros: genuine.lastRecordedAtMicros)
        #expect(Self.rules(try Self.audit(dir, trusted: other, rules: false)) == ["trusted.badSignature"])
        #expect(try Self.audit(dir, trusted: genuine, rules: false).isClean)
    }

    @Test("a journal whose checkpoints were all deleted is not clean when a public key is given")
    func everyCheckpointDeleted() throws {
        let (dir, _) = try Self.original("no-checkpoints")
        for name in dir.checkpointNames { try FileManager.default.removeItem(atPath: dir.file("checkpoints/" + name)) }
        let report = try Self.audit(dir, rules: false)
        #expect(Self.rules(report) == ["checkpoint.none"])
        #expect(!report.isClean)
    }

    /// A writer that opens an empty journal and closes signs position 0. Kept alone, with every
    /// later checkpoint deleted, it covers no event and must not make the log count as signed.
    @Test("a checkpoint at position 0 kept alone is no signature of the log")
    func onlyTheEmptyJournalsCheckpointKept() throws {
        let dir = TemporaryDirectory("only-zero")
        let options = auditOptions(segmentSize: 6_000, every: 10)
        try Journal.open(directory: dir.path, options: options).close()
        let zero = try #require(dir.checkpointNames.first)
        #expect(dir.checkpoint(zero).position == 0)
        _ = try History.write(slots: 4, into: dir.path, options: options)
        #expect(dir.checkpointNames.count > 2)
        for name in dir.checkpointNames where name != zero { try FileManager.default.removeItem(atPath: dir.file("checkpoints/" + name)) }
        let report = try Self.audit(dir, rules: false)
        #expect(Self.rules(report) == ["checkpoint.none"], "\(report.findings) \(report.notes)")
        #expect(!report.isClean)
    }

    @Test("past the listing limit, the first finding of every other rule is still listed")
    func listingLimitKeepsEveryRule() throws {
        var sink = FindingSink(limit: 2)
        for i in 0..<5 { sink.add(AuditFinding(file: nil, offset: nil, position: UInt64(i), eventID: nil, rule: "event.timeWentBack", message: "")) }
        sink.add(AuditFinding(file: "trusted.ckpt", offset: nil, position: 9, eventID: nil, rule: "trusted.rolledBack", message: ""))
        sink.add(AuditFinding(file: "trusted.ckpt", offset: nil, position: 10, eventID: nil, rule: "trusted.rolledBack", message: ""))
        #expect(sink.listed.map(\.rule) == ["event.timeWentBack", "event.timeWentBack", "trusted.rolledBack"])
        #expect(sink.counts == ["event.timeWentBack": 5, "trusted.rolledBack": 2])
        var none = FindingSink(limit: 0)
        none.add(AuditFinding(file: nil, offset: nil, position: 1, eventID: nil, rule: "trusted.rolledBack", message: ""))
        #expect(none.listed.isEmpty, "--maximum-findings 0 lists nothing")
    }

    @Test("an event that breaks a domain rule is reported with the server's rule name, its id, position and frame")
    func ruleBreach() throws {
        let dir = TemporaryDirectory("rule")
        let options = auditOptions()
        try History.write(slots: 1, into: dir.path, options: options)
        let journal = try Journal.open(directory: dir.path, options: options)
        // A booking in a slot that was never published.
        let plan = try Decide.book(History.uuid(0xBAD), in: SlotState(site: .grenoble, slotId: History.uuid(777)).publishedForTest(),
                                   for: ApplicantState(identityKey: IdentityKey(History.hash(0xBAD))), from: Fingerprint(History.hash(1)), at: History.release)
        let id = UUID()
        let slotStream = "slot-grenoble-" + History.uuid(778).uuidString.lowercased()
        let result = try journal.appendAndWait(AppendRequest(events: [ProposedEvent(stream: slotStream, type: plan.events[0].event.typeName, id: id, data: plan.events[0].event.encodedData())]))
        journal.close()
        let report = try Self.audit(dir)
        let breach = report.findings.first { $0.eventID == id }
        #expect(breach != nil)
        #expect(breach?.position == result.firstPosition)
        #expect(breach?.file == "00000000000000000000.seg")
        #expect(breach.map { RuleName(rawValue: $0.rule) != nil } == true)
        #expect(report.findingTotal == 1)
    }

    @Test("an event id used twice is found at its second use")
    func duplicateID() throws {
        let (dir, _) = try Self.original("dup")
        var events = try JournalReader(directory: dir.path).read()
        events[40].id = events[12].id
        try Forger.rewrite(dir.path, events: events)
        let report = try Self.audit(dir, rules: false)
        let dup = report.findings.first { $0.rule == "event.duplicateId" }
        #expect(dup?.position == 40)
        #expect(dup?.eventID == events[12].id)
    }
}

extension SlotState {
    /// A published slot for building a booking the journal never saw published.
    func publishedForTest() -> SlotState {
        var s = self
        s.apply(.slotPublished(SlotPublished(slotId: slotId, site: site, motif: .filing, category: .student, start: History.release.addingTimeInterval(86_400),
                                             durationMinutes: 20, counter: "guichet 1", capacity: 1, releaseId: History.uuid(1), occurredAt: History.release)))
        return s
    }
}
