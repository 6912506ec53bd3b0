import Crypto
import Foundation

/// A signed statement of the journal's state at one position: "these are the first `position`
/// events, their chain hash and their Merkle root". Someone who rewrites history and recomputes
/// every CRC and chain hash still cannot produce a matching checkpoint without the private key,
/// so the public key alone catches the rewrite (docs/AUDIT.md, "Checkpoint file").
///
/// Layout (216 bytes, integers little-endian):
///
///     0   8  magic "RGSTRCKP"
///     8   2  format version (1)
///    10   2  signature algorithm (1 = Ed25519)
///    12   4  reserved, zero
///    16  16  journal id
///    32   8  position: number of events covered (= Merkle tree size)
///    40  32  chain hash of the frame ending at `position` (zero when position is 0)
///    72  32  RFC 6962 Merkle root over the records at positions 0..<position
///   104   8  signed at, microseconds since the epoch (the writer's clock; never before offset 112)
///   112   8  recordedAt of the event at position-1 (Int64.min when position is 0)
///   120  32  key id: SHA-256 of the 32-byte Ed25519 public key
///   152  64  Ed25519 signature over bytes 0..<152
public struct Checkpoint: Sendable, Equatable {
    public static let encodedSize = 216
    public static let signedSize = 152
    static let magic = Array("RGSTRCKP".utf8)
    static let version: UInt16 = 1
    static let ed25519: UInt16 = 1
    public static let fileExtension = "ckpt"

    public var journalID: UUID
    public var position: UInt64
    public var chainHash: Digest32
    public var merkleRoot: Digest32
    public var signedAtMicros: Int64
    public var lastRecordedAtMicros: Int64
    public var keyID: Digest32
    /// 64 bytes.
    public var signature: [UInt8]

    public init(journalID: UUID, position: UInt64, chainHash: Digest32, merkleRoot: Digest32, signedAtMicros: Int64,
                lastRecordedAtMicros: Int64, keyID: Digest32, signature: [UInt8]) {
        self.journalID = journalID
        self.position = position
        self.chainHash = chainHash
        self.merkleRoot = merkleRoot
        self.signedAtMicros = signedAtMicros
        self.lastRecordedAtMicros = lastRecordedAtMicros
        self.keyID = keyID
        self.signature = signature
    }

    /// The bytes the signature covers.
    public var signedBytes: [UInt8] {
        var w = ByteWriter(capacity: Self.encodedSize)
        w.writeBytes(Self.magic)
        w.writeInteger(Self.version)
        w.writeInteger(Self.ed25519)
        w.writeInteger(UInt32(0))
        w.writeBytes(journalID.bytes)
        w.writeInteger(position)
        w.writeBytes(chainHash.bytes)
        w.writeBytes(merkleRoot.bytes)
        w.writeInteger(signedAtMicros)
        w.writeInteger(lastRecordedAtMicros)
        w.writeBytes(keyID.bytes)
        return w.bytes
    }

    public func encoded() -> [UInt8] { signedBytes + signature }

    /// Decodes a checkpoint file. It checks the layout only; `isSigned(by:)` checks the signature.
    public init(decoding bytes: [UInt8]) throws(CheckpointError) {
        guard bytes.count == Self.encodedSize else {
            throw .malformed("a checkpoint is \(Self.encodedSize) bytes, this one is \(bytes.count)")
        }
        guard Array(bytes[0..<8]) == Self.magic else { throw .malformed("it does not start with the magic RGSTRCKP") }
        let (version, algorithm, reserved): (UInt16, UInt16, UInt32) = bytes.withUnsafeBytes { ($0.getInteger(at: 8), $0.getInteger(at: 10), $0.getInteger(at: 12)) }
        guard version == Self.version else { throw .malformed("unknown checkpoint format version \(version)") }
        guard algorithm == Self.ed25519 else { throw .malformed("unknown signature algorithm \(algorithm)") }
        guard reserved == 0 else { throw .malformed("reserved bytes 12..<16 are not zero") }
        journalID = UUID(bytes: Array(bytes[16..<32]))
        (position, signedAtMicros, lastRecordedAtMicros) = bytes.withUnsafeBytes { ($0.getInteger(at: 32), $0.getInteger(at: 104), $0.getInteger(at: 112)) }
        chainHash = Digest32(bytes: Array(bytes[40..<72]))
        merkleRoot = Digest32(bytes: Array(bytes[72..<104]))
        keyID = Digest32(bytes: Array(bytes[120..<152]))
        signature = Array(bytes[152..<216])
    }

