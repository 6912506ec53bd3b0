import Foundation
import Testing
@testable import Journal

/// A signed journal of valid domain history, made with the CLI alone: `simulate` writes a
/// history, `replay` dumps it, and `import --signing-key` loads it into a journal that signs a
/// checkpoint every 500 events and at the end. Built once; tests that change it work on copies.
final class SignedHistory: Sendable {
    let scratch = ScratchDirectory("audit-history")
    var journal: String { scratch.file("journal") }
    var privateKey: String { scratch.file("writer.key") }
    var publicKey: String { scratch.file("writer.pub") }
    var ndjson: String { scratch.file("history.ndjson") }
    let events: Int

    static let shared = Result { try SignedHistory() }
    static func get() throws -> SignedHistory { try shared.get() }

    private init() throws {
        // A static is never deinitialised, so its directory goes when the test process exits.
        removeAtExit(scratch.path)
        let simulated = scratch.file("simulated")
        let simulate = try registre(["simulate", "--journal", simulated, "--scale", "0.01"], timeout: 300)
        guard simulate.exited(0) else { throw Failure("simulate: \(simulate)") }
        let replay = try shell(#""$0" replay --journal "$1" > "$2""#, [RegistreBinary.path, simulated, scratch.file("history.ndjson")])
        guard replay.exited(0) else { throw Failure("replay: \(replay)") }
        let keygen = try registre(["keygen", "--out", scratch.file("writer")])
        guard keygen.exited(0) else { throw Failure("keygen: \(keygen)") }
        let imported = try registre(["import", "--journal", scratch.file("journal"), "--batch", "100", "--signing-key", scratch.file("writer.key"),
                                     "--checkpoint-every", "500", scratch.file("history.ndjson")], timeout: 300)
        guard imported.exited(0) else { throw Failure("import: \(imported)") }
        events = try allEvents(scratch.file("journal")).count
    }

    var checkpointFiles: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: journal + "/checkpoints")) ?? [])
            .filter { $0.hasSuffix(".ckpt") }.sorted().map { journal + "/checkpoints/" + $0 }
    }

    /// Where the checkpoints were signed, in order: at the end of the first batch that brought
    /// 500 new events (a batch runs a few events past --batch rather than cut a booking's
    /// copies apart, so not exactly every 500), and at the end.
    var checkpointPositions: [UInt64] {
        checkpointFiles.compactMap { try? Checkpoint(contentsOfFile: $0).position }
    }

    /// A copy of the journal directory, as an auditor receives it.
    func copy(into scratch: ScratchDirectory, as name: String = "copy") throws -> String {
        let path = scratch.file(name)
        try FileManager.default.copyItem(atPath: journal, toPath: path)
        return path
    }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Reads a JSON object from a file, or fails the test.
func jsonFile(_ path: String) throws -> [String: Any] {
    let data = try #require(FileManager.default.contents(atPath: path), "cannot read \(path)")
    return try #require(jsonObject([UInt8](data)), "\(path) is not a JSON object")
}

