import Foundation

/// The operator's way out when the writer refuses to open a journal because of damage in its
/// last segment: bad bytes with sound frames after them (a flipped bit in a frame that was
/// acknowledged, or a power loss in relaxed durability that kept later pages and not earlier
/// ones). Opening never cuts such bytes by itself, since they may hold acknowledged events;
/// this cuts them only when asked, and keeps every byte it removes in a quarantine directory.
///
/// Only the last segment is ever cut: damage in a sealed segment sits under later history,
/// and cutting there would drop every segment after it (restore that segment from a copy).
/// Both steps hold the journal's lock, so no writer runs meanwhile.
public enum TailRepair {
    /// What a cut would do, learnt without changing anything.
    public struct Plan: Sendable, Equatable {
        /// The segment to cut, and the byte it is cut at.
        public var segment: String
        public var offset: UInt64
        /// Bytes from `offset` to the end of the file, all of which go to quarantine.
        public var bytes: UInt64
        /// The damage found at `offset`, as opening reports it.
        public var damage: JournalDamage
        /// Events before the cut stay: positions `0..<keptThrough` (the end of the last sound
        /// frame before the damage).
        public var keptThrough: UInt64
        /// Sound frames after the damage, which the cut also removes (and quarantines): the
        /// events they hold may have been acknowledged. The damaged frame itself is not listed.
        public var framesAfter: [FrameSpan]
        public var eventsAfter: UInt64 { framesAfter.reduce(0) { $0 + UInt64($1.eventCount) } }
        /// Checkpoint files that cover positions past the cut; the cut moves them to quarantine
        /// (they would otherwise be overwritten as new events take those positions).
        public var checkpointsAfter: [String]
    }

    public struct FrameSpan: Sendable, Equatable {
        public var firstPosition: UInt64
        public var eventCount: UInt32
    }

    public enum Finding: Sendable, Equatable {
        /// No damage in the journal (a torn tail, which opening cuts by itself, is not damage).
        case nothingToCut
        /// Damage the last segment can be cut at.
        case cuttable(Plan)
        /// Damage this must not cut: the reason says what to do instead.
        case notCuttable(JournalDamage, reason: String)
    }

    /// What a cut did.
    public struct Cut: Sendable {
        /// The quarantined bytes: a verbatim copy of the segment from the cut to its end.
        public var bytesFile: String
        /// Where the checkpoints past the cut went (nil when there were none).
        public var checkpointsDirectory: String?
    }

    /// Verifies the whole journal (read-only) and, when its first damage is in the last
    /// segment's frames, plans a cut there. Refuses while a writer holds the journal: its
    /// frames in progress are not damage.
    public static func examine(directory: String) throws -> Finding {
        let paths = JournalDirectory(path: directory)
        guard paths.exists else { throw JournalError.notAJournal(path: directory, reason: "no such directory") }
        let lock = try holdLock(paths, creating: false)
        defer { lock?.unlock() }
        return try examine(paths)
    }

