import Foundation
import Journal

/// Compares signed checkpoints with the log as verification walks it: at each checkpoint's
/// position, the log's chain hash and Merkle root must be the signed ones.
struct CheckpointTargets {
    struct Target {
        var file: String
        var checkpoint: Checkpoint
        /// The checkpoint given on the command line, kept apart from the journal.
        var trusted: Bool
    }

    private var targets: [Target] = []
    private var sorted: [UInt64] = []
    private var cursor = 0
    /// Chain hash, Merkle root and last recorded-at time of the log at each target position it
    /// reached on a frame end.
    private var observed: [UInt64: (chain: Digest32, root: Digest32, lastRecordedAt: Int64)] = [0: (.zero, MerkleHash.empty, .min)]
    private var insideFrame: [UInt64: (first: UInt64, end: UInt64)] = [:]

    mutating func add(_ t: Target) {
        targets.append(t)
        sorted = Array(Set(targets.map(\.checkpoint.position))).sorted()
    }

    /// `lastRecordedAt`: the latest recorded-at time of the log through the frame's end.
    mutating func reached(frameFrom first: UInt64, to end: UInt64, chainHash: Digest32, merkle: MerkleFrontier, lastRecordedAt: Int64) {
        while cursor < sorted.count, sorted[cursor] <= end {
            let p = sorted[cursor]
            if p == end {
                observed[p] = (chainHash, merkle.root, lastRecordedAt)
            } else if p > first {
                insideFrame[p] = (first, end)
            }
            cursor += 1
        }
    }

    struct Outcome {
        var findings: [AuditFinding] = []
        var verified = 0
        var signedThrough: UInt64?
    }

    /// `signaturesChecked`: false in an audit without a public key, where a checkpoint that does
    /// not match may as well be forged as the log changed, and the finding says both.
    func judge(journalID: UUID?, end: UInt64, signaturesChecked: Bool = true) -> Outcome {
        var out = Outcome()
        // Checkpoints that agree bound where a disagreeing one's change can lie.
        var agreeing: [UInt64] = []
        var disagreeing: [(Target, String, String)] = []
        for t in targets.sorted(by: { $0.checkpoint.position < $1.checkpoint.position }) {
            let c = t.checkpoint
            let p = c.position
            func finding(_ rule: String, _ message: String) {
                out.findings.append(AuditFinding(file: t.file, offset: nil, position: p, eventID: nil, rule: rule, message: message))
            }
            if let id = journalID, c.journalID != id {
                finding(t.trusted ? AuditCheck.trustedOtherJournal : AuditCheck.foreignCheckpoint,
                        "the checkpoint is for journal \(c.journalID.uuidString.lowercased()), this journal is \(id.uuidString.lowercased())")
                continue
            }
            if p > end {
                finding(t.trusted ? AuditCheck.trustedRolledBack : AuditCheck.checkpointBeyondEnd,
                        "signed at \(WireFormat.timestamp(micros: c.signedAtMicros)) over \(p) events, but the journal now holds only \(end): events were removed or the journal was rolled back")
                continue
            }
            if let frame = insideFrame[p] {
                finding(t.trusted ? AuditCheck.trustedRewritten : AuditCheck.checkpointNotAtFrameEnd,
                        "signed position \(p) falls inside the frame holding positions \(frame.first)..<\(frame.end); the writer signs only at frame ends, so the frames were rewritten")
                continue
            }
            guard let seen = observed[p] else {
                finding(t.trusted ? AuditCheck.trustedRewritten : AuditCheck.checkpointMismatch,
                        "the log has no sound frame ending at position \(p), so the signed state cannot be found in it")
                continue
            }
            var problems: [String] = []
            if seen.root != c.merkleRoot { problems.append("its Merkle root there is \(seen.root.hex.prefix(16))…, the signed one \(c.merkleRoot.hex.prefix(16))…") }
            if seen.chain != c.chainHash { problems.append("its chain hash there is \(seen.chain.hex.prefix(16))…, the signed one \(c.chainHash.hex.prefix(16))…") }
            // The writer signs the time of the last event it covers: a signed time that is not
            // the log's is a backdated or forged statement about when the history was written.
            if problems.isEmpty, seen.lastRecordedAt != c.lastRecordedAtMicros {
                problems.append("its last event was recorded at \(WireFormat.timestamp(micros: seen.lastRecordedAt)), the signed time says \(WireFormat.timestamp(micros: c.lastRecordedAtMicros))")
            }
            if problems.isEmpty {
                agreeing.append(p)
                if !t.trusted {
                    out.verified += 1
                    out.signedThrough = max(out.signedThrough ?? 0, p)
                }
            } else {
                disagreeing.append((t, problems.joined(separator: " and "), ""))
            }
        }
        for (t, problems, _) in disagreeing {
            let p = t.checkpoint.position
            let lastGood = agreeing.filter { $0 < p }.max() ?? 0
            let rule = t.trusted ? AuditCheck.trustedRewritten : AuditCheck.checkpointMismatch
            let what = signaturesChecked
                ? "Events were altered, inserted, removed or reordered between positions \(lastGood) and \(p) (the last signed state that still matches is at \(lastGood))"
                : "No signature was checked (no public key), so either this checkpoint is not genuine or events were altered, inserted, removed or reordered between positions \(lastGood) and \(p) (the last checkpoint that still matches is at \(lastGood)); audit with the public key to tell which"
            out.findings.append(AuditFinding(
                file: t.file, offset: nil, position: p, eventID: nil, rule: rule,
                message: "the log does not match the state signed at \(WireFormat.timestamp(micros: t.checkpoint.signedAtMicros)) for position \(p): \(problems). \(what)"))
        }
        return out
    }
}