/// The bytes of a base64 field of a proof document.
func base64Field(_ document: [String: Any], _ key: String) throws -> [UInt8] {
    let text = try #require(document[key] as? String, "no string \"\(key)\"")
    return [UInt8](try #require(Data(base64Encoded: text), "\"\(key)\" is not base64"))
}

func writeJSON(_ object: [String: Any], to path: String) throws {
    try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
}

@Suite(.serialized) struct ImportSigningTests {
    @Test func importWithASigningKeyLeavesCheckpointsThatTheAuditVerifiesWithThePublicKey() throws {
        let history = try SignedHistory.get()
        #expect(history.events > 1500, "the fixture is too small to sign several checkpoints: \(history.events) events")
        let positions = history.checkpointPositions
        // At the end of the first batch that brings 500 new events (a batch of 100 runs over by
        // a few events rather than cut a booking's copies apart), and when the import closed the journal.
        #expect(positions.count == history.checkpointFiles.count && positions.last == UInt64(history.events), "checkpoints at \(positions)")
        for (previous, position) in zip([0] + positions, positions.dropLast()) {
            #expect((500..<600).contains(position - previous), "checkpoints at \(positions)")
        }

        let audit = try registre(["audit", "--journal", history.journal, "--public-key", history.publicKey])
        #expect(audit.exited(0), "\(audit)")
        #expect(audit.out.contains("checkpoints: \(positions.count) of \(positions.count) verified, signed through position \(history.events)"), "\(audit.out)")
        #expect(audit.out.contains("rules: \(history.events) events replayed"), "\(audit.out)")
        #expect(audit.out.contains("audit: clean"), "\(audit.out)")
    }

    @Test func importWithAnUnreadableSigningKeyWritesNothingAndSaysWhy() throws {
        let scratch = ScratchDirectory("import-bad-key")
        let history = try SignedHistory.get()
        let missing = scratch.file("nope.key")
        let outcome = try registre(["import", "--journal", scratch.file("journal"), "--signing-key", missing, history.ndjson])
        #expect(!outcome.exited(0), "\(outcome)")
        #expect(outcome.err.contains("--signing-key") && outcome.err.contains(missing), "\(outcome.err)")
        #expect(segmentFiles(in: scratch.file("journal")).isEmpty, "a journal was written despite the bad key")
        // A public key is not a private key.
        let wrongKind = try registre(["import", "--journal", scratch.file("journal"), "--signing-key", history.publicKey, history.ndjson])
        #expect(!wrongKind.exited(0) && wrongKind.err.contains("--signing-key"), "\(wrongKind)")
    }
}

@Suite(.serialized) struct AuditCommandTests {
    @Test func auditJSONReportsACleanJournalWithItsCounts() throws {
        let history = try SignedHistory.get()
        let outcome = try registre(["audit", "--journal", history.journal, "--public-key", history.publicKey, "--json"])
        #expect(outcome.exited(0), "\(outcome)")
        let report = try #require(jsonObject(outcome.stdout), "stdout is not one JSON object: \(outcome.out.prefix(500))")
        #expect(report["clean"] as? Bool == true)
        #expect(report["findingTotal"] as? Int == 0)
        #expect(report["events"] as? Int == history.events)
        #expect(report["eventsRuleChecked"] as? Int == history.events)
        #expect(report["signedThrough"] as? Int == history.events)
        #expect((report["findings"] as? [Any])?.isEmpty == true)
    }

    @Test func auditExitsOneAndLocatesAByteChangedInTheJournal() throws {
        let scratch = ScratchDirectory("audit-flip")
        let history = try SignedHistory.get()
        let copy = try history.copy(into: scratch)
        let segment = try #require(segmentFiles(in: copy).first)
        let path = copy + "/" + segment
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let frame = JournalFormat.segmentHeaderSize
        bytes[frame + JournalFormat.frameHeaderSize + 10] ^= 0x20
        try bytes.write(to: URL(fileURLWithPath: path))

        let outcome = try registre(["audit", "--journal", copy, "--public-key", history.publicKey, "--json"])
        #expect(outcome.exited(1), "\(outcome)")
        let report = try #require(jsonObject(outcome.stdout), "\(outcome.out.prefix(500))")
        #expect(report["clean"] as? Bool == false)
        let findings = (report["findings"] as? [[String: Any]]) ?? []
        #expect(findings.contains { $0["file"] as? String == segment && $0["offset"] as? Int == frame && ($0["rule"] as? String)?.hasPrefix("journal.") == true },
                "no finding at \(segment) byte \(frame): \(findings.prefix(5))")
        // The text form says the same, and fails loudly.
        let text = try registre(["audit", "--journal", copy, "--public-key", history.publicKey])
        #expect(text.exited(1), "\(text)")
        #expect(text.out.contains("FINDING journal.") && text.out.contains("\(segment) byte \(frame)") && text.out.contains("AUDIT FAILED"), "\(text.out)")
    }

    @Test func auditExitsOneWhenAnEventBreaksADomainRuleAndNamesTheRule() throws {
        let scratch = ScratchDirectory("audit-rule")
        let history = try SignedHistory.get()
        // The history up to an applicant's first booking, then that booking again as a second
        // appointment: two active appointments for one motif, which the server refuses. It is
        // written to the applicant's stream only, which the server refuses too.
        let lines = try String(contentsOfFile: history.ndjson, encoding: .utf8).split(separator: "\n")
        let booking = try #require(lines.firstIndex { $0.contains(#""stream":"applicant-"#) && $0.contains(#""type":"AppointmentBooked""#) })
        let original = try #require(jsonObject(Array(lines[booking].utf8)))
        var again = original
        again["id"] = UUID().uuidString.lowercased()
        again.removeValue(forKey: "version")
        again.removeValue(forKey: "position")
        again.removeValue(forKey: "recordedAt")
        var data = try #require(again["data"] as? [String: Any])
        data["appointmentId"] = UUID().uuidString.lowercased()
        again["data"] = data
        let extra = String(decoding: try JSONSerialization.data(withJSONObject: again), as: UTF8.self)
        let input = scratch.file("breach.ndjson")
        try writeLines(lines[...booking].map(String.init) + [extra], to: input)
        let key = scratch.file("k")
        #expect(try registre(["keygen", "--out", key]).exited(0))
        let imported = try registre(["import", "--journal", scratch.file("journal"), "--signing-key", key + ".key", input])
        #expect(imported.exited(0), "\(imported)")

        let outcome = try registre(["audit", "--journal", scratch.file("journal"), "--public-key", key + ".pub", "--json"])
        #expect(outcome.exited(1), "\(outcome)")
        let report = try #require(jsonObject(outcome.stdout), "\(outcome.out.prefix(500))")
        let findings = (report["findings"] as? [[String: Any]]) ?? []
        #expect(findings.count == 2 && report["findingTotal"] as? Int == 2, "\(findings)")
        #expect(Set(findings.compactMap { $0["rule"] as? String }) == ["applicant.oneActiveAppointmentPerMotif", "stream.missingHome"], "\(findings)")
        for breach in findings {
            #expect(breach["position"] as? Int == booking + 1, "\(findings)")
            #expect((breach["eventID"] as? String)?.lowercased() == again["id"] as? String, "\(findings)")
            #expect(breach["file"] as? String == segmentFiles(in: scratch.file("journal")).first && breach["offset"] is Int, "\(findings)")
        }
    }

    @Test func auditExitsTwoOnUnusableInput() throws {
        let scratch = ScratchDirectory("audit-unusable")
        let history = try SignedHistory.get()
        let missing = try registre(["audit", "--journal", scratch.file("none"), "--public-key", history.publicKey])
        #expect(missing.exited(2), "\(missing)")
        #expect(missing.err.contains(scratch.file("none")), "\(missing.err)")
        let noKey = try registre(["audit", "--journal", history.journal, "--public-key", scratch.file("none.pub")])
        #expect(noKey.exited(2), "\(noKey)")
        #expect(noKey.err.contains("none.pub"), "\(noKey.err)")
        try Data("not a key\n".utf8).write(to: URL(fileURLWithPath: scratch.file("bad.pub")))
        let badKey = try registre(["audit", "--journal", history.journal, "--public-key", scratch.file("bad.pub")])
        #expect(badKey.exited(2), "\(badKey)")
        let badTrusted = try registre(["audit", "--journal", history.journal, "--public-key", history.publicKey, "--trusted-checkpoint", scratch.file("bad.pub")])
        #expect(badTrusted.exited(2), "\(badTrusted)")
    }

    @Test func auditWithAnotherPublicKeyRefusesEveryCheckpoint() throws {
        let scratch = ScratchDirectory("audit-other-key")
        let history = try SignedHistory.get()
        #expect(try registre(["keygen", "--out", scratch.file("other")]).exited(0))
        let outcome = try registre(["audit", "--journal", history.journal, "--public-key", scratch.file("other.pub"), "--json", "--no-rules"])
        #expect(outcome.exited(1), "\(outcome)")
        let report = try #require(jsonObject(outcome.stdout))
        let counts = report["findingCounts"] as? [String: Int] ?? [:]
        #expect(counts["checkpoint.badSignature"] == history.checkpointFiles.count, "\(counts)")
        #expect(report["checkpointsVerified"] as? Int == 0)
    }

    @Test func auditCatchesAJournalRolledBackBehindATrustedCheckpoint() throws {
        let scratch = ScratchDirectory("audit-rollback")
        let history = try SignedHistory.get()
        let trusted = try #require(history.checkpointFiles.last)
        let copy = try history.copy(into: scratch)
        // Roll back: keep the journal up to the frame that starts at the second checkpoint
        // (about position 1000), and the checkpoints it still matches.
        try truncateJournal(copy, at: history.checkpointPositions[1])
        let outcome = try registre(["audit", "--journal", copy, "--public-key", history.publicKey, "--trusted-checkpoint", trusted, "--no-rules"])
        #expect(outcome.exited(1), "\(outcome)")
        #expect(outcome.out.contains("FINDING trusted.rolledBack"), "\(outcome.out)")
        #expect(outcome.out.contains("NOT extended"), "\(outcome.out)")
        // Even when no finding is listed, the verdict line follows the counts.
        let unlisted = try registre(["audit", "--journal", copy, "--public-key", history.publicKey, "--trusted-checkpoint", trusted, "--no-rules",
                                     "--maximum-findings", "0"])
        #expect(unlisted.exited(1), "\(unlisted)")
        #expect(unlisted.out.contains("NOT extended") && !unlisted.out.contains(": extended"), "\(unlisted.out)")
        // The untouched journal extends it.
        let clean = try registre(["audit", "--journal", history.journal, "--public-key", history.publicKey, "--trusted-checkpoint", trusted, "--no-rules"])
        #expect(clean.exited(0), "\(clean)")
        #expect(clean.out.contains("trusted checkpoint at position \(history.events): extended"), "\(clean.out)")
    }
}

