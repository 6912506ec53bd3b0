import Foundation
import Testing
@testable import Journal

@Suite("Checkpoints")
struct CheckpointTests {
    @Test("the writer signs every N events and at close, and each checkpoint states the log at its position")
    func writtenPeriodicallyAndAtClose() throws {
        let dir = TemporaryDirectory("periodic")
        let journal = try Journal.open(directory: dir.path, options: auditOptions(every: 10))
        for i in 0..<25 { _ = try journal.appendAndWait(AppendRequest(events: [ProposedEvent(stream: "s-\(i % 3)", type: "T", data: Array("{}".utf8))])) }
        let head = journal.head
        journal.close()
        // One event per frame: signed at 10, 20, and 25 at close.
        #expect(dir.checkpointNames == ["00000000000000000010.ckpt", "00000000000000000020.ckpt", "00000000000000000025.ckpt"])
        let last = dir.checkpoint("00000000000000000025.ckpt")
        #expect(last.position == 25)
        #expect(last.journalID == head.journalID)
        #expect(last.chainHash == head.chainHash)
        #expect(last.merkleRoot == head.merkleRoot)
        #expect(last.isSigned(by: testSigner.publicKey))
        // Reopening and closing without appends writes nothing new.
        try Journal.open(directory: dir.path, options: auditOptions(every: 10)).close()
        #expect(dir.checkpointNames.count == 3)
    }

    @Test("without a key no checkpoint is written")
    func noKeyNoCheckpoints() throws {
        let dir = TemporaryDirectory("nokey")
        var options = auditOptions()
        options.checkpointSigner = nil
        let journal = try Journal.open(directory: dir.path, options: options)
        _ = try journal.appendAndWait(AppendRequest(events: [ProposedEvent(stream: "s", type: "T", data: Array("{}".utf8))]))
        journal.close()
        #expect(dir.checkpointNames.isEmpty)
    }

    @Test("a checkpoint round-trips through its 216 bytes, and any changed byte breaks the signature")
    func encodingAndSignature() throws {
        let c = testSigner.sign(journalID: UUID(), position: 42, chainHash: Digest32(bytes: Array(repeating: 7, count: 32)),
                                merkleRoot: Digest32(bytes: Array(repeating: 9, count: 32)), signedAtMicros: 1, lastRecordedAtMicros: 2)
        let bytes = c.encoded()
        #expect(bytes.count == 216)
        #expect(Array(bytes[0..<8]) == Array("RGSTRCKP".utf8))
        #expect(bytes.withUnsafeBytes { $0.getInteger(at: 32) as UInt64 } == 42)
        #expect(try Checkpoint(decoding: bytes) == c)
        for i in [16, 33, 40, 72, 104, 112, 120, 152, 215] {
            var forged = bytes
            forged[i] ^= 1
            #expect((try? Checkpoint(decoding: forged))?.isSigned(by: testSigner.publicKey) != true, "byte \(i)")
        }
        #expect(!c.isSigned(by: CheckpointSigner().publicKey))
        #expect(throws: CheckpointError.self) { try Checkpoint(decoding: Array(bytes.prefix(200))) }
    }

    @Test("key files round-trip, and a private key readable by others is refused")
    func keyFiles() throws {
        let dir = TemporaryDirectory("keys")
        let signer = CheckpointSigner()
        _ = FileManager.default.createFile(atPath: dir.file("k.key"), contents: Data(signer.fileContents.utf8), attributes: [.posixPermissions: 0o600])
        _ = FileManager.default.createFile(atPath: dir.file("k.pub"), contents: Data(signer.publicKey.fileContents.utf8))
        #expect(try CheckpointSigner(file: dir.file("k.key")).publicKey.keyID == signer.publicKey.keyID)
        #expect(try CheckpointPublicKey(file: dir.file("k.pub")).rawRepresentation == signer.publicKey.rawRepresentation)
        #expect(signer.fileContents.hasPrefix("registre ed25519 private key v1\n"))
        chmod(dir.file("k.key"), 0o644)
        #expect(throws: CheckpointError.self) { try CheckpointSigner(file: dir.file("k.key")) }
        // The public key file is not a private key, and garbage is not a key.
        _ = FileManager.default.createFile(atPath: dir.file("bad.pub"), contents: Data("registre ed25519 public key v1\nnot base64\n".utf8))
        #expect(throws: CheckpointError.self) { try CheckpointPublicKey(file: dir.file("bad.pub")) }
        #expect(throws: CheckpointError.self) { try CheckpointPublicKey(file: dir.file("k.key")) }
    }

    /// A copy of a journal is hostile until checked: a FIFO in place of a checkpoint or a key
    /// would block the audit for ever, and a huge sparse file would be read whole. Both are
    /// refused at once, without reading them.
    @Test("a FIFO or a huge file in place of a checkpoint or a key is refused without reading it")
    func fifosAndHugeFilesAreRefused() throws {
        let dir = TemporaryDirectory("hostile-files")
        #expect(mkfifo(dir.file("fifo"), 0o600) == 0)
        let huge = dir.file("huge")
        _ = FileManager.default.createFile(atPath: huge, contents: nil)
        #expect(truncate(huge, 1 << 40) == 0)
        let started = ContinuousClock.now
        for path in [dir.file("fifo"), huge] {
            #expect(throws: CheckpointError.self) { try Checkpoint(contentsOfFile: path) }
            #expect(throws: CheckpointError.self) { try CheckpointPublicKey(file: path) }
        }
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(throws: CheckpointError.unreadable(path: dir.file("missing"))) { try Checkpoint(contentsOfFile: dir.file("missing")) }
    }
}