    /// Moves the bytes from `plan.offset` to the end of the segment into
    /// `quarantine/<segment>.<offset>.cut`, and the checkpoints past the cut into
    /// `quarantine/checkpoints-after-<position>/`, each made durable, then cuts the segment and
    /// makes that durable. A crash at any point leaves every byte somewhere, and running the cut
    /// again finishes it. Refuses while a writer holds the journal, and when the journal is no
    /// longer what `plan` describes.
    @discardableResult
    public static func cut(directory: String, as plan: Plan) throws -> Cut {
        let paths = JournalDirectory(path: directory)
        guard paths.exists else { throw JournalError.notAJournal(path: directory, reason: "no such directory") }
        let lock = try holdLock(paths, creating: true)
        defer { lock?.unlock() }
        guard case .cuttable(let current) = try examine(paths), current == plan else {
            throw JournalError.repairRefused("the journal changed since it was examined; examine it again")
        }
        let path = directory + "/" + plan.segment
        let file = try FileDescriptor.open(path, flags: O_RDWR)
        let quarantine = directory + "/quarantine"
        try makeDirectory(quarantine, in: directory)
        let bytesFile = try keep(plan.bytes, bytesAt: plan.offset, of: file, as: quarantine + "/\(plan.segment).\(plan.offset).cut")

        var checkpointsDirectory: String? = nil
        if !plan.checkpointsAfter.isEmpty {
            let folder = quarantine + "/checkpoints-after-\(plan.keptThrough)"
            try makeDirectory(folder, in: quarantine)
            for name in plan.checkpointsAfter {
                guard rename(paths.checkpointDirectory + "/" + name, folder + "/" + name) == 0 || errno == ENOENT else {
                    throw JournalError.io(operation: "rename", path: paths.checkpointDirectory + "/" + name, errno: errno)
                }
            }
            try FileDescriptor.syncDirectory(folder)
            try FileDescriptor.syncDirectory(paths.checkpointDirectory)
            checkpointsDirectory = folder
        }

        try file.truncate(to: plan.offset)
        try file.syncData()
        try FileDescriptor.syncDirectory(directory)
        return Cut(bytesFile: bytesFile, checkpointsDirectory: checkpointsDirectory)
    }

    // MARK: Steps

    private static func examine(_ paths: JournalDirectory) throws -> Finding {
        let report = try JournalVerifier.verify(directory: paths.path)
        guard let first = report.findings.first else { return .nothingToCut }
        let starts = try paths.segmentFirstPositions()
        guard let last = starts.last else { return .nothingToCut }
        let name = JournalFormat.segmentName(firstPosition: last)
        guard first.file == name else {
            return .notCuttable(first, reason: "the first damage is in \(first.file), not in the last segment: only the last segment is ever cut (a cut there would drop every later segment); restore \(first.file) from a copy")
        }
        guard first.offset >= UInt64(JournalFormat.segmentHeaderSize) else {
            return .notCuttable(first, reason: "the damage is in the header of \(name): a cut there would remove the whole segment; restore it from a copy")
        }
        // Scanned as opening scans it: the cut goes where the writer stops.
        let file = try FileDescriptor.open(paths.segmentPath(firstPosition: last), flags: O_RDONLY)
        var keptThrough = last
        let scanner = SegmentScanner(file: file, name: name, maximumPayload: JournalFormat.maximumPayloadBytes)
        do {
            _ = try scanner.scan(expecting: .init(journalID: nil, firstPosition: last, previousChainHash: nil), tailMayBePreallocated: true,
                                 onFrame: { h, _ in keptThrough = h.firstPosition + UInt64(h.eventCount) })
        } catch JournalError.corrupt(let damage) {
            let size = try file.size()
            return .cuttable(Plan(segment: name, offset: damage.offset, bytes: size - damage.offset, damage: damage, keptThrough: keptThrough,
                                  framesAfter: try soundFrames(in: file, after: damage.offset, limit: size),
                                  checkpointsAfter: Checkpoint.files(inJournal: paths.path).compactMap { entry in
                                      guard case .success(let c) = entry.checkpoint, c.position > keptThrough else { return nil }
                                      return entry.name
                                  }))
        }
        return .notCuttable(first, reason: "opening does not stop at this finding, so a cut would not help; see `registre verify`")
    }

    /// The journal's lock, held; nil when there is no lock file and `creating` is false.
    /// Examining (`creating` false) a copy this user may not write goes on without it: no writer
    /// of this user's can hold that copy either.
    private static func holdLock(_ paths: JournalDirectory, creating: Bool) throws -> FileDescriptor? {
        guard creating || FileManager.default.fileExists(atPath: paths.lockPath) else { return nil }
        if !creating, access(paths.lockPath, W_OK) != 0 { return nil }
        let lock = try FileDescriptor.open(paths.lockPath, flags: O_RDWR | (creating ? O_CREAT : 0), mode: 0o644)
        guard lock.lockExclusively() else { throw JournalError.locked(path: paths.lockPath) }
        return lock
    }

