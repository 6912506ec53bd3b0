import ArgumentParser
import Audit
import Foundation
import Journal
#if canImport(Glibc)
import Glibc
#endif

/// `registre keygen`: the Ed25519 key pair that signs checkpoints (docs/AUDIT.md, "Key files").
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Create an Ed25519 key pair for signing checkpoints: PREFIX.key (private, mode 0600) and PREFIX.pub.",
        discussion: "Give the writer the private key and keep it off the machines auditors use; give auditors and applicants the public key."
    )

    @Option(help: ArgumentHelp("Path prefix of the two files.", valueName: "PREFIX"))
    var out: String

    func run() throws {
        let signer = CheckpointSigner()
        let privatePath = out + ".key", publicPath = out + ".pub"
        for path in [privatePath, publicPath] where FileManager.default.fileExists(atPath: path) {
            throw ValidationError("\(path) already exists; remove it first (a key is never overwritten)")
        }
        try writeExclusively(privatePath, signer.fileContents, mode: 0o600)
        try writeExclusively(publicPath, signer.publicKey.fileContents, mode: 0o644)
        print("private key: \(privatePath) (mode 0600)")
        print("public key:  \(publicPath)")
        print("key id:      \(signer.publicKey.keyID.hex)")
    }

    /// O_EXCL, so a race cannot replace a key, and the mode set at creation, so the private key
    /// is never readable by others, not even for an instant.
    private func writeExclusively(_ path: String, _ text: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else { throw ValidationError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        _ = fchmod(fd, mode)
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count, fsync(fd) == 0 else {
            throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// Reads a public key file for a command, turning a bad file into exit status 2.
private func loadPublicKey(_ path: String) throws -> CheckpointPublicKey {
    do { return try CheckpointPublicKey(file: path) } catch {
        printError("\(error)")
        throw ExitCode(2)
    }
}

private func loadCheckpoint(_ path: String) throws -> Checkpoint {
    do { return try Checkpoint(contentsOfFile: path) } catch {
        printError("\(error)")
        throw ExitCode(2)
    }
}

private func readFile(_ path: String, what: String) throws -> [UInt8] {
    // Receipts and proofs are at most 8 MiB (`ProofJSON`); one byte more is enough to refuse a larger one by name.
    guard let bytes = SmallFile.contents(atPath: path, limit: (8 << 20) + 1) else {
        printError("cannot read the \(what) \(path): it is missing, unreadable, not a regular file, or over 8 MiB")
        throw ExitCode(2)
    }
    return bytes
}

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Prove from a copy of the journal that history was not rewritten and that every event obeyed the domain's rules.",
        discussion: """
        Checks every frame's CRC and chain hash, gapless positions and stream versions, unique event ids, the indexes, \
        every checkpoint's signature and its agreement with the log (chain hash and Merkle root at its position), an \
        optional trusted checkpoint kept elsewhere, and replays every event through the domain rules (the server's rule names), \
        including that each event of several streams (a booking: its slot's and its applicant's) was appended to all of them at once. \
        Exit status: 0 clean, 1 findings (each with file, byte offset, position, event id, rule and a sentence), 2 unusable input.
        """
    )

    @OptionGroup var location: JournalLocation

    @Option(help: ArgumentHelp("The public key that signs the journal's checkpoints.", valueName: "FILE"))
    var publicKey: String?

    @Flag(help: "The history was never signed (simulated, or imported without a key): check integrity and rules, and do not require a signed checkpoint. Without --public-key, checkpoints are compared with the log only.")
    var unsigned = false

    @Option(help: ArgumentHelp("A checkpoint kept outside the journal: the journal must extend it.", valueName: "FILE"))
    var trustedCheckpoint: String?

    @Flag(help: "Write the report as JSON on stdout.")
    var json = false

    @Flag(help: "Skip the domain rules (integrity and signatures only).")
    var noRules = false

    @Option(help: "Findings to list; all are counted.")
    var maximumFindings = 10_000

    func validate() throws {
        if publicKey == nil, !unsigned {
            throw ValidationError("--public-key is required: the audit proves the history against the key that signs it (for a history never signed, give --unsigned)")
        }
        guard maximumFindings >= 0 else { throw ValidationError("--maximum-findings must be 0 or more, not \(maximumFindings)") }
    }

    func run() throws {
        var options = AuditOptions()
        options.publicKey = try publicKey.map(loadPublicKey)
        options.requireSignedCheckpoint = !unsigned
        if let trustedCheckpoint { options.trustedCheckpoint = (trustedCheckpoint, try loadCheckpoint(trustedCheckpoint)) }
        options.checkRules = !noRules
        options.maximumFindings = maximumFindings
        var bar: ProgressBar? = nil
        let report: AuditReport
        do {
            report = try Auditor.audit(directory: location.journal, options: options) { done, total in
                if bar == nil { bar = ProgressBar("audit", total: total) }
                bar?.update(done, unit: "bytes")
            }
        } catch {
            bar?.finish()
            printError("\(error)")
            throw ExitCode(2)
        }
        bar?.finish()
        if json {
            FileHandle.standardOutput.write(report.json())
            print()
        } else {
            printText(report)
        }
        if !report.isClean { throw ExitCode(1) }
    }

    private func printText(_ r: AuditReport) {
        for note in r.notes { print("note: \(note)") }
        for f in r.findings { print("FINDING \(f)") }
        print("journal \(r.journalID?.uuidString.lowercased() ?? "?"): \(r.segments) segments, \(r.frames) frames, \(r.events) events, \(r.bytes) bytes")
        print("chain head \(r.chainHash)")
        print("merkle root \(r.merkleRoot)")
        if r.signaturesChecked {
            print("checkpoints: \(r.checkpointsVerified) of \(r.checkpointsFound) verified\(r.signedThrough.map { ", signed through position \($0)" } ?? "")")
        } else {
            print("checkpoints: \(r.checkpointsMatching) of \(r.checkpointsFound) match the log; signatures NOT checked (--unsigned): this proves nothing against a rewrite")
        }
        if let t = r.trustedCheckpointPosition {
            print("trusted checkpoint at position \(t): \(r.findingCounts.keys.contains { $0.hasPrefix("trusted.") } ? "NOT extended" : "extended")\(r.signaturesChecked ? "" : " (its signature NOT checked)")")
        }
        print("rules: \(r.eventsRuleChecked) events replayed")
        print(String(format: "%.2f s, %.0f events/s", r.seconds, r.eventsPerSecond))
        if r.isClean {
            print("audit: clean")
        } else {
            let counts = r.findingCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            print("AUDIT FAILED: \(r.findingTotal) finding(s): \(counts)")
        }
    }
}

struct ReceiptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receipt",
        abstract: "Write a receipt (JSON) proving that an event is in the journal, checkable offline with the public key.",
        discussion: """
        The receipt holds the event, its exact record bytes, its RFC 6962 inclusion proof and the first checkpoint of this journal \
        that covers it (signed by --public-key when given; a checkpoint of another journal, or not signed by the key, is skipped with a note). \
        Exit status: 0 written; 1 the journal does not match a checkpoint signed by the key (it was rewritten); 2 unusable input: \
        no such event, no covering checkpoint, an unreadable journal or key, or, without --public-key, a checkpoint the journal \
        does not match, whose signature could not be checked.
        """
    )

    @OptionGroup var location: JournalLocation

    @Option(help: ArgumentHelp("The event id.", valueName: "UUID"))
    var event: String

    @Option(help: ArgumentHelp("Use only checkpoints signed by this key.", valueName: "FILE"))
    var publicKey: String?

    @Option(help: ArgumentHelp("Write the receipt here instead of stdout.", valueName: "FILE"))
    var out: String?

    func validate() throws {
        guard UUID(uuidString: event) != nil else { throw ValidationError("--event must be a UUID, not '\(event.prefix(60))'") }
        if let out { try OutputPaths.refuseInside(journal: location.journal, out, flag: "--out") }
    }

    func run() throws {
        let key = try publicKey.map(loadPublicKey)
        let receipt: Receipt
        do {
            receipt = try Receipt.make(directory: location.journal, eventID: UUID(uuidString: event)!, publicKey: key) { printError("note: \($0)") }
        } catch {
            printError("\(error)")
            if case .doesNotHold = error { throw ExitCode(1) }
            throw ExitCode(2)
        }
        try emit(receipt.json(), to: out)
    }
}