/// Cuts a single-segment journal at the frame that starts at `position`, as someone rolling it
/// back would, and drops the checkpoints signed after it.
func truncateJournal(_ directory: String, at position: UInt64) throws {
    let segments = segmentFiles(in: directory)
    guard segments.count == 1 else { throw Failure("expected one segment, found \(segments)") }
    let path = directory + "/" + segments[0]
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    var at = JournalFormat.segmentHeaderSize
    var cut: Int? = nil
    while at + JournalFormat.frameHeaderSize <= bytes.count {
        let header = try bytes.withUnsafeBytes { raw in
            try FrameHeader.decode(UnsafeRawBufferPointer(rebasing: raw[at..<(at + JournalFormat.frameHeaderSize)]), maximumPayload: 64 << 20)
        }
        if header.firstPosition == position { cut = at; break }
        at += JournalFormat.frameHeaderSize + Int(header.storedLength)
    }
    guard let cut else { throw Failure("no frame starts at position \(position) in \(path)") }
    try Data(bytes[..<cut]).write(to: URL(fileURLWithPath: path))
    try? FileManager.default.removeItem(atPath: directory + "/index")
    for name in (try? FileManager.default.contentsOfDirectory(atPath: directory + "/checkpoints")) ?? [] {
        if let p = UInt64(name.prefix { $0.isNumber }), p > position { try FileManager.default.removeItem(atPath: directory + "/checkpoints/" + name) }
    }
}