    private static func makeDirectory(_ path: String, in parent: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        }
        try FileDescriptor.syncDirectory(parent)
    }

    /// Copies `length` bytes at `offset` of `file` durably to `path`, through a temporary file
    /// and a rename, a chunk at a time (the tail of a hostile, sparse file may be huge). A file
    /// already there with the same bytes (a cut that a crash interrupted) is kept; one with other
    /// bytes is kept too, and these go beside it under a numbered name.
    private static func keep(_ length: UInt64, bytesAt offset: UInt64, of file: FileDescriptor, as path: String) throws -> String {
        var final = path
        var k = 1
        while FileManager.default.fileExists(atPath: final) {
            if try holds(final, length, bytesAt: offset, of: file) { return final }
            k += 1
            final = path + ".\(k)"
        }
        let temporary = final + ".tmp"
        let out = try FileDescriptor.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        try forEachChunk(length, bytesAt: offset, of: file) { chunk, at in try out.writeAll(chunk, at: at) }
        try out.syncData()
        guard rename(temporary, final) == 0 else { throw JournalError.io(operation: "rename", path: final, errno: errno) }
        try FileDescriptor.syncDirectory((final as NSString).deletingLastPathComponent)
        return final
    }

    /// Whether the regular file at `path` holds exactly those bytes.
    private static func holds(_ path: String, _ length: UInt64, bytesAt offset: UInt64, of file: FileDescriptor) throws -> Bool {
        guard let kept = try? FileDescriptor.open(path, flags: O_RDONLY), try kept.size() == length else { return false }
        var same = true
        var theirs = [UInt8](repeating: 0, count: chunkBytes)
        try forEachChunk(length, bytesAt: offset, of: file) { chunk, at in
            guard same else { return }
            let n = try theirs.withUnsafeMutableBytes { try kept.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<chunk.count]), at: at) }
            same = n == chunk.count && theirs.withUnsafeBytes { $0[0..<n].elementsEqual(chunk) }
        }
        return same
    }

    private static let chunkBytes = 1 << 20

    /// Calls `body` with each chunk of `length` bytes at `offset` of `file` and where it goes in
    /// the copy; throws when the file ends first.
    private static func forEachChunk(_ length: UInt64, bytesAt offset: UInt64, of file: FileDescriptor,
                                     _ body: (UnsafeRawBufferPointer, UInt64) throws -> Void) throws {
        var chunk = [UInt8](repeating: 0, count: chunkBytes)
        var done: UInt64 = 0
        while done < length {
            let want = Int(min(UInt64(chunkBytes), length - done))
            let n = try chunk.withUnsafeMutableBytes { try file.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want]), at: offset + done) }
            guard n == want else { throw JournalError.repairRefused("\(file.path) ended while its last \(length) bytes were copied; examine it again") }
            try chunk.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<want]), done) }
            done += UInt64(want)
        }
    }

    /// The sound frames in `offset..<limit`, skipping what is not one.
    private static func soundFrames(in file: FileDescriptor, after offset: UInt64, limit: UInt64) throws -> [FrameSpan] {
        let cursor = FrameCursor(file: file, from: offset, limit: limit, maximumPayload: JournalFormat.maximumPayloadBytes)
        var frames: [FrameSpan] = []
        var bad = offset
        while true {
            // The search is bounded: past its budget, the rest is quarantined unlisted.
            guard let found = try? cursor.findSoundFrame(after: bad) else { return frames }
            cursor.seek(to: found)
            scan: while true {
                switch try cursor.next() {
                case .end:
                    return frames
                case .frame(let header, _, _):
                    frames.append(FrameSpan(firstPosition: header.firstPosition, eventCount: header.eventCount))
                case .incomplete(let at, _), .invalid(let at, _, _):
                    if try cursor.onlyZeros(from: at) { return frames }
                    bad = at
                    break scan
                }
            }
        }
    }
}
