import Foundation

/// The result of a read-only verification: every finding, not only the first.
public struct VerificationReport: Sendable {
    /// Damage: the journal is not what was acknowledged.
    public var findings: [JournalDamage] = []
    /// Things that are not damage, such as a torn tail that the next writer will truncate.
    public var notes: [String] = []
    /// From the first readable segment header.
    public var journalID: UUID?
    public var segmentCount = 0
    public var frameCount = 0
    public var eventCount: UInt64 = 0
    public var bytes: UInt64 = 0
    public var chainHash = Digest32.zero
    public var merkleRoot = MerkleHash.empty
    public var isClean: Bool { findings.isEmpty }
}

/// A sound frame as verification passes it, for checks layered on top (the audit): where it is,
/// what it holds, and the chain hash and Merkle frontier after it. Valid only during the call.
public struct VerifiedFrame {
    public let file: String
    public let offset: UInt64
    public let firstPosition: UInt64
    public let eventCount: UInt32
    /// The chain hash stored in the frame (reported as a finding when it does not follow).
    public let chainHash: Digest32
    /// Over every event up to the end of this frame.
    public let merkle: MerkleFrontier
    /// False when the records did not decode (already reported); `forEachEvent` then visits none.
    public let recordsDecoded: Bool
    public let payload: UnsafeRawBufferPointer
    /// For each event of the frame, in order, a number naming its stream: equal numbers, equal
    /// streams, for the whole verification. Numbers are dense from 0 in order of first
    /// appearance, so `number % n` spreads streams evenly over `n` workers. Empty when the
    /// records did not decode.
    public let streamNumbers: UnsafeBufferPointer<UInt32>

    public func forEachEvent(_ body: (EventView) throws -> Void) rethrows {
        guard recordsDecoded else { return }
        try? RecordCodec.forEachRecord(in: payload, firstPosition: firstPosition, eventCount: eventCount) { try body($0) }
    }
}