@Suite(.serialized) struct ReceiptCommandTests {
    /// The receipt of a booking in the middle of the history, written by the CLI.
    func receipt(_ history: SignedHistory, in scratch: ScratchDirectory) throws -> (path: String, id: String) {
        let events = try allEvents(history.journal)
        let booking = try #require(events.first { $0.type == "AppointmentBooked" && $0.position > 700 })
        let id = booking.id.uuidString.lowercased()
        let path = scratch.file("receipt.json")
        let outcome = try registre(["receipt", "--journal", history.journal, "--event", id, "--public-key", history.publicKey, "--out", path])
        #expect(outcome.exited(0), "\(outcome)")
        return (path, id)
    }

    func verify(_ path: String, key: String) throws -> Outcome {
        try registre(["verify-receipt", path, "--public-key", key])
    }

    @Test func aReceiptVerifiesWithThePublicKeyAndNamesTheEvent() throws {
        let scratch = ScratchDirectory("receipt-ok")
        let history = try SignedHistory.get()
        let (path, id) = try receipt(history, in: scratch)
        let document = try jsonFile(path)
        #expect(document["format"] as? String == "registre-receipt/1")
        #expect((document["event"] as? [String: Any])?["id"] as? String == id)
        // The first checkpoint after the event.
        let position = try #require((document["event"] as? [String: Any])?["position"] as? Int)
        #expect(document["treeSize"] as? Int == history.checkpointPositions.first { $0 > position }.map(Int.init))

        let outcome = try verify(path, key: history.publicKey)
        #expect(outcome.exited(0), "\(outcome)")
        #expect(outcome.out.contains("receipt holds: event \(id) (AppointmentBooked"), "\(outcome.out)")
        #expect(outcome.out.contains("is at position \(position) of journal"), "\(outcome.out)")
        // From stdout too, as a pipe would take it.
        let piped = try shell(#""$0" receipt --journal "$1" --event "$2" > "$3" && "$0" verify-receipt "$3" --public-key "$4""#,
                              [RegistreBinary.path, history.journal, id, scratch.file("piped.json"), history.publicKey])
        #expect(piped.exited(0), "\(piped)")
    }

