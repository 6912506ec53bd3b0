import Foundation

/// Validates one segment from its header to its last frame, and classifies the first problem.
///
/// The rule recovery depends on: bytes that fail to form a sound frame at the very end of the
/// last segment are a torn tail (a write that was never acknowledged, because the writer syncs
/// each frame before writing the next); a bad frame with a sound frame after it, or anything
/// wrong in a sealed segment, is damage that must never be dropped silently.
struct SegmentScanner {
    enum Tail: Equatable {
        case clean
        /// The segment ends in bytes that are not a sound frame and nothing sound follows them.
        case torn(offset: UInt64, reason: String)
        /// The open segment's last frame is followed by zero bytes up to the end of the file: space
        /// the writer preallocated so that its syncs do not change the file size. Not a torn write.
        case preallocated(offset: UInt64)
    }

    struct Result {
        var header: SegmentHeader
        var validEnd: UInt64
        var nextPosition: UInt64
        var chainHash: Digest32
        var lastRecordedAt: Int64
        var frameCount: Int
        var tail: Tail
    }

    struct Expectations {
        var journalID: UUID?
        var firstPosition: UInt64?
        var previousChainHash: Digest32?
    }

    let file: FileDescriptor
    let name: String
    let maximumPayload: Int

    /// Scans the segment. `onFrame` sees each sound frame's header and offset; `onEvent` each
    /// record. Throws `JournalError.corrupt` for damage, never for a torn tail. Only the open
    /// segment may end in preallocated zeros (`tailMayBePreallocated`); in a sealed one they are a cut.
    func scan(expecting expectations: Expectations, limit: UInt64? = nil, tailMayBePreallocated: Bool = false,
              merkle: UnsafeMutablePointer<MerkleFrontier>? = nil,
              onFrame: (FrameHeader, UInt64) -> Void = { _, _ in },
              onEvent: (EventView) throws -> Void = { _ in }) throws -> Result {
        let size = try limit ?? file.size()
        var headerBytes = [UInt8](repeating: 0, count: JournalFormat.segmentHeaderSize)
        let n = try headerBytes.withUnsafeMutableBytes { (raw) throws in try file.read(into: raw, at: 0) }
        func damage(_ kind: JournalDamage.Kind, _ offset: UInt64, _ position: UInt64?, _ detail: String) -> JournalError {
            .corrupt(JournalDamage(kind: kind, file: name, offset: offset, position: position, detail: detail))
        }
        guard n == JournalFormat.segmentHeaderSize else {
            throw damage(.badSegmentHeader, 0, nil, "the file is \(n) bytes, shorter than the \(JournalFormat.segmentHeaderSize)-byte segment header")
        }
        let header: SegmentHeader
        do {
            header = try headerBytes.withUnsafeBytes { (raw) throws(SegmentHeader.DecodeFailure) in try SegmentHeader.decode(raw) }
        } catch {
            throw damage(.badSegmentHeader, 0, nil, "segment header unreadable (\(error))")
        }
        if let id = expectations.journalID, id != header.journalID {
            throw damage(.foreignSegment, 0, header.firstPosition, "segment belongs to journal \(header.journalID), not \(id)")
        }
        if let first = expectations.firstPosition, first != header.firstPosition {
            throw damage(.positionGap, 0, first, "segment starts at position \(header.firstPosition) but the previous one ends at \(first)")
        }
        if let previous = expectations.previousChainHash, previous != header.previousChainHash {
            throw damage(.brokenChain, 0, header.firstPosition, "segment continues chain hash \(header.previousChainHash.hex.prefix(16))… but the previous segment ends with \(previous.hex.prefix(16))…")
        }

        let cursor = FrameCursor(file: file, from: UInt64(JournalFormat.segmentHeaderSize), limit: size, maximumPayload: maximumPayload)
        var result = Result(header: header, validEnd: UInt64(JournalFormat.segmentHeaderSize), nextPosition: header.firstPosition,
                            chainHash: header.previousChainHash, lastRecordedAt: Int64.min, frameCount: 0, tail: .clean)
        while true {
            let step = try cursor.next()
            switch step {
            case .end:
                return result
            case .invalid(let offset, let kind, let reason) where cursor.lastChecksumHeld:
                // The frame's CRC held: these bytes were written whole, so no torn write made
                // them, and cutting them could drop an acknowledged frame.
                throw damage(kind, offset, result.nextPosition, "\(reason); the frame's checksum is sound, so this is damage, not a torn tail")
            case .incomplete(let offset, let reason), .invalid(let offset, _, let reason):
                if tailMayBePreallocated, try cursor.onlyZeros(from: offset) {
                    result.tail = .preallocated(offset: offset)
                    return result
                }
                if let later = try cursor.findSoundFrame(after: offset) {
                    let kind: JournalDamage.Kind
                    if case .invalid(_, let k, _) = step { kind = k } else { kind = .midSegmentGarbage }
                    throw damage(kind, offset, result.nextPosition, "\(reason); a sound frame follows at byte \(later), so this is not a torn tail")
                }
                result.tail = .torn(offset: offset, reason: reason)
                return result
            case .frame(let frame, let offset, let payload):
                guard frame.firstPosition == result.nextPosition else {
                    throw damage(.positionGap, offset, result.nextPosition, "frame starts at position \(frame.firstPosition), expected \(result.nextPosition)")
                }
                let chain = FrameHeader.chainHash(previous: result.chainHash, firstPosition: frame.firstPosition, eventCount: frame.eventCount, payload: payload)
                guard chain == frame.chainHash else {
                    throw damage(.brokenChain, offset, frame.firstPosition, "frame chain hash does not follow from the previous frame's")
                }
                var lastRecordedAt = result.lastRecordedAt
                do {
                    try RecordCodec.forEachRecord(in: payload, firstPosition: frame.firstPosition, eventCount: frame.eventCount) { view in
                        // A stream's version v is at global position v or later; the writer adds
                        // one to the last version it finds, which must not overflow.
                        guard view.version <= view.position else {
                            throw damage(.badRecord, offset, view.position, "the event at position \(view.position) has version \(view.version), past its position")
                        }
                        lastRecordedAt = max(lastRecordedAt, view.recordedAtMicros)
                        if let merkle { merkle.pointee.append(leaf: MerkleHash.leaf(view.record)) }
                        try onEvent(view)
                    }
                } catch let e as RecordCodec.Malformed {
                    throw damage(.badRecord, offset, frame.firstPosition, "records do not decode (\(e))")
                }
                onFrame(frame, offset)
                result.lastRecordedAt = lastRecordedAt
                result.chainHash = chain
                result.nextPosition += UInt64(frame.eventCount)
                result.validEnd = cursor.offset
                result.frameCount += 1
            }
        }
    }
}
