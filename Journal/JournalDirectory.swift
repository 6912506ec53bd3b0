import Foundation

/// The files of a journal directory: segments at the top, index files under `index/`.
struct JournalDirectory: Sendable {
    let path: String

    var indexDirectory: String { path + "/index" }
    var checkpointDirectory: String { path + "/checkpoints" }
    var lockPath: String { path + "/LOCK" }

    func segmentPath(firstPosition: UInt64) -> String { path + "/" + JournalFormat.segmentName(firstPosition: firstPosition) }
    func indexPath(firstPosition: UInt64) -> String { indexDirectory + "/" + JournalFormat.indexName(firstPosition: firstPosition) }

    /// First positions of every segment, in order. Unknown files are left alone.
    func segmentFirstPositions() throws -> [UInt64] {
        let names: [String]
        do {
            names = try DirectoryListing.names(in: path)
        } catch {
            throw JournalError.notAJournal(path: path, reason: "cannot list the directory (\(String(cString: strerror(error.errno))))")
        }
        return names.compactMap(JournalFormat.firstPosition(ofSegmentNamed:)).sorted()
    }

    var exists: Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}

/// The in-memory index of the segment being written: frames, ids and stream runs.
/// Its events move to a memory-mapped `SegmentIndex` when the segment is sealed.
struct OpenSegmentTable {
    var firstPosition: UInt64
    var framePositions: [UInt64] = []
    var frameOffsets: [UInt64] = []
    /// Event id hash → position; confirm a candidate by reading the event.
    var idPositions = PositionTable()
    var eventIDs: [UUID] = []
    var streams = StreamRuns()

    init(firstPosition: UInt64) { self.firstPosition = firstPosition }

    var eventCount: Int { eventIDs.count }

    mutating func addFrame(firstPosition: UInt64, offset: UInt64) {
        framePositions.append(firstPosition)
        frameOffsets.append(offset)
    }

    /// `streamHash` is `StreamRuns.hash` of the stream id, computed once per append by the writer.
    mutating func addEvent(position: UInt64, stream: UnsafeRawBufferPointer, streamHash: UInt64, version: UInt64, id: UUID) {
        idPositions.insert(hash: IndexHash.hash(id), value: position)
        eventIDs.append(id)
        streams.add(position: position, version: version, stream: stream, hash: streamHash)
    }

    /// The same for an event read back from the segment, without making a `String` of its stream.
    mutating func addEvent(_ view: EventView) {
        let id = view.id
        idPositions.insert(hash: IndexHash.hash(id), value: view.position)
        eventIDs.append(id)
        streams.add(position: view.position, version: view.version, stream: view.streamBytes)
    }

    func candidatePositions(forEventID id: UUID) -> [UInt64] {
        var out: [UInt64] = []
        idPositions.forEachCandidate(hash: IndexHash.hash(id)) { out.append($0); return true }
        return out
    }

    func lastVersion(of stream: String) -> UInt64? {
        streams.run(of: stream)?.lastVersion
    }

    func frame(containing position: UInt64) -> (firstPosition: UInt64, offset: UInt64)? {
        guard position >= firstPosition, !framePositions.isEmpty else { return nil }
        var lo = 0, hi = framePositions.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if framePositions[mid] <= position { lo = mid } else { hi = mid - 1 }
        }
        return (framePositions[lo], frameOffsets[lo])
    }

    func indexContents(segmentLength: UInt64, segmentChecksum: UInt32, chainHash: Digest32, lastRecordedAt: Int64, merkle: MerkleFrontier) -> SegmentIndexContents {
        var c = SegmentIndexContents(firstPosition: firstPosition, segmentLength: segmentLength, chainHash: chainHash,
                                     lastRecordedAt: lastRecordedAt, merkle: merkle, segmentChecksum: segmentChecksum)
        c.framePositions = framePositions
        c.frameOffsets = frameOffsets
        c.eventIDs = eventIDs
        c.streams = streams
        return c
    }
}

/// A sealed segment: its file, open for reading, and its memory-mapped index.
final class SealedSegment: Sendable {
    let index: SegmentIndex
    let file: FileDescriptor
    let name: String

    init(index: SegmentIndex, file: FileDescriptor, name: String) {
        self.index = index
        self.file = file
        self.name = name
    }
}