    public init(contentsOfFile path: String) throws(CheckpointError) {
        // A little more than a checkpoint, so that a longer file is refused as malformed, not read whole.
        guard let bytes = FileDescriptor.contentsOfSmallFile(path, limit: Self.encodedSize + 1) else {
            throw FileManager.default.fileExists(atPath: path) ? .malformed("\(path): not a regular file of \(Self.encodedSize) bytes") : .unreadable(path: path)
        }
        do { try self.init(decoding: bytes) } catch { throw .malformed("\(path): \(error.reason)") }
    }

    /// True when the signature is valid for `key` and the key id names that key.
    public func isSigned(by key: CheckpointPublicKey) -> Bool {
        guard keyID == key.keyID, let k = try? Curve25519.Signing.PublicKey(rawRepresentation: key.rawRepresentation) else { return false }
        return k.isValidSignature(signature, for: signedBytes)
    }

    /// `00000000000000001234.ckpt`: sorted by position, like segments.
    public static func fileName(position: UInt64) -> String {
        JournalFormat.paddedPosition(position) + "." + fileExtension
    }

    /// The checkpoint files of a journal directory, oldest position first. Damaged files are
    /// returned as failures, so an audit reports them instead of skipping them; a folder that
    /// cannot be listed is one failure with an empty name.
    public static func files(inJournal directory: String) -> [(name: String, checkpoint: Result<Checkpoint, CheckpointError>)] {
        let folder = JournalDirectory(path: directory).checkpointDirectory
        let names: [String]
        do { names = try DirectoryListing.names(in: folder) } catch {
            // No folder: no checkpoint was ever written. Any other failure is reported, not
            // taken for "no checkpoints", which would let an audit pass without checking any.
            // The entry of the folder itself has an empty name.
            return error.isMissing ? [] : [(name: "", checkpoint: .failure(.unreadable(path: folder)))]
        }
        return names.filter { $0.hasSuffix("." + fileExtension) }.sorted().map { name in
            (name, Result { () throws(CheckpointError) in try Checkpoint(contentsOfFile: folder + "/" + name) })
        }
    }
}

public enum CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    case unreadable(path: String)
    case badKeyFile(path: String, reason: String)

    var reason: String {
        switch self {
        case .malformed(let r): return r
        case .unreadable(let path): return "cannot read \(path)"
        case .badKeyFile(let path, let r): return "\(path): \(r)"
        }
    }

    public var description: String {
        switch self {
        case .malformed(let r): return "malformed checkpoint: \(r)"
        case .unreadable(let path): return "cannot read checkpoint file \(path)"
        case .badKeyFile(let path, let r): return "unusable key file \(path): \(r)"
        }
    }
}

/// An Ed25519 public key that checks checkpoint signatures.
///
/// File format (text): the line `registre ed25519 public key v1`, then the 32 raw key bytes in
/// standard base64 on one line. Blank lines and trailing newlines are ignored.
public struct CheckpointPublicKey: Sendable {
    static let header = "registre ed25519 public key v1"
    /// The 32 key bytes; kept raw because swift-crypto's key types are not Sendable.
    public let rawRepresentation: [UInt8]
    public let keyID: Digest32

    public init(rawRepresentation raw: [UInt8]) throws(CheckpointError) {
        guard raw.count == 32, (try? Curve25519.Signing.PublicKey(rawRepresentation: raw)) != nil else {
            throw .malformed("an Ed25519 public key is 32 bytes")
        }
        rawRepresentation = raw
        keyID = Digest32(SHA256.hash(data: raw))
    }