struct VerifyReceiptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-receipt",
        abstract: "Check a receipt offline: the checkpoint's signature, the record, and its inclusion proof.",
        discussion: "Exit status: 0 when it holds, 1 when it does not, 2 when the receipt or the key cannot be read."
    )

    @Argument(help: ArgumentHelp("The receipt file.", valueName: "RECEIPT"))
    var receipt: String

    @Option(help: ArgumentHelp("The public key that signs the journal's checkpoints.", valueName: "FILE"))
    var publicKey: String

    func run() throws {
        let key = try loadPublicKey(publicKey)
        let bytes = try readFile(receipt, what: "receipt")
        do {
            let v = try Receipt.verify(json: bytes, publicKey: key)
            print("receipt holds: event \(v.event.id.uuidString.lowercased()) (\(v.event.type) in stream '\(v.event.stream)', version \(v.event.version))")
            print("  is at position \(v.event.position) of journal \(v.checkpoint.journalID.uuidString.lowercased()), recorded at \(WireFormat.timestamp(micros: v.event.recordedAtMicros))")
            print("  under the checkpoint of \(v.checkpoint.position) events signed at \(WireFormat.timestamp(micros: v.checkpoint.signedAtMicros)) by key \(v.checkpoint.keyID.hex.prefix(16))…")
            for n in v.notes { print("  note: \(n)") }
        } catch {
            print("receipt does NOT hold: \(error)")
            if case .malformed = error { throw ExitCode(2) }
            throw ExitCode(1)
        }
    }
}

