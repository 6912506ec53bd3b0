import Foundation

/// Everything the journal can refuse or fail with. Each case carries what a person needs to act:
/// which event, which stream, which file and byte offset.
public enum JournalError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The append asked for versions some streams do not have; every such stream is listed.
    case wrongExpectedVersion([VersionConflict])
    /// Some, not all, of the append's event ids are already committed: a retry must resend the same append.
    case partialDuplicate(committed: [UUID], new: [UUID])
    /// Every id is committed, but not with the same streams: this is not a retry of that append.
    case idempotencyMismatch(eventID: UUID, committedStream: String, requestedStream: String)
    /// The same event id appears twice in one append.
    case duplicateEventInAppend(UUID)
    case emptyAppend
    /// `expectedVersions` names a stream that no event of the append writes to.
    case expectationForUnwrittenStream(String)
    case invalidStreamID(eventIndex: Int, stream: String, reason: String)
    case invalidEventType(eventIndex: Int, type: String, reason: String)
    case invalidJSON(eventIndex: Int, field: String, failure: JSONValidation.Failure)
    case eventTooLarge(eventIndex: Int, size: Int, limit: Int)
    case appendTooLarge(size: Int, limit: Int)
    case tooManyEvents(count: Int, limit: Int)
    /// The disk (or the file-size limit) is full. Nothing of the append was kept; retry once space returns.
    case noSpace(path: String)
    /// An I/O call failed. After a failed fsync the writer stops accepting appends until reopened,
    /// because the kernel may have dropped the dirty pages it could not write. An append answered
    /// with a failed `fdatasync` has an unknown outcome, not a failed one: its frame was written
    /// and may be found on disk at the next open. Retry it with the same event ids (the retry is
    /// then answered with the original result if it was kept); without ids a retry may store it twice.
    case io(operation: String, path: String, errno: Int32)
    case writerFailed(reason: String)
    case closed
    case locked(path: String)
    case notAJournal(path: String, reason: String)
    /// `JournalOptions` that the format or the writer cannot honour; names the option.
    case invalidOptions(String)
    /// `TailRepair` would not cut: the reason says why and what to do.
    case repairRefused(String)
    /// Damage that recovery must not repair by itself: a sealed segment, a broken chain, or a bad
    /// frame with good frames after it.
    case corrupt(JournalDamage)

    public var description: String {
        switch self {
        case .wrongExpectedVersion(let conflicts):
            return conflicts.map(\.description).joined(separator: "; ")
        case .partialDuplicate(let c, let n):
            return "\(c.count) of the append's event ids are already committed and \(n.count) are new; a retry must resend the original append unchanged (first committed id \(c.first?.uuidString ?? "-"))"
        case .idempotencyMismatch(let id, let committed, let requested):
            return "event \(id.uuidString) is already committed in stream '\(committed)', not in '\(requested)'"
        case .duplicateEventInAppend(let id):
            return "event id \(id.uuidString) appears twice in one append"
        case .emptyAppend:
            return "an append needs at least one event"
        case .expectationForUnwrittenStream(let s):
            return "expectedVersions names stream '\(s)', but no event of the append writes to it"
        case .invalidStreamID(let i, let s, let r):
            return "event \(i): invalid stream id '\(s.prefix(80))': \(r)"
        case .invalidEventType(let i, let t, let r):
            return "event \(i): invalid event type '\(t.prefix(80))': \(r)"
        case .invalidJSON(let i, let field, let f):
            return "event \(i): \(field) is not a valid JSON object: \(f)"
        case .eventTooLarge(let i, let size, let limit):
            return "event \(i) is \(size) bytes, over the limit of \(limit)"
        case .appendTooLarge(let size, let limit):
            return "the append is \(size) bytes, over the limit of \(limit)"
        case .tooManyEvents(let count, let limit):
            return "the append has \(count) events, over the limit of \(limit)"
        case .noSpace(let path):
            return "no space left on the device holding \(path); nothing of this append was written, retry once space is freed"
        case .io(let op, let path, let e):
            return "\(op) failed on \(path): \(String(cString: strerror(e))) (errno \(e))"
        case .writerFailed(let reason):
            return "the journal writer stopped after an earlier failure and must be reopened: \(reason)"
        case .closed:
            return "the journal is closed"
        case .locked(let path):
            return "another process holds the journal for writing (lock \(path))"
        case .notAJournal(let path, let reason):
            return "\(path) is not a usable journal: \(reason)"
        case .repairRefused(let reason):
            return "not cut: \(reason)"
        case .invalidOptions(let reason):
            return "invalid journal options: \(reason)"
        case .corrupt(let damage):
            return damage.description
        }
    }
}

/// One stream whose version did not match an append's expectation. `actual` nil means no stream.
public struct VersionConflict: Sendable, Equatable, CustomStringConvertible {
    public var stream: String
    public var expected: ExpectedVersion
    public var actual: UInt64?