    public init(file path: String) throws(CheckpointError) {
        let raw = try KeyFile.read(path: path, header: Self.header)
        do { try self.init(rawRepresentation: raw) } catch { throw .badKeyFile(path: path, reason: "not an Ed25519 public key") }
    }

    public var fileContents: String { KeyFile.contents(header: Self.header, raw: rawRepresentation) }
}

/// The private key a writer signs checkpoints with.
///
/// File format (text, mode 0600): the line `registre ed25519 private key v1`, then the 32-byte
/// Ed25519 seed (RFC 8032 private key) in standard base64 on one line.
public struct CheckpointSigner: Sendable {
    static let header = "registre ed25519 private key v1"
    /// The 32-byte seed; kept raw because swift-crypto's key types are not Sendable.
    public let rawRepresentation: [UInt8]
    public let publicKey: CheckpointPublicKey
    /// A directory outside every journal where this key keeps, per journal id, the last
    /// checkpoint it signed (`<journal id>.ckpt`). A writer opening a journal with this key signs
    /// nothing until the journal extends that checkpoint: someone who rewrites a journal and
    /// deletes its checkpoints must not get the key to sign the rewrite. `init(file:)` puts it
    /// next to the key file (`KEY.signed`); nil keeps no record.
    public var signedRecord: String?

    /// A new random key pair.
    public init() {
        try! self.init(rawRepresentation: [UInt8](Curve25519.Signing.PrivateKey().rawRepresentation))
    }

    public init(rawRepresentation raw: [UInt8]) throws(CheckpointError) {
        guard raw.count == 32, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw) else {
            throw .malformed("an Ed25519 private key is a 32-byte seed")
        }
        rawRepresentation = raw
        publicKey = try! CheckpointPublicKey(rawRepresentation: [UInt8](key.publicKey.rawRepresentation))
        signedRecord = nil
    }

    /// Reads a private key file, refusing one that others can read: a leaked key lets anyone
    /// sign a rewritten history.
    public init(file path: String) throws(CheckpointError) {
        var status = stat()
        guard stat(path, &status) == 0 else { throw .badKeyFile(path: path, reason: "cannot read it") }
        guard status.st_mode & 0o077 == 0 else {
            throw .badKeyFile(path: path, reason: "it is readable by group or others (mode \(String(status.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        let raw = try KeyFile.read(path: path, header: Self.header)
        do { try self.init(rawRepresentation: raw) } catch { throw .badKeyFile(path: path, reason: "not an Ed25519 private key") }
        signedRecord = path + ".signed"
    }

    public var fileContents: String { KeyFile.contents(header: Self.header, raw: rawRepresentation) }

    public func sign(journalID: UUID, position: UInt64, chainHash: Digest32, merkleRoot: Digest32,
                     signedAtMicros: Int64, lastRecordedAtMicros: Int64) -> Checkpoint {
        var c = Checkpoint(journalID: journalID, position: position, chainHash: chainHash, merkleRoot: merkleRoot,
                           signedAtMicros: signedAtMicros, lastRecordedAtMicros: lastRecordedAtMicros,
                           keyID: publicKey.keyID, signature: [])
        let key = try! Curve25519.Signing.PrivateKey(rawRepresentation: rawRepresentation)
        c.signature = [UInt8](try! key.signature(for: c.signedBytes))
        return c
    }
}

enum KeyFile {
    static func contents(header: String, raw: [UInt8]) -> String {
        header + "\n" + Data(raw).base64EncodedString() + "\n"
    }

    static func read(path: String, header: String) throws(CheckpointError) -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else { throw .badKeyFile(path: path, reason: "cannot read it") }
        guard let data = FileDescriptor.contentsOfSmallFile(path, limit: 4095), let text = String(bytes: data, encoding: .utf8) else {
            throw .badKeyFile(path: path, reason: "not a key file (a regular file of at most 4 KiB)")
        }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard lines.count == 2, lines[0] == header else {
            throw .badKeyFile(path: path, reason: "expected the line '\(header)' and one line of base64")
        }
        guard let raw = Data(base64Encoded: lines[1]), raw.count == 32 else {
            throw .badKeyFile(path: path, reason: "the key line is not 32 bytes of base64")
        }
        return [UInt8](raw)
    }
}

