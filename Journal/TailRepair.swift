import Foundation

/// The operator's way out when the writer refuses to open a journal because of damage in its
/// last segment: bad bytes with sound frames after them (a flipped bit in a frame that was
/// acknowledged, or a power loss in relaxed durability that kept later pages and not earlier
/// ones). Opening never cuts such bytes by itself, since they may hold acknowledged events;
/// this cuts them only when asked, and keeps every byte it removes in a quarantine file.
///
/// Only the last segment is ever cut: damage in a sealed segment sits under later history,
/// and cutting there would drop every segment after it (restore that segment from a copy).
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
        /// Events before the cut stay: positions `0..<keptThrough`.
        public var keptThrough: UInt64
        /// Sound frames after the damage, which the cut also removes (and quarantines): the
        /// events they hold may have been acknowledged.
        public var framesAfter: [(firstPosition: UInt64, eventCount: UInt32)]
        public var eventsAfter: UInt64 { framesAfter.reduce(0) { $0 + UInt64($1.eventCount) } }

        public static func == (a: Plan, b: Plan) -> Bool {
            a.segment == b.segment && a.offset == b.offset && a.bytes == b.bytes && a.damage == b.damage && a.keptThrough == b.keptThrough
                && a.framesAfter.elementsEqual(b.framesAfter) { $0.firstPosition == $1.firstPosition && $0.eventCount == $1.eventCount }
        }
    }

    public enum Finding: Sendable, Equatable {
        /// The last segment has no damage that stops the writer (a torn tail, which opening cuts
        /// by itself, is not such damage).
        case nothingToCut
        /// Damage the last segment can be cut at.
        case cuttable(Plan)
        /// Damage this must not cut: the reason says what to do instead.
        case notCuttable(JournalDamage, reason: String)
    }

    /// Looks at the last segment; changes nothing.
    public static func examine(directory: String) throws -> Finding {
        let paths = JournalDirectory(path: directory)
        guard paths.exists else { throw JournalError.notAJournal(path: directory, reason: "no such directory") }
        let starts = try paths.segmentFirstPositions()
        guard let last = starts.last else { throw JournalError.notAJournal(path: directory, reason: "it holds no segment files (*.seg)") }
        let name = JournalFormat.segmentName(firstPosition: last)
        let path = paths.segmentPath(firstPosition: last)
        if try Journal.isUnfinishedSegment(path: path, name: name) { return .nothingToCut }
        let file = try FileDescriptor.open(path, flags: O_RDONLY)
        let scanner = SegmentScanner(file: file, name: name, maximumPayload: JournalFormat.maximumPayloadBytes)
        do {
            _ = try scanner.scan(expecting: .init(journalID: nil, firstPosition: last, previousChainHash: nil), tailMayBePreallocated: true)
            return .nothingToCut
        } catch JournalError.corrupt(let damage) {
            guard damage.offset >= UInt64(JournalFormat.segmentHeaderSize) else {
                return .notCuttable(damage, reason: "the damage is in the segment's header: cutting there would remove the whole segment; restore \(name) from a copy")
            }
            let size = try file.size()
            return .cuttable(Plan(segment: name, offset: damage.offset, bytes: size - damage.offset, damage: damage,
                                  keptThrough: damage.position ?? last, framesAfter: try soundFrames(in: file, after: damage.offset, limit: size)))
        }
    }

    /// Moves the bytes from `plan.offset` to the end of the segment into
    /// `quarantine/<segment>.<offset>.cut` (made durable first), then cuts the segment there and
    /// makes that durable. Refuses while a writer holds the journal, and when the segment is no
    /// longer what `plan` describes. Returns the quarantine file's path.
    @discardableResult
    public static func cut(directory: String, as plan: Plan) throws -> String {
        let paths = JournalDirectory(path: directory)
        let lock = try FileDescriptor.open(paths.lockPath, flags: O_RDWR | O_CREAT, mode: 0o644)
        guard lock.lockExclusively() else { throw JournalError.locked(path: paths.lockPath) }
        defer { lock.unlock() }
        guard case .cuttable(let current) = try examine(directory: directory), current == plan else {
            throw JournalError.writerFailed(reason: "the journal changed since it was examined; examine it again")
        }
        let path = directory + "/" + plan.segment
        let file = try FileDescriptor.open(path, flags: O_RDWR)
        var removed = [UInt8](repeating: 0, count: Int(plan.bytes))
        let n = try removed.withUnsafeMutableBytes { try file.read(into: $0, at: plan.offset) }
        guard UInt64(n) == plan.bytes else { throw JournalError.io(operation: "read", path: path, errno: EIO) }

        let quarantine = directory + "/quarantine"
        if !FileManager.default.fileExists(atPath: quarantine) {
            try FileManager.default.createDirectory(atPath: quarantine, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        }
        try FileDescriptor.syncDirectory(directory)
        let kept = quarantine + "/\(plan.segment).\(plan.offset).cut"
        let out = try FileDescriptor.open(kept, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
        try out.writeAll(removed, at: 0)
        try out.syncData()
        try FileDescriptor.syncDirectory(quarantine)

        try file.truncate(to: plan.offset)
        try file.syncData()
        try FileDescriptor.syncDirectory(directory)
        return kept
    }

    /// The sound frames in `offset..<limit`, skipping what is not one.
    private static func soundFrames(in file: FileDescriptor, after offset: UInt64, limit: UInt64) throws -> [(firstPosition: UInt64, eventCount: UInt32)] {
        let cursor = FrameCursor(file: file, from: offset, limit: limit, maximumPayload: JournalFormat.maximumPayloadBytes)
        var frames: [(firstPosition: UInt64, eventCount: UInt32)] = []
        var bad = offset
        while true {
            // A bound on the search: damage that is not worth reading further is quarantined whole.
            guard let found = try? cursor.findSoundFrame(after: bad) else { return frames }
            cursor.seek(to: found)
            scan: while true {
                switch try cursor.next() {
                case .end:
                    return frames
                case .frame(let header, _, _):
                    frames.append((header.firstPosition, header.eventCount))
                case .incomplete(let at, _), .invalid(let at, _, _):
                    if try cursor.onlyZeros(from: at) { return frames }
                    bad = at
                    break scan
                }
            }
        }
    }
}