    public init(stream: String, expected: ExpectedVersion, actual: UInt64?) {
        self.stream = stream
        self.expected = expected
        self.actual = actual
    }

    public var description: String {
        "stream '\(stream)' was expected \(expected == .noStream ? "not to exist" : expected == .streamExists ? "to exist" : "at version \(expected)") but \(actual.map { "is at version \($0)" } ?? "does not exist")"
    }
}

/// Where the journal is damaged, precisely enough to open the file at that byte.
public struct JournalDamage: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        case badSegmentHeader, badFrameHeader, badChecksum, badCompression, badRecord
        case brokenChain, positionGap, badIndex, midSegmentGarbage, truncatedSealedSegment, foreignSegment, streamVersionGap
    }

    public var kind: Kind
    public var file: String
    public var offset: UInt64
    /// The first global position affected, when known.
    public var position: UInt64?
    public var detail: String

    public init(kind: Kind, file: String, offset: UInt64, position: UInt64?, detail: String) {
        self.kind = kind
        self.file = file
        self.offset = offset
        self.position = position
        self.detail = detail
    }

    public var description: String {
        "journal damaged (\(kind.rawValue)) in \(file) at byte \(offset)\(position.map { ", position \($0)" } ?? ""): \(detail)"
    }
}

/// Limits on what one append may carry. Exceeding one is a typed error; nothing partial is written.
public struct JournalLimits: Sendable, Equatable {
    public var maximumEventBytes = 1 << 20
    public var maximumAppendBytes = 16 << 20
    public var maximumEventsPerAppend = 10_000
    public var maximumStreamIDBytes = 200
    public var maximumTypeBytes = 100

    public init() {}

    /// The bytes an event's record takes, which `maximumEventBytes` bounds.
    static func recordBytes(stream: String, type: String, metadata: Int, data: Int) -> Int {
        JournalFormat.recordFixedSize + stream.utf8.count + type.utf8.count + metadata + data
    }

    /// Stream ids are printable ASCII without spaces or slashes, so they fit in URLs, file names
    /// and log lines without escaping: letters, digits and `- _ . : @ + =`.
    func streamIDProblem(_ stream: String) -> String? {
        let utf8 = stream.utf8
        if utf8.isEmpty { return "it is empty" }
        if utf8.count > maximumStreamIDBytes { return "it is \(utf8.count) bytes, over the limit of \(maximumStreamIDBytes)" }
        if let c = Self.firstByte(of: stream, outside: Self.streamIDBytes) {
            return "character \(Self.describe(c)) is not allowed (letters, digits and - _ . : @ + = only)"
        }
        return nil
    }

    func typeProblem(_ type: String) -> String? {
        let utf8 = type.utf8
        if utf8.isEmpty { return "it is empty" }
        if utf8.count > maximumTypeBytes { return "it is \(utf8.count) bytes, over the limit of \(maximumTypeBytes)" }
        if let c = Self.firstByte(of: type, outside: Self.typeBytes) {
            return "character \(Self.describe(c)) is not allowed (letters, digits and - _ . : only)"
        }
        return nil
    }

    /// The ASCII bytes a name may use, as a 128-bit set (low word: bytes 0-63, high: 64-127).
    /// Every append checks every byte of every stream id and type on the caller's thread, so the
    /// check is one shift and mask per byte rather than a scan of the allowed punctuation.
    private struct ByteSet {
        var low: UInt64 = 0
        var high: UInt64 = 0

        init(allowing extra: StaticString) {
            for c in UInt8(ascii: "0")...UInt8(ascii: "9") { insert(c) }
            for c in UInt8(ascii: "A")...UInt8(ascii: "Z") { insert(c) }
            for c in UInt8(ascii: "a")...UInt8(ascii: "z") { insert(c) }
            for k in 0..<extra.utf8CodeUnitCount { insert(extra.utf8Start[k]) }
        }

        private mutating func insert(_ c: UInt8) {
            if c < 64 { low |= 1 << UInt64(c) } else { high |= 1 << UInt64(c - 64) }
        }

        @inline(__always) func contains(_ c: UInt8) -> Bool { admits(c) != 0 }

        /// 1 when `c` is in the set, else 0, without a branch: names mix digits (low word) and
        /// letters (high word) at random, so a branch per byte on which word to test mispredicts
        /// about half the time on hexadecimal ids.
        @inline(__always) func admits(_ c: UInt8) -> UInt64 {
            let word = c & 0x40 == 0 ? low : high
            return (word >> UInt64(c & 0x3F)) & UInt64(~c >> 7)
        }
    }

    private static let streamIDBytes = ByteSet(allowing: "-_.:@+=")
    private static let typeBytes = ByteSet(allowing: "-_.:")

    private static func firstByte(of name: String, outside allowed: ByteSet) -> UInt8? {
        var name = name
        return name.withUTF8 { bytes in
            for c in bytes where !allowed.contains(c) { return c }
            return nil
        }
    }