// MARK: Writing checkpoints

/// When the writer signs: every `checkpointEvery` events, every `checkpointInterval` seconds
/// (checked after each commit), and at close. Touched only by the writer thread.
final class CheckpointSchedule: @unchecked Sendable {
    let signer: CheckpointSigner
    var lastPosition: UInt64
    var lastTime: Int64
    /// Whether the journal was found to extend the last checkpoint this key signed for it.
    var recordChecked = false

    init(signer: CheckpointSigner, position: UInt64, now: Int64) {
        self.signer = signer
        lastPosition = position
        lastTime = now
    }
}

extension Journal {
    /// Called by the writer thread after each commit, and with `closing` when it stops.
    func writeCheckpointIfDue(closing: Bool) {
        checkSignedRecordOnce()
        guard let schedule = checkpoints, lock.withLock({ failure == nil }) else { return }
        let position = nextPosition
        let now = options.clock()
        if closing {
            let path = paths.checkpointDirectory + "/" + Checkpoint.fileName(position: position)
            if position == schedule.lastPosition && FileManager.default.fileExists(atPath: path) { return }
        } else {
            guard position > schedule.lastPosition else { return }
            let byCount = options.checkpointEvery > 0 && position - schedule.lastPosition >= UInt64(options.checkpointEvery)
            let byTime = options.checkpointInterval.map { now - schedule.lastTime >= Int64($0 * 1_000_000) } ?? false
            guard byCount || byTime else { return }
        }
        // A signature over events that a crash could still take away would accuse an honest
        // journal: no signature without the sync, and a failed sync stops the writer, as in
        // durable mode (the kernel may have dropped the pages; only recovery can tell).
        if options.durability == .relaxed, !closing {
            do { try syncOpenSegmentOrStop("before the checkpoint at position \(position)") } catch { return }
        }
        let root = merkle.frontier(through: position).root
        let lastTime = position == 0 ? Int64.min : lastRecordedAt
        // Events are recorded at no earlier time than the last one (`max(clock, last)`), so after
        // the clock is set back the last event's time may be ahead of it. The checkpoint says the
        // journal held these events when it was signed: it is never signed before the last of them.
        let checkpoint = schedule.signer.sign(journalID: journalID, position: position, chainHash: chainHash, merkleRoot: root,
                                              signedAtMicros: max(now, lastTime), lastRecordedAtMicros: lastTime)
        do {
            try Self.writeCheckpoint(checkpoint, paths: paths)
            schedule.lastPosition = position
            schedule.lastTime = now
            if let record = schedule.signer.signedRecord {
                do { try Self.recordSigned(checkpoint, in: record) } catch {
                    options.log("keeping the record of what the key signed in \(record) failed: a writer opening a rewritten journal would not notice (\(error))")
                }
            }
        } catch {
            options.log("writing the checkpoint at position \(position) failed (appends go on; the next one is tried after the next commit): \(error)")
        }
    }

    /// Before the first commit or checkpoint of a writer with a signing key: a journal that does
    /// not extend what the key last signed for it stops the writer, so that nothing is appended
    /// to it and the key signs nothing over it. Writer thread (or the holder of its role) only.
    func checkSignedRecordOnce() {
        guard let schedule = checkpoints, !schedule.recordChecked else { return }
        schedule.recordChecked = true
        if let problem = signedRecordProblem(schedule.signer) { poison(.writerFailed(reason: problem)) }
    }

