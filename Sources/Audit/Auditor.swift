import Domain
import Foundation
import Journal

public struct AuditOptions: Sendable {
    /// Checks every checkpoint's signature; without it checkpoints are only compared with the log.
    public var publicKey: CheckpointPublicKey?
    /// A checkpoint kept outside the journal: the journal must extend it, not rewrite it.
    public var trustedCheckpoint: (file: String, checkpoint: Checkpoint)?
    public var checkRules = true
    /// Threads replaying the domain rules, beside the one that hashes the log.
    public var ruleShards = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// Findings kept in the report; every finding is still counted.
    public var maximumFindings = 10_000
    /// With a public key: a log that holds events and no checkpoint signed by it is a finding
    /// (`checkpoint.none`). Off for histories never meant to be signed (simulated, imported
    /// without a key), where it is a note.
    public var requireSignedCheckpoint = true

    public init() {}
}

/// Audits a copy of a journal without trusting whoever kept it: integrity of every frame, the
/// signed checkpoints, unique event ids, and the domain rules replayed over every event.
public enum Auditor {
    /// Throws only when the journal cannot be read at all; everything wrong inside it is a finding.
    public static func audit(directory: String, options: AuditOptions = AuditOptions(),
                             progress: (_ bytesDone: UInt64, _ bytesTotal: UInt64) -> Void = { _, _ in }) throws -> AuditReport {
        let started = ContinuousClock.now
        var report = AuditReport(journal: directory)
        var sink = FindingSink(limit: options.maximumFindings)
        let totalBytes = segmentBytes(directory)
        var targets = CheckpointTargets()
        let checkpoints = Checkpoint.files(inJournal: directory)
        report.checkpointsFound = checkpoints.filter { !$0.name.isEmpty }.count
        if options.publicKey == nil, !checkpoints.isEmpty {
            report.notes.append("no public key given: checkpoint signatures were not checked, only their agreement with the log")
        }
        for (name, result) in checkpoints {
            let file = "checkpoints/" + name
            switch result {
            case .failure(let error):
                sink.add(AuditFinding(file: file, offset: 0, position: nil, eventID: nil, rule: AuditCheck.unreadableCheckpoint, message: "\(error)"))
            case .success(let c):
                if let key = options.publicKey, !c.isSigned(by: key) {
                    sink.add(AuditFinding(file: file, offset: 152, position: c.position, eventID: nil, rule: AuditCheck.badSignature,
                                          message: c.keyID == key.keyID
                                              ? "the Ed25519 signature does not match the checkpoint's contents: it was forged or altered"
                                              : "signed by key \(c.keyID.hex.prefix(16))…, not by the given public key \(key.keyID.hex.prefix(16))…"))
                    continue
                }
                if name != Checkpoint.fileName(position: c.position) {
                    report.notes.append("\(file) holds the checkpoint of position \(c.position); its name says otherwise")
                }
                targets.add(.init(file: file, checkpoint: c, trusted: false))
            }
        }
        if let trusted = options.trustedCheckpoint {
            report.trustedCheckpointPosition = trusted.checkpoint.position
            // The auditor's anchor is authenticated like the journal's own checkpoints: a copy
            // taken from anywhere (a receipt, a mail) proves nothing unless the key signed it.
            if let key = options.publicKey, !trusted.checkpoint.isSigned(by: key) {
                sink.add(AuditFinding(file: trusted.file, offset: 152, position: trusted.checkpoint.position, eventID: nil, rule: AuditCheck.trustedBadSignature,
                                      message: trusted.checkpoint.keyID == key.keyID
                                          ? "the trusted checkpoint's Ed25519 signature does not match its contents: it was forged or altered, so it anchors nothing"
                                          : "the trusted checkpoint is signed by key \(trusted.checkpoint.keyID.hex.prefix(16))…, not by the given public key \(key.keyID.hex.prefix(16))…"))
            } else {
                targets.add(.init(file: trusted.file, checkpoint: trusted.checkpoint, trusted: true))
            }
        }

        let rules = options.checkRules ? RuleReplay(shards: options.ruleShards, findingLimit: options.maximumFindings) : nil
        var ledger = EventIDLedger()
        var lastTime = Int64.min
        var lastTimePosition: UInt64 = 0
        let verification: VerificationReport
        do {
            verification = try JournalVerifier.verify(directory: directory, progress: { progress($0, totalBytes) }) { frame in
                let end = frame.firstPosition + UInt64(frame.eventCount)
                ledger.beginFrame(firstPosition: frame.firstPosition, file: frame.file, offset: frame.offset)
                frame.forEachEvent { view in
                    ledger.add(view.record)
                    let time = view.recordedAtMicros
                    if time < lastTime {
                        sink.add(AuditFinding(file: frame.file, offset: frame.offset, position: view.position, eventID: view.id, rule: AuditCheck.timeWentBack,
                                              message: "recorded at \(WireFormat.timestamp(micros: time)), before the event at position \(lastTimePosition) (\(WireFormat.timestamp(micros: lastTime))): the log's clock never goes back"))
                    } else {
                        lastTime = time
                        lastTimePosition = view.position
                    }
                }
                targets.reached(frameFrom: frame.firstPosition, to: end, chainHash: frame.chainHash, merkle: frame.merkle, lastRecordedAt: lastTime)
                if let rules, frame.recordsDecoded {
                    rules.submit(file: frame.file, offset: frame.offset, payload: frame.payload, streams: frame.streamNumbers)
                }
            }
        } catch {
            _ = rules?.finish()
            throw error
        }

        report.journalID = verification.journalID
        report.segments = verification.segmentCount
        report.frames = verification.frameCount
        report.events = verification.eventCount
        report.bytes = verification.bytes
        report.chainHash = verification.chainHash.hex
        report.merkleRoot = verification.merkleRoot.hex
        report.notes += verification.notes
        for d in verification.findings {
            sink.add(AuditFinding(file: d.file, offset: d.offset, position: d.position, eventID: nil, rule: AuditCheck.journal(d.kind), message: d.detail))
        }
        for f in ledger.duplicates(reader: try? JournalReader(directory: directory)) { sink.add(f) }
        let outcome = targets.judge(journalID: verification.journalID, end: verification.eventCount, signaturesChecked: options.publicKey != nil)
        for f in outcome.findings { sink.add(f) }
        report.signaturesChecked = options.publicKey != nil
        report.checkpointsMatching = outcome.verified
        report.checkpointsVerified = report.signaturesChecked ? outcome.verified : 0
        report.signedThrough = report.signaturesChecked ? outcome.signedThrough : nil
        // A checkpoint at position 0 (signed by a writer that opened an empty journal and closed)
        // covers no event: kept alone, it must not stand for the signature of the whole log.
        let coversAnEvent = (outcome.signedThrough ?? 0) > 0
        if let signed = outcome.signedThrough, coversAnEvent, signed < verification.eventCount {
            report.notes.append("\(verification.eventCount - signed) events after position \(signed) are not covered by a signed checkpoint yet")
        } else if !coversAnEvent, verification.eventCount > 0 {
            if options.publicKey != nil, options.requireSignedCheckpoint {
                // Deleting every checkpoint must not turn a rewritten log into a clean audit.
                sink.add(AuditFinding(file: "checkpoints/", offset: nil, position: nil, eventID: nil, rule: AuditCheck.noSignedCheckpoint,
                                      message: "no checkpoint signed by the given key covers any of the \(verification.eventCount) events: the log is self-consistent, but nothing proves it was not rewritten (a live writer signs its first one after `checkpointEvery` events, its interval, or when it closes; a history never signed is audited with --unsigned)"))
            } else {
                report.notes.append("no verified checkpoint covers any event: the log is self-consistent, but nothing proves it was not rewritten")
            }
        }
        if let rules {
            let (ruleSink, checked) = rules.finish()
            sink.merge(ruleSink)
            report.eventsRuleChecked = checked
        }
        report.findings = sink.listed.sorted { ($0.position ?? .max, $0.file ?? "") < ($1.position ?? .max, $1.file ?? "") }
        report.findingCounts = sink.counts
        if sink.counts.values.reduce(0, +) > report.findings.count {
            report.notes.append("only \(report.findings.count) findings are listed (the first found, and the first of every rule); findingCounts counts them all")
        }
        let elapsed = ContinuousClock.now - started
        report.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return report
    }

    static func segmentBytes(_ directory: String) -> UInt64 {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".seg") }.reduce(0) { total, name in
            let size = (try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size] as? NSNumber)?.uint64Value ?? 0
            return total + size
        }
    }
}