    private static func describe(_ c: UInt8) -> String {
        c >= 0x21 && c < 0x7F ? "'\(Character(UnicodeScalar(c)))'" : String(format: "0x%02X", c)
    }
}

/// When sealed segments' own checksums are compared with the ones recorded at their seal. Their
/// indexes are checksummed while opening in every mode: lookups trust them.
public enum SealedSegmentCheck: Sendable, Equatable {
    /// Opening fails on damage, naming file, offset and position; opening takes time in
    /// proportion to the journal's size.
    case beforeOpening
    /// Opening returns once the indexes are checked; damage found in a segment stops the writer
    /// with the locating error, as KurrentDB verifies its chunks after start-up.
    case inBackground
    case never
}

/// When an acknowledged append is on disk.
public enum Durability: Sendable, Equatable {
    /// Acknowledge after write + fdatasync (the default, and the only mode services should use).
    case durable
    /// Acknowledge after write; sync on seal and close. For bulk loads you can redo, and benchmarks.
    /// A power loss (not a crash of the process: the kernel still writes its cache) can lose any
    /// frame written since the last sync, and, since the disk may keep later pages and not earlier
    /// ones, leave sound frames after a hole of zeros: the journal then refuses to open
    /// (`midSegmentGarbage`) until the segment is cut at the last sound frame before the hole.
    case relaxed
}

public struct JournalOptions: Sendable {
    /// A segment is sealed once it reaches this many bytes; frames are never split. Opening
    /// replays the open segment's frames to rebuild its in-memory index, so this bounds the
    /// work before the first append: 32 MiB is about 350,000 events of the simulated mix.
    public var segmentSizeLimit: Int = 32 << 20
    public var limits = JournalLimits()
    public var durability: Durability = .durable
    /// zstd level for frame payloads; 0 stores them uncompressed. Level 1 by measurement: on the
    /// simulated mix in frames of 100 events, levels 1, 3, 6 and 9 all store about 95 bytes per
    /// event (random ids and identity hashes dominate), while level 1 compresses twice as fast as
    /// level 3, and compression sits on the writer's serial path before each fdatasync.
    public var compressionLevel: Int32 = 1
    /// Sealed segments are rewritten in the background with their frames compressed together
    /// (FORMAT.md, section 3.1); nil keeps every segment as it was written.
    public var packing: SegmentPacking? = SegmentPacking()
    /// The most bytes of appends the writer packs into one group-commit frame.
    public var maximumFrameBytes: Int = 4 << 20
    /// Zeros the writer lays down ahead of the open segment's last frame, in the same write and
    /// sync as a frame, whenever frames reach the end of the file (0: none). Frames then overwrite
    /// durable zeros, so their fdatasync does not change the file size and need not write the
    /// inode: on ext4 that is one disk round trip fewer per commit (PostgreSQL zero-fills its WAL
    /// segments for the same reason). Never more than up to the segment size limit; the zeros
    /// left when the segment is sealed are cut off first. See FORMAT.md, section 5.
    public var preallocationBytes: Int = 4 << 20
    /// Decoded bytes of packed-segment blocks kept for random reads (0: none). A read of one
    /// event in a packed segment decodes its whole block (256 KiB by default); the cache keeps
    /// the blocks read last, so a stream's or a dossier's events read again cost a lookup.
    public var blockCacheBytes: Int = 16 << 20
    /// How many streams' last versions the writer keeps in memory between appends. Past this the
    /// cache is emptied and refilled from the open segment and the sealed indexes as streams come
    /// back (about 60 bytes and the id per stream, so the default bounds it near 100 MiB).
    public var writerCachedStreams: Int = 1 << 20
    /// Where recovery reports what it truncated; defaults to standard error.
    public var log: @Sendable (String) -> Void = { message in
        FileHandle.standardError.write(Data(("registre: " + message + "\n").utf8))
    }
    /// The clock for `recordedAt`, in microseconds since the epoch; tests pin it.
    public var clock: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1_000_000) }
    /// When to check every sealed segment against the CRC32C recorded at its seal (a sequential
    /// read at disk speed). Reads and `registre verify` check frames whatever this says.
    public var sealedSegmentCheck: SealedSegmentCheck = .inBackground
    /// Signs checkpoints into `checkpoints/` (docs/AUDIT.md); none are written without a key.
    public var checkpointSigner: CheckpointSigner? = nil
    /// Sign after this many new events (0: not by count); checked after each commit.
    public var checkpointEvery: Int = 100_000
    /// Also sign when this many seconds have passed since the last checkpoint and events came in.
    public var checkpointInterval: Double? = nil
    /// Called on the writer thread after each durable frame; it must return quickly.
    public var onCommit: (@Sendable (CommitStatistics) -> Void)?
    /// Debug-only syscall indirection so tests can inject fsync errors, short writes and ENOSPC.
    var systemCalls = SystemCalls.live

    public init() {}
}