    @Test func aReceiptFailsWithStatusOneAndSaysWhyOnceAnyPartIsAltered() throws {
        let scratch = ScratchDirectory("receipt-altered")
        let history = try SignedHistory.get()
        let (path, _) = try receipt(history, in: scratch)
        let original = try jsonFile(path)

        func expectRefused(_ change: (inout [String: Any]) throws -> Void, _ reason: String, _ what: Comment) throws {
            var document = original
            try change(&document)
            let altered = scratch.file("altered.json")
            try writeJSON(document, to: altered)
            let outcome = try verify(altered, key: history.publicKey)
            #expect(outcome.exited(1), "\(what): \(outcome)")
            #expect(outcome.out.contains("receipt does NOT hold") && outcome.out.contains(reason), "\(what): \(outcome.out)")
        }

        // The event's data as people read it: a different slot.
        try expectRefused({ d in
            var event = try #require(d["event"] as? [String: Any])
            var data = try #require(event["data"] as? [String: Any])
            data["appointmentId"] = UUID().uuidString.lowercased()
            event["data"] = data
            d["event"] = event
        }, #""event" does not say what the signed record says"#, "event data")
        // The record bytes themselves, and the leaf hash recomputed to match them.
        try expectRefused({ d in
            var record = try base64Field(d, "record")
            record[record.count - 5] ^= 0x01
            d["record"] = Data(record).base64EncodedString()
            d.removeValue(forKey: "leafHash")
        }, "the inclusion proof does not lead from the record to the signed Merkle root", "record")
        // One hash of the inclusion proof.
        try expectRefused({ d in
            var proof = try #require(d["inclusionProof"] as? [String])
            proof[proof.count / 2] = String(repeating: "ab", count: 32)
            d["inclusionProof"] = proof
        }, "the inclusion proof does not lead from the record to the signed Merkle root", "proof hash")
        // A proof hash left out.
        try expectRefused({ d in
            d["inclusionProof"] = Array(try #require(d["inclusionProof"] as? [String]).dropLast())
        }, "the inclusion proof does not lead", "proof shortened")
        // The checkpoint's signature (its last 64 bytes).
        try expectRefused({ d in
            var checkpoint = try base64Field(d, "checkpoint")
            checkpoint[checkpoint.count - 10] ^= 0x01
            d["checkpoint"] = Data(checkpoint).base64EncodedString()
        }, "the checkpoint's signature does not verify", "checkpoint signature")
        // The checkpoint's Merkle root, so that its signature no longer covers it.
        try expectRefused({ d in
            var checkpoint = try base64Field(d, "checkpoint")
            checkpoint[75] ^= 0x01
            d["checkpoint"] = Data(checkpoint).base64EncodedString()
        }, "the checkpoint's signature does not verify", "checkpoint root")

        // Another key: the untouched receipt is not signed by it.
        #expect(try registre(["keygen", "--out", scratch.file("other")]).exited(0))
        let otherKey = try verify(path, key: scratch.file("other.pub"))
        #expect(otherKey.exited(1), "\(otherKey)")
        #expect(otherKey.out.contains("receipt does NOT hold") && otherKey.out.contains("signature does not verify with the public key"), "\(otherKey.out)")
        // The untouched receipt still holds: each failure above came from its alteration.
        #expect(try verify(path, key: history.publicKey).exited(0))
    }

    @Test func unreadableReceiptsAndUnknownEventsExitTwo() throws {
        let scratch = ScratchDirectory("receipt-unusable")
        let history = try SignedHistory.get()
        try Data("[1, 2]".utf8).write(to: URL(fileURLWithPath: scratch.file("garbage.json")))
        let garbage = try verify(scratch.file("garbage.json"), key: history.publicKey)
        #expect(garbage.exited(2), "\(garbage)")
        #expect(garbage.out.contains("not a JSON object"), "\(garbage.out)")
        let missing = try verify(scratch.file("missing.json"), key: history.publicKey)
        #expect(missing.exited(2), "\(missing)")
        let unknown = UUID().uuidString.lowercased()
        let notFound = try registre(["receipt", "--journal", history.journal, "--event", unknown])
        #expect(notFound.exited(2), "\(notFound)")
        #expect(notFound.err.contains("no event with id \(unknown)"), "\(notFound.err)")
        let notAUUID = try registre(["receipt", "--journal", history.journal, "--event", "booking-42"])
        #expect(!notAUUID.exited(0) && notAUUID.err.contains("--event must be a UUID"), "\(notAUUID)")
    }
}

@Suite(.serialized) struct ConsistencyCommandTests {
    @Test func checkpointsOfOneHistoryAreConsistentAndTheProofFileChecksOffline() throws {
        let scratch = ScratchDirectory("consistency-ok")
        let history = try SignedHistory.get()
        let checkpoints = history.checkpointFiles
        #expect(checkpoints.count >= 3)
        let old = checkpoints[0], new = checkpoints[checkpoints.count - 1]
        let proofFile = scratch.file("proof.json")
        let outcome = try registre(["verify-consistency", "--journal", history.journal, "--old", old, "--new", new,
                                    "--public-key", history.publicKey, "--out", proofFile])
        #expect(outcome.exited(0), "\(outcome)")
        #expect(outcome.out.contains("consistent: the checkpoint of \(history.events) events extends the one of \(history.checkpointPositions[0]) events"), "\(outcome.out)")
        // Offline: the proof file and the public key, no journal.
        let offline = try registre(["verify-consistency", "--proof", proofFile, "--public-key", history.publicKey])
        #expect(offline.exited(0), "\(offline)")
        #expect(offline.out.contains("without --old"), "\(offline.out)")
        // Tied to the checkpoint the auditor kept: the one the proof starts from holds; another does not.
        let pinned = try registre(["verify-consistency", "--proof", proofFile, "--old", old, "--public-key", history.publicKey])
        #expect(pinned.exited(0) && pinned.out.contains("journal "), "\(pinned)")
        let otherKept = try registre(["verify-consistency", "--proof", proofFile, "--old", checkpoints[1], "--public-key", history.publicKey])
        #expect(otherKept.exited(1) && otherKept.out.contains("another checkpoint than the one kept"), "\(otherKept)")
        // Every pair in order holds, including a checkpoint with itself.
        for (i, a) in checkpoints.enumerated() {
            for b in checkpoints[i...] {
                let pair = try registre(["verify-consistency", "--journal", history.journal, "--old", a, "--new", b, "--public-key", history.publicKey])
                #expect(pair.exited(0), "\(a) → \(b): \(pair)")
            }
        }
        // A proof file with a hash changed does not hold.
        var document = try jsonFile(proofFile)
        var hashes = try #require(document["proof"] as? [String])
        try #require(!hashes.isEmpty)
        hashes[0] = String(repeating: "0", count: 64)
        document["proof"] = hashes
        try writeJSON(document, to: proofFile)
        let altered = try registre(["verify-consistency", "--proof", proofFile, "--public-key", history.publicKey])
        #expect(altered.exited(1), "\(altered)")
        #expect(altered.out.contains("consistency does NOT hold") && altered.out.contains("history was rewritten"), "\(altered.out)")
        // Swapped, the old one is the later one.
        let swapped = try registre(["verify-consistency", "--journal", history.journal, "--old", new, "--new", old, "--public-key", history.publicKey])
        #expect(!swapped.exited(0) && (swapped.out + swapped.err).contains("swap them"), "\(swapped)")
    }

    @Test func consistencyFailsAcrossAHistoryRewrittenAndResignedByTheKeyHolder() throws {
        let scratch = ScratchDirectory("consistency-rewritten")
        let history = try SignedHistory.get()
        // The key holder rolls the journal back to its second checkpoint (about position 1000)
        // and writes a different history from there, with the same journal id and key: every new
        // checkpoint is validly signed.
        let cut = history.checkpointPositions[1]
        let rewritten = try history.copy(into: scratch, as: "rewritten")
        try truncateJournal(rewritten, at: cut)
        let lines = try String(contentsOfFile: history.ndjson, encoding: .utf8).split(separator: "\n")
        var tail: [String] = []
        for (i, line) in lines.enumerated() where i >= cut {
            // Same streams and versions, a different event id for the first of them.
            tail.append(i == cut ? line.replacingOccurrences(of: #""id":"[^"]*""#, with: #""id":"\#(UUID().uuidString.lowercased())""#, options: .regularExpression) : String(line))
        }
        try writeLines(tail, to: scratch.file("tail.ndjson"))
        // The key file keeps a record of what it signed: it refuses to sign the rolled-back copy,
        // and nothing goes into it.
        let refused = try registre(["import", "--journal", rewritten, "--batch", "100", "--signing-key", history.privateKey,
                                    "--checkpoint-every", "500", scratch.file("tail.ndjson")], timeout: 300)
        #expect(!refused.exited(0) && (refused.out + refused.err).contains("rolled back"), "\(refused)")
        #expect(try allEvents(rewritten).count == cut, "nothing was imported into the rolled-back copy")
        // The key holder signs with a copy of the key that has no record: the proofs must catch it.
        let copiedKey = scratch.file("copied.key")
        try FileManager.default.copyItem(atPath: history.privateKey, toPath: copiedKey)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: copiedKey)
        let imported = try registre(["import", "--journal", rewritten, "--batch", "100", "--signing-key", copiedKey,
                                     "--checkpoint-every", "500", scratch.file("tail.ndjson")], timeout: 300)
        #expect(imported.exited(0), "\(imported)")
        let resigned = rewritten + "/checkpoints/" + Checkpoint.fileName(position: UInt64(history.events))
        #expect(FileManager.default.fileExists(atPath: resigned))

        // Checkpoints from before the rewrite are still extended by the new history ...
        let before = history.journal + "/checkpoints/" + Checkpoint.fileName(position: cut)
        let holds = try registre(["verify-consistency", "--journal", rewritten, "--old", before, "--new", resigned, "--public-key", history.publicKey])
        #expect(holds.exited(0), "\(holds)")
        // ... but one signed after it is not, whichever journal the proof is computed from.
        let after = history.journal + "/checkpoints/" + Checkpoint.fileName(position: history.checkpointPositions[2])
        for journal in [rewritten, history.journal] {
            let outcome = try registre(["verify-consistency", "--journal", journal, "--old", after, "--new", resigned, "--public-key", history.publicKey])
            #expect(outcome.exited(1), "\(journal): \(outcome)")
            #expect(outcome.out.contains("consistency does NOT hold") && outcome.out.contains("history was rewritten"), "\(outcome.out)")
        }
        // Same position, two histories.
        let original = history.journal + "/checkpoints/" + Checkpoint.fileName(position: UInt64(history.events))
        let sameSize = try registre(["verify-consistency", "--journal", rewritten, "--old", original, "--new", resigned, "--public-key", history.publicKey])
        #expect(sameSize.exited(1), "\(sameSize)")
        #expect(sameSize.out.contains("two different histories"), "\(sameSize.out)")
    }
}