    /// What stops this key from signing here, or nil: the journal must hold the last checkpoint
    /// the key signed for it (`CheckpointSigner.signedRecord`), with the same chain hash at its
    /// position. A record that cannot be read also stops it: signing blind is what it guards.
    func signedRecordProblem(_ signer: CheckpointSigner) -> String? {
        guard let record = signer.signedRecord else { return nil }
        let path = record + "/" + journalID.uuidString.lowercased() + ".ckpt"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let last: Checkpoint
        do { last = try Checkpoint(contentsOfFile: path) } catch {
            return "the record of the last checkpoint this key signed for the journal (\(path)) cannot be read (\(error)); no checkpoint is signed until it is mended or, after an audit, removed"
        }
        guard last.journalID == journalID, last.isSigned(by: signer.publicKey) else {
            return "the record \(path) is not a checkpoint of this journal signed by this key; no checkpoint is signed until it is mended or, after an audit, removed"
        }
        let end = lock.withLock { nextPosition }
        guard last.position <= end else {
            return "this key signed the journal through position \(last.position) (\(path)), but it holds \(end) events: it was rolled back; the writer stopped and signs nothing (audit it)"
        }
        let held: Digest32?
        do { held = try chainHash(endingAt: last.position) } catch {
            return "the frame ending at position \(last.position), which this key signed, cannot be read (\(error)); the writer stopped and signs nothing"
        }
        guard held == last.chainHash else {
            return "this key signed the journal through position \(last.position) with chain hash \(last.chainHash.hex.prefix(16))…, but the journal now has \(held.map { String($0.hex.prefix(16)) + "…" } ?? "no frame ending there"): its history was rewritten; the writer stopped and signs nothing (audit it)"
        }
        return nil
    }

    /// The chain hash after the frame that ends at `position` (zero for position 0), or nil when
    /// no frame ends there.
    func chainHash(endingAt position: UInt64) throws -> Digest32? {
        if position == 0 { return .zero }
        let (end, current) = lock.withLock { (nextPosition, chainHash) }
        if position == end { return current }
        return try frameHeader(containing: position - 1).flatMap { $0.firstPosition + UInt64($0.eventCount) == position ? $0.chainHash : nil }
    }

    /// Keeps `checkpoint` as the last one the key signed for its journal: temp + fsync + rename.
    static func recordSigned(_ checkpoint: Checkpoint, in directory: String) throws {
        if !FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        // Every time, not only when the directory was made here: a failed fsync after the
        // creation would otherwise never be tried again, and the directory's name could be lost.
        try FileDescriptor.syncDirectory((directory as NSString).deletingLastPathComponent)
        let final = directory + "/" + checkpoint.journalID.uuidString.lowercased() + ".ckpt"
        let temporary = final + ".tmp"
        let file = try FileDescriptor.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        try file.writeAll(checkpoint.encoded(), at: 0)
        try file.syncData()
        guard rename(temporary, final) == 0 else { throw JournalError.io(operation: "rename", path: final, errno: errno) }
        try FileDescriptor.syncDirectory(directory)
    }

    /// temp + fsync + rename + fsync of the directory: a crash leaves the old file set or the new one.
    static func writeCheckpoint(_ checkpoint: Checkpoint, paths: JournalDirectory) throws {
        if !FileManager.default.fileExists(atPath: paths.checkpointDirectory) {
            try FileManager.default.createDirectory(atPath: paths.checkpointDirectory, withIntermediateDirectories: true)
        }
        // Every time (a checkpoint is rare): see `recordSigned`.
        try FileDescriptor.syncDirectory(paths.path)
        let final = paths.checkpointDirectory + "/" + Checkpoint.fileName(position: checkpoint.position)
        let temporary = final + ".tmp"
        let file = try FileDescriptor.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        try file.writeAll(checkpoint.encoded(), at: 0)
        try file.syncData()
        guard rename(temporary, final) == 0 else { throw JournalError.io(operation: "rename", path: final, errno: errno) }
        try FileDescriptor.syncDirectory(paths.checkpointDirectory)
    }
}