struct VerifyConsistencyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-consistency",
        abstract: "Prove that a later checkpoint extends an earlier one (RFC 6962 consistency proof), or check such a proof offline.",
        discussion: """
        With --journal, --old and --new: computes the proof from the journal, checks it, and writes it with --out. \
        With --proof: checks a proof file with the public key alone; add --old with the checkpoint you kept, so that the proof \
        must start from it (otherwise it only shows that the two checkpoints inside the file agree with each other). \
        A checkpoint given on the command line that the key did not sign (or, with --journal, that is of another journal) proves \
        nothing about the journal and is reported as untrusted or foreign, never as a rewrite; a kept --old of another journal \
        than a proof file's is a proof that does not extend it. \
        Exit status: 0 holds, 1 does not hold, 2 unusable input (including such an untrusted or foreign checkpoint).
        """
    )

    @Option(help: ArgumentHelp("The journal directory.", valueName: "DIR"))
    var journal: String?

    @Option(help: ArgumentHelp("The earlier checkpoint file (with --proof: the checkpoint you kept, which the proof must start from).", valueName: "CKPT"))
    var old: String?

    @Option(help: ArgumentHelp("The later checkpoint file.", valueName: "CKPT"))
    var new: String?

    @Option(help: ArgumentHelp("A proof file written by --out, to check without the journal.", valueName: "FILE"))
    var proof: String?

    @Option(help: ArgumentHelp("The public key that signs the checkpoints.", valueName: "FILE"))
    var publicKey: String

    @Option(help: ArgumentHelp("Write the proof (JSON) here.", valueName: "FILE"))
    var out: String?

    func validate() throws {
        if proof == nil, journal == nil || old == nil || new == nil {
            throw ValidationError("give --journal, --old and --new to compute a proof, or --proof to check one")
        }
        if proof != nil, journal != nil || new != nil {
            throw ValidationError("--proof checks a proof file without the journal; do not combine it with --journal or --new (--old names the checkpoint you kept)")
        }
        if let out, let journal { try OutputPaths.refuseInside(journal: journal, out, flag: "--out") }
    }

    func run() throws {
        let key = try loadPublicKey(publicKey)
        let consistency: ConsistencyProof
        if let proof {
            do { consistency = try ConsistencyProof(json: readFile(proof, what: "proof")) } catch let error as ProofError {
                // A proof whose readable part contradicts what is signed does not hold, as a receipt's does not.
                if case .doesNotHold = error {
                    print("consistency does NOT hold: \(error)")
                    throw ExitCode(1)
                }
                printError("\(proof): \(error)")
                throw ExitCode(2)
            }
        } else {
            let oldCheckpoint = try loadCheckpoint(old!), newCheckpoint = try loadCheckpoint(new!)
            do {
                consistency = try ConsistencyProof.make(directory: journal!, old: oldCheckpoint, new: newCheckpoint, publicKey: key)
            } catch {
                switch error {
                case .doesNotHold:
                    print("consistency does NOT hold: \(error)")
                    throw ExitCode(1)
                case .untrustedCheckpoint:
                    print("consistency NOT checked: \(error)")
                    throw ExitCode(2)
                default:
                    printError("\(error)")
                    throw ExitCode(2)
                }
            }
        }
        // The checkpoint the auditor kept is an anchor only if the key signed it: one it did not
        // sign is untrusted input, not a failed proof.
        if proof != nil, let old {
            let kept = try loadCheckpoint(old)
            if !kept.isSigned(by: key) {
                print("consistency NOT checked: untrusted checkpoint: the checkpoint kept in \(old) is not signed by the public key \(key.keyID.hex.prefix(16))…: it anchors nothing")
                throw ExitCode(2)
            }
        }
        do {
            try consistency.verify(publicKey: key)
        } catch {
            print("consistency does NOT hold: \(error)")
            throw ExitCode(1)
        }
        if proof != nil {
            if let old {
                // The key holder can sign any pair: only the checkpoint the auditor kept ties the
                // proof to the history the auditor saw.
                let kept = try loadCheckpoint(old)
                // Checked after the proof itself: a proof that does not verify is judged on that,
                // whatever journal it names. A genuine anchor of one journal and a proof of
                // another: the proof does not extend what the auditor kept.
                guard kept.journalID == consistency.old.journalID else {
                    print("consistency does NOT hold: the proof is of journal \(consistency.old.journalID.uuidString.lowercased()), not of journal \(kept.journalID.uuidString.lowercased()) of the checkpoint kept in \(old)")
                    throw ExitCode(1)
                }
                guard kept.encoded() == consistency.old.encoded() else {
                    print("consistency does NOT hold: the proof starts from another checkpoint than the one kept in \(old) (position \(consistency.old.position), Merkle root \(consistency.old.merkleRoot.hex.prefix(16))…, against position \(kept.position), Merkle root \(kept.merkleRoot.hex.prefix(16))…)")
                    throw ExitCode(1)
                }
            } else {
                print("note: without --old (the checkpoint you kept) this shows only that the two checkpoints in the file agree with each other")
            }
        }
        if let out { try emit(consistency.json(), to: out) }
        print("consistent: the checkpoint of \(consistency.new.position) events extends the one of \(consistency.old.position) events (\(consistency.proof.count) proof hashes)")
        print("journal \(consistency.new.journalID.uuidString.lowercased()); old: Merkle root \(consistency.old.merkleRoot.hex), signed at \(WireFormat.timestamp(micros: consistency.old.signedAtMicros)); new: Merkle root \(consistency.new.merkleRoot.hex), signed at \(WireFormat.timestamp(micros: consistency.new.signedAtMicros))")
    }
}

private func emit(_ bytes: [UInt8], to path: String?) throws {
    guard let path else {
        FileHandle.standardOutput.write(Data(bytes))
        return
    }
    do { try OutputPaths.writeNew(bytes, to: path) } catch {
        printError("\(error)")
        throw ExitCode(2)
    }
}
