import Foundation

/// Reads a journal directory without the writer's lock: for offline tools, and for reading a
/// journal that a live writer (another process) is appending to, or a read-only copy.
///
/// It sees only complete frames: at the end of the last segment, bytes that do not form a sound
/// frame yet are a write in progress and are left alone. Anything wrong in a sealed segment is
/// damage and throws.
public final class JournalReader {
    public let directory: String
    private let paths: JournalDirectory
    private let maximumPayload: Int

    public init(directory: String) throws {
        self.directory = directory
        paths = JournalDirectory(path: directory)
        guard paths.exists else { throw JournalError.notAJournal(path: directory, reason: "no such directory") }
        maximumPayload = JournalFormat.maximumPayloadBytes
        guard try !paths.segmentFirstPositions().isEmpty else {
            throw JournalError.notAJournal(path: directory, reason: "it holds no segment files (*.seg)")
        }
    }

    /// The journal's id, from its first segment's header: what a checkpoint must name to say
    /// anything about this journal.
    public func journalID() throws -> UUID {
        guard let first = try paths.segmentFirstPositions().first else {
            throw JournalError.notAJournal(path: directory, reason: "it holds no segment files (*.seg)")
        }
        let file = try FileDescriptor.open(paths.segmentPath(firstPosition: first), flags: O_RDONLY)
        return try Journal.readHeader(file, name: JournalFormat.segmentName(firstPosition: first)).journalID
    }

    /// Visits events in order from `position`; `body` returns false to stop. Returns the position
    /// after the last event visited, from which a later call can resume (to follow a live journal).
    @discardableResult
    public func forEachEvent(from position: UInt64 = 0, _ body: (EventView) throws -> Bool) throws -> UInt64 {
        var next = position
        let starts = try paths.segmentFirstPositions()
        guard var k = starts.lastIndex(where: { $0 <= position }) else { return next }
        while k < starts.count {
            let first = starts[k]
            let name = JournalFormat.segmentName(firstPosition: first)
            let isLast = k == starts.count - 1
            if isLast, try Journal.isUnfinishedSegment(path: paths.segmentPath(firstPosition: first), name: name) { return next }
            let file = try FileDescriptor.open(paths.segmentPath(firstPosition: first), flags: O_RDONLY)
            let header = try Journal.readHeader(file, name: name)
            guard header.firstPosition == first else {
                throw JournalError.corrupt(JournalDamage(kind: .badSegmentHeader, file: name, offset: 0, position: first, detail: "file name and header disagree on the first position (\(header.firstPosition))"))
            }
            var startOffset = UInt64(JournalFormat.segmentHeaderSize)
            // An index whose segment length differs belongs to the other layout of this segment
            // (the writer packs sealed segments, renaming the index and the segment one after the
            // other): its offsets would not point at frames here, so read from the start instead.
            if next > first, let index = try? SegmentIndex(path: paths.indexPath(firstPosition: first), name: name),
               index.segmentLength == (try file.size()), let frame = index.frame(containing: next) {
                startOffset = frame.offset
            }
            var cursor = FrameCursor(file: file, from: startOffset, limit: try file.size(), maximumPayload: maximumPayload)
            var rereadAt: UInt64? = nil
            var keepGoing = true
            frames: while keepGoing {
                switch try cursor.next() {
                case .end:
                    break frames
                case .invalid(let offset, let kind, let reason) where cursor.lastChecksumHeld:
                    // Its CRC held, so it was written whole: never a write in progress.
                    throw JournalError.corrupt(JournalDamage(kind: kind, file: name, offset: offset, position: next,
                                                             detail: "\(reason); the frame's checksum is sound, so this is damage, not a torn tail"))
                case .incomplete(let offset, let reason), .invalid(let offset, _, let reason):
                    // The tail of the live segment may be a write in progress; a later segment
                    // existing means this one was sealed, and then nothing may be wrong.
                    let sealedNow = try paths.segmentFirstPositions().contains { $0 > first }
                    if isLast && !sealedNow {
                        // The end of what the writer has written, unless a sound frame lies
                        // beyond: then these bytes are damage (FORMAT.md, section 5), once a
                        // fresh read shows they were not a write in flight.
                        guard try cursor.findSoundFrame(after: offset, position: next) != nil else { return next }
                        if rereadAt != offset {
                            rereadAt = offset
                            cursor = FrameCursor(file: file, from: offset, limit: try file.size(), maximumPayload: maximumPayload)
                            continue frames
                        }
                        throw JournalError.corrupt(JournalDamage(kind: .midSegmentGarbage, file: name, offset: offset, position: next,
                                                                 detail: "bytes that are not a sound frame (\(reason)) lie before a sound frame"))
                    }
                    if isLast && sealedNow && rereadAt != offset {
                        // Read again with fresh buffers: what we saw may have been a write in flight.
                        rereadAt = offset
                        cursor = FrameCursor(file: file, from: offset, limit: try file.size(), maximumPayload: maximumPayload)
                        continue frames
                    }
                    throw JournalError.corrupt(JournalDamage(kind: .truncatedSealedSegment, file: name, offset: offset, position: next, detail: reason))
                case .frame(let header, let offset, let payload):
                    let end = header.firstPosition + UInt64(header.eventCount)
                    if end <= next { continue frames }
                    guard header.firstPosition <= next else {
                        throw JournalError.corrupt(JournalDamage(kind: .positionGap, file: name, offset: offset, position: next, detail: "frame starts at position \(header.firstPosition), expected \(next)"))
                    }
                    do {
                        try RecordCodec.forEachRecord(in: payload, firstPosition: header.firstPosition, eventCount: header.eventCount) { view in
                            guard keepGoing, view.position >= next else { return }
                            keepGoing = try body(view)
                            next = view.position + 1
                        }
                    } catch let malformed as RecordCodec.Malformed {
                        throw JournalError.corrupt(JournalDamage(kind: .badRecord, file: name, offset: offset, position: header.firstPosition, detail: "records do not decode (\(malformed))"))
                    }
                    if keepGoing { next = end }
                }
            }
            if !keepGoing { return next }
            if isLast {
                // The writer may have sealed this segment and started another while we read.
                let now = try paths.segmentFirstPositions()
                if now.count > starts.count, now[k] == first {
                    return try forEachEvent(from: next, body)
                }
            }
            k += 1
        }
        return next
    }

    /// Materialised events from `position`, at most `limit`.
    public func read(from position: UInt64 = 0, limit: Int = .max) throws -> [RecordedEvent] {
        var out: [RecordedEvent] = []
        try forEachEvent(from: position) { view in
            out.append(view.materialize())
            return out.count < limit
        }
        return out
    }
}