/// Checks a journal without modifying it: headers, every frame's CRC and chain hash, gapless
/// positions, gapless stream versions, and each sealed segment's index against its log. After a
/// finding it resynchronises on the next sound frame, so one bad byte does not hide another.
public enum JournalVerifier {
    public static func verify(directory: String, progress: (UInt64) -> Void = { _ in },
                              observe: (VerifiedFrame) -> Void = { _ in }) throws -> VerificationReport {
        let paths = JournalDirectory(path: directory)
        guard paths.exists else { throw JournalError.notAJournal(path: directory, reason: "no such directory") }
        let starts = try paths.segmentFirstPositions()
        guard !starts.isEmpty else { throw JournalError.notAJournal(path: directory, reason: "it holds no segment files (*.seg)") }
        let maximumPayload = JournalFormat.maximumPayloadBytes
        var report = VerificationReport()
        var journalID: UUID? = nil
        var position: UInt64 = 0
        var chain = Digest32.zero
        var merkle = MerkleFrontier()
        var streams = StreamVersionTable()
        var frameStreams: [UInt32] = []
        var nameHashes: [UInt64] = []
        var events = SegmentEvents()
        var indexCheck = IndexCheck()
        var leaves = FrameLeaves()

        for (k, first) in starts.enumerated() {
            let name = JournalFormat.segmentName(firstPosition: first)
            let isLast = k == starts.count - 1
            func finding(_ kind: JournalDamage.Kind, _ offset: UInt64, _ position: UInt64?, _ detail: String) {
                report.findings.append(JournalDamage(kind: kind, file: name, offset: offset, position: position, detail: detail))
            }
            report.segmentCount += 1
            let file = try FileDescriptor.open(paths.segmentPath(firstPosition: first), flags: O_RDONLY)
            let size = try file.size()
            report.bytes += size
            if isLast, try Journal.isUnfinishedSegment(path: paths.segmentPath(firstPosition: first), name: name) {
                report.notes.append("\(name): \(size) bytes and no sound header: a segment whose creation was interrupted; nothing in it was acknowledged, and the writer recreates it on open")
                continue
            }
            let header: SegmentHeader
            do {
                header = try Journal.readHeader(file, name: name)
            } catch let JournalError.corrupt(damage) {
                report.findings.append(damage)
                continue
            }
            if journalID == nil { journalID = header.journalID }
            if header.journalID != journalID { finding(.foreignSegment, 0, first, "segment belongs to journal \(header.journalID), not \(journalID!)") }
            if header.firstPosition != first { finding(.badSegmentHeader, 0, first, "file name says position \(first) but the header says \(header.firstPosition)") }
            if header.firstPosition != position {
                finding(.positionGap, 0, position, "segment starts at position \(header.firstPosition) but the previous one ends at \(position)")
                position = header.firstPosition
            }
            if header.previousChainHash != chain {
                finding(.brokenChain, 0, position, "segment does not continue the chain hash of the previous segment")
                chain = header.previousChainHash
            }
            let merkleAtStart = merkle
            // Only sealed segments have an index to check against; the last one is not indexed on disk.
            events.removeAll()
            var frames: [(position: UInt64, offset: UInt64)] = []
            var segmentEnd = UInt64(JournalFormat.segmentHeaderSize)
            var lastRecordedAt = Int64.min
            let cursor = FrameCursor(file: file, from: UInt64(JournalFormat.segmentHeaderSize), limit: size, maximumPayload: maximumPayload)
            scan: while true {
                let step = try cursor.next()
                // Read now: the search for a later frame below reads other candidates.
                let checksummed = cursor.lastChecksumHeld
                switch step {
                case .end:
                    break scan
                case .incomplete(let offset, let reason), .invalid(let offset, _, let reason):
                    // The open segment's preallocated zeros: the end of its frames, not a cut.
                    if isLast, try cursor.onlyZeros(from: offset) { break scan }
                    let later: UInt64?
                    do {
                        later = try cursor.findSoundFrame(after: offset, position: position)
                    } catch JournalError.corrupt(let damage) {
                        // Too many headers that are not frames to search them all: the rest is damage.
                        finding(damage.kind, offset, position, "\(reason); \(damage.detail)")
                        break scan
                    }
                    if let later {
                        var kind = JournalDamage.Kind.midSegmentGarbage
                        if case .invalid(_, let k, _) = step { kind = k }
                        finding(kind, offset, position, "\(reason); \(later - offset) bytes skipped up to the next sound frame")
                        cursor.seek(to: later)
                        continue scan
                    }
                    if case .invalid(_, let kind, _) = step, checksummed {
                        // Its CRC held: written whole, so no torn write made it (the writer refuses
                        // to open on it rather than cut it), wherever it is.
                        finding(kind, offset, position, "\(reason); the frame's checksum is sound, so this is damage, not a torn tail")
                    } else if isLast {
                        report.notes.append("\(name): \(size - offset) bytes at byte \(offset) after the last sound frame (\(reason)): a torn or in-progress write that was never acknowledged; the writer truncates it on open")
                    } else {
                        // A whole frame or block that fails its checks is that damage, not a cut.
                        var kind = JournalDamage.Kind.truncatedSealedSegment
                        if case .invalid(_, let k, _) = step { kind = k }
                        finding(kind, offset, position, "sealed segment ends in \(size - offset) bytes that are not a sound frame (\(reason))")
                    }
                    break scan
                case .frame(let frame, let offset, let payload):
                    report.frameCount += 1
                    if frame.firstPosition != position {
                        finding(.positionGap, offset, position, "frame starts at position \(frame.firstPosition), expected \(position)")
                        position = frame.firstPosition
                    }
                    leaves.locate(in: payload)
                    let computed = FrameHeader.chainHash(previous: chain, firstPosition: frame.firstPosition, eventCount: frame.eventCount, payload: payload,
                                                         leaves: &leaves)
                    if computed != frame.chainHash {
                        finding(.brokenChain, offset, frame.firstPosition, "frame chain hash does not follow from the previous frame's")
                    }
                    chain = frame.chainHash
                    frames.append((frame.firstPosition, offset))
                    var decoded = true
                    frameStreams.removeAll(keepingCapacity: true)
                    var recordIndex = 0
                    streams.prefetch(streamsOf: payload, hashes: &nameHashes)
                    do {
                        try RecordCodec.forEachRecord(in: payload, firstPosition: frame.firstPosition, eventCount: frame.eventCount) { view in
                            // The head start's hash is this record's: both walks read the same lengths.
                            let slot = recordIndex < nameHashes.count
                                ? streams.slot(of: view.streamBytes, hash: nameHashes[recordIndex]) : streams.slot(of: view.streamBytes)
                            let expected = streams.nextVersion(ofSlot: slot)
                            if view.version != expected {
                                finding(.streamVersionGap, offset, view.position, "event \(view.id.uuidString) has version \(view.version) in stream '\(view.stream)', expected \(expected)")
                            }
                            streams.setNextVersion(view.version &+ 1, ofSlot: slot)
                            frameStreams.append(UInt32(truncatingIfNeeded: slot))
                            merkle.append(leaf: leaves.leaf(recordIndex, of: view.record, in: payload))
                            recordIndex += 1
                            lastRecordedAt = max(lastRecordedAt, view.recordedAtMicros)
                            if !isLast { events.append(id: view.id, position: view.position, version: view.version, stream: UInt32(truncatingIfNeeded: slot)) }
                        }
                    } catch {
                        decoded = false
                        frameStreams.removeAll(keepingCapacity: true)
                        finding(.badRecord, offset, frame.firstPosition, "records do not decode (\(error))")
                    }
                    frameStreams.withUnsafeBufferPointer { numbers in
                        observe(VerifiedFrame(file: name, offset: offset, firstPosition: frame.firstPosition, eventCount: frame.eventCount,
                                              chainHash: frame.chainHash, merkle: merkle, recordsDecoded: decoded, payload: payload, streamNumbers: numbers))
                    }
                    position = frame.firstPosition + UInt64(frame.eventCount)
                    report.eventCount += UInt64(frame.eventCount)
                    segmentEnd = cursor.offset
                }
                progress(report.bytes - size + cursor.offset)
            }
            if !isLast {
                checkIndex(paths: paths, first: first, name: name, segmentEnd: segmentEnd, fileSize: size, chain: chain, merkle: merkle,
                           merkleAtStart: merkleAtStart, frames: frames, events: events, streams: streams, lastRecordedAt: lastRecordedAt,
                           check: &indexCheck, report: &report)
            }
        }
        report.journalID = journalID
        report.chainHash = chain
        report.merkleRoot = merkle.root
        return report
    }

    private static func checkIndex(paths: JournalDirectory, first: UInt64, name: String, segmentEnd: UInt64, fileSize: UInt64, chain: Digest32, merkle: MerkleFrontier,
                                   merkleAtStart: MerkleFrontier, frames: [(position: UInt64, offset: UInt64)],
                                   events: SegmentEvents, streams: StreamVersionTable, lastRecordedAt: Int64,
                                   check: inout IndexCheck, report: inout VerificationReport) {
        let indexName = "index/" + JournalFormat.indexName(firstPosition: first)
        func finding(_ detail: String) {
            report.findings.append(JournalDamage(kind: .badIndex, file: indexName, offset: 0, position: first, detail: detail))
        }
        guard FileManager.default.fileExists(atPath: paths.indexPath(firstPosition: first)) else {
            report.notes.append("\(indexName) is missing; the writer rebuilds it from \(name) on open")
            return
        }
        if let version = SegmentIndex.version(ofFileAt: paths.indexPath(firstPosition: first)), version != SegmentIndex.version {
            report.notes.append("\(indexName) has index version \(version); the writer rebuilds it as version \(SegmentIndex.version) on open")
            return
        }
        let index: SegmentIndex
        do {
            index = try SegmentIndex(path: paths.indexPath(firstPosition: first), name: indexName, readingChecksum: .mapping)
        } catch {
            finding("unreadable: \(error)")
            return
        }
        if index.segmentLength != fileSize {
            // The index of the segment's other layout (packed or not): a crash between the two
            // renames of a pack, or a pack that happened while this verification read the files.
            // Readers ignore such an index and the writer rebuilds it (FORMAT.md, section 9).
            report.notes.append("\(indexName) records a segment of \(index.segmentLength) bytes, but \(name) has \(fileSize): it indexes the segment's other layout (packed or not), so readers ignore it and the writer rebuilds it on open")
            return
        }
        if index.segmentLength != segmentEnd { finding("records a segment of \(index.segmentLength) bytes, but its sound frames end at \(segmentEnd)") }
        if index.eventCount != UInt64(events.count) { finding("records \(index.eventCount) events, the segment holds \(events.count)") }
        if index.chainHash != chain { finding("records a different final chain hash than the segment's") }
        if index.merkle != merkle { finding("records a Merkle frontier that does not match the events") }
        // The writer takes its clock floor from here on open: a later time would stamp every new
        // event with it, and a signed checkpoint would then cover the forged times.
        if index.lastRecordedAt != lastRecordedAt {
            finding("records \(index.lastRecordedAt) as the last recorded time (µs), but the segment's last event was recorded at \(lastRecordedAt)")
        }
        if index.frameCount != frames.count { finding("records \(index.frameCount) frames, the segment holds \(frames.count)"); return }
        for (i, f) in frames.enumerated() where index.frameEntry(i) != (f.position, f.offset) {
            finding("frame \(i) is recorded at position \(index.frameEntry(i).firstPosition), byte \(index.frameEntry(i).offset); the segment has it at position \(f.position), byte \(f.offset)")
            return
        }
        check.check(events, against: index, streams: streams, finding: finding)
    }

    /// Indexes of `hashes` ordered by their top 16 bits (a counting sort): the order in which the
    /// index's fan-out and hash tables lie on disk, to within one small bucket.
    static func hashOrder(_ hashes: [UInt64]) -> [Int] {
        var order: [Int] = [], starts: [Int] = []
        hashOrder(hashes, into: &order, starts: &starts)
        return order
    }

    /// The same order, written into `order`, with `starts` as scratch: both keep their storage
    /// from one call to the next.
    static func hashOrder(_ hashes: [UInt64], into order: inout [Int], starts: inout [Int]) {
        starts.removeAll(keepingCapacity: true)
        starts.append(contentsOf: repeatElement(0, count: (1 << 16) + 1))
        for h in hashes { starts[Int(h >> 48) + 1] += 1 }
        for i in 1..<starts.count { starts[i] += starts[i - 1] }
        order.removeAll(keepingCapacity: true)
        order.append(contentsOf: repeatElement(0, count: hashes.count))
        for (k, h) in hashes.enumerated() {
            let b = Int(h >> 48)
            order[starts[b]] = k
            starts[b] += 1
        }
    }
}
